import { basename, dirname, join } from "node:path";
import { modelsDir, type Env } from "../config/paths.js";
import { shellQuote } from "../text/shell-quote.js";
import { CATALOG, catalogModel } from "./catalog.js";

/** `hf:user/repo/path/to/file.gguf`, the form the config takes for Hugging Face files. */
export interface HfModel {
  user: string;
  repo: string;
  file: string;
}

export function parseHfUri(spec: string): HfModel | null {
  const match = /^hf:([^/\s]+)\/([^/\s]+)\/(.+\.gguf)$/i.exec(spec);
  if (!match) return null;
  // Each part becomes a folder of the cache: `..` would climb out of it.
  const parts = [match[1], match[2], ...match[3].split("/")];
  if (parts.some((part) => part === "." || part === ".." || part === "")) return null;
  return { user: match[1], repo: match[2], file: match[3] };
}

/** The Hugging Face file a model setting names: a catalog name's, or an hf: URI's; null for a local path. */
export function hfModelOf(spec: string): HfModel | null {
  return parseHfUri(catalogModel(spec)?.uri ?? spec);
}

export function hfEndpoint(env: Env = process.env): string {
  return (env.HF_ENDPOINT || "https://huggingface.co").replace(/\/+$/, "");
}

export function hfDownloadUrl(model: HfModel, env: Env = process.env): string {
  const endpoint = hfEndpoint(env);
  return `${endpoint}/${model.user}/${model.repo}/resolve/main/${model.file}`;
}

const isCatalogModel = (model: HfModel) =>
  CATALOG.some((m) => m.uri.toLowerCase() === `hf:${model.user}/${model.repo}/${model.file}`.toLowerCase());

/**
 * Where a Hugging Face model lives in the cache. Catalog models keep their own file name at the top
 * (the path the README's manual download writes); any other repository's file gets a folder per
 * repository, so two repositories' files of the same name never stand in for each other.
 */
export function cachedModelPath(model: HfModel, env: Env = process.env): string {
  if (isCatalogModel(model)) return join(modelsDir(env), basename(model.file));
  return join(modelsDir(env), model.user, model.repo, ...model.file.split("/"));
}

/**
 * The one command that fetches a model by hand. `-f`: an error page is never saved as the model.
 * `-C -`: a second run resumes an interrupted download. It lands as `.part` and takes the model's
 * name only when complete, so a cut-off download is never taken for the model.
 */
export function curlCommand(url: string, path: string): string {
  const [folder, part, file] = [dirname(path), `${path}.part`, path].map(shellQuote);
  return `mkdir -p ${folder} && curl -fL -C - -o ${part} ${shellQuote(url)} && mv ${part} ${file}`;
}

export function manualDownloadCommand(model: HfModel, env: Env = process.env): string {
  return curlCommand(hfDownloadUrl(model, env), cachedModelPath(model, env));
}
