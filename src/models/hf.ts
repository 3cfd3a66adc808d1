import { basename, join } from "node:path";
import { modelsDir } from "../config/paths.js";

/** `hf:user/repo/path/to/file.gguf`, the form the config takes for Hugging Face files. */
export interface HfModel {
  user: string;
  repo: string;
  file: string;
}

export function parseHfUri(spec: string): HfModel | null {
  const match = /^hf:([^/\s]+)\/([^/\s]+)\/(.+\.gguf)$/i.exec(spec);
  return match ? { user: match[1], repo: match[2], file: match[3] } : null;
}

export function hfDownloadUrl(model: HfModel): string {
  const endpoint = (process.env.HF_ENDPOINT || "https://huggingface.co").replace(/\/+$/, "");
  return `${endpoint}/${model.user}/${model.repo}/resolve/main/${model.file}`;
}

/** Where a Hugging Face model lives in the cache: its own file name, so users can find it. */
export function cachedModelPath(model: HfModel): string {
  return join(modelsDir(), basename(model.file));
}

export function manualDownloadCommand(model: HfModel): string {
  const path = cachedModelPath(model);
  return `mkdir -p '${modelsDir()}' && curl -L -o '${path}' '${hfDownloadUrl(model)}'`;
}
