import { closeSync, existsSync, openSync, readSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { resolve } from "node:path";
import { ModelError } from "../errors.js";
import { downloadModel, type DownloadOptions } from "./download.js";
import { cachedModelPath, hfModelOf } from "./hf.js";
import type { Env } from "../config/paths.js";

/** Refuses what llama.cpp would choke on with a vague message: a missing path, a folder, a file that is not GGUF. */
function checkModelFile(path: string): void {
  if (!existsSync(path))
    throw new ModelError(
      `model file not found: ${path}: set --model, $CARO_MODEL or [backends.embedded] model to a GGUF file`,
    );
  const stat = statSync(path);
  if (!stat.isFile()) throw new ModelError(`${path} is not a file: point the model setting at a .gguf file`);
  const magic = Buffer.alloc(4);
  const fd = openSync(path, "r");
  try {
    readSync(fd, magic, 0, 4, 0);
  } finally {
    closeSync(fd);
  }
  if (magic.toString("latin1") !== "GGUF")
    throw new ModelError(
      `${path} is not a GGUF model file: download a .gguf model (for example with caro's default model setting)`,
    );
}

/** A local model path from the setting (not an hf: URI), checked. */
export function resolveModelPath(spec: string, env: Env = process.env): string {
  const path = resolve(spec.replace(/^~(?=\/|$)/, env.HOME || homedir()));
  checkModelFile(path);
  return path;
}

/** The local file the model setting names, downloading a Hugging Face model on first use. */
export async function ensureModelFile(spec: string, options: DownloadOptions = {}): Promise<string> {
  const hf = hfModelOf(spec);
  if (!hf) return resolveModelPath(spec, options.env);
  const path = cachedModelPath(hf, options.env);
  if (!existsSync(path)) await downloadModel(hf, path, options);
  checkModelFile(path);
  return path;
}

/** The file the model setting names, there or not: where a download lands, or the path given. */
export function modelFilePath(spec: string, env: Env = process.env): string {
  const hf = hfModelOf(spec);
  return hf ? cachedModelPath(hf, env) : resolve(spec.replace(/^~(?=\/|$)/, env.HOME || homedir()));
}

/** The file the model setting names if it is on disk now, else null; never downloads (warming's check). */
export function localModelFile(spec: string, env: Env = process.env): string | null {
  const path = modelFilePath(spec, env);
  return existsSync(path) ? path : null;
}
