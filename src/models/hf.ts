import { basename, join } from "node:path";
import { modelsDir, type Env } from "../config/paths.js";

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

export function hfEndpoint(env: Env = process.env): string {
  return (env.HF_ENDPOINT || "https://huggingface.co").replace(/\/+$/, "");
}

export function hfDownloadUrl(model: HfModel, env: Env = process.env): string {
  const endpoint = hfEndpoint(env);
  return `${endpoint}/${model.user}/${model.repo}/resolve/main/${model.file}`;
}

/** Where a Hugging Face model lives in the cache: its own file name, so users can find it. */
export function cachedModelPath(model: HfModel, env: Env = process.env): string {
  return join(modelsDir(env), basename(model.file));
}

export function manualDownloadCommand(model: HfModel, env: Env = process.env): string {
  const path = cachedModelPath(model, env);
  return `mkdir -p '${modelsDir(env)}' && curl -L -o '${path}' '${hfDownloadUrl(model, env)}'`;
}
