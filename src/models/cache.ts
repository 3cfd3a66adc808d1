import { existsSync, readdirSync, rmdirSync, rmSync } from "node:fs";
import { basename, dirname, join, relative, resolve, sep } from "node:path";
import { modelsDir, type Env } from "../config/paths.js";

/**
 * Where a model pulled from an https URL lives: a folder per host and path, as hf: models get one
 * per repository, so two servers' files of the same name stay apart.
 */
export function cachedUrlPath(url: string, env: Env = process.env): string {
  const { host, pathname } = new URL(url);
  // The URL parser has already resolved `.` and `..` segments: none can climb out of the cache.
  return join(modelsDir(env), host, ...pathname.split("/").filter((part) => part !== ""));
}

/** Every downloaded model, as paths relative to the models folder (`user/repo/file.gguf`). */
export function downloadedFiles(env: Env = process.env): string[] {
  const root = modelsDir(env);
  // Walked by hand: readdirSync's `recursive` and `parentPath` are newer than Node 20.0.
  const walk = (folder: string): string[] =>
    readdirSync(folder, { withFileTypes: true }).flatMap((entry) => {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) return walk(path);
      return entry.isFile() && entry.name.endsWith(".gguf") ? [relative(root, path)] : [];
    });
  return existsSync(root) ? walk(root).sort() : [];
}

/**
 * The downloaded files a name means: a path relative to the models folder (as `caro models list`
 * shows it), or a bare file name wherever it lies in the cache.
 */
export function findDownloaded(spec: string, env: Env = process.env): string[] {
  const root = modelsDir(env);
  if (spec.includes("/")) {
    const path = resolve(root, spec);
    return path.startsWith(`${root}${sep}`) && existsSync(path) ? [path] : [];
  }
  return downloadedFiles(env)
    .filter((file) => basename(file) === spec)
    .map((file) => join(root, file));
}

/** Deletes a model with its unfinished downloads, and the folders that held only it. */
export function removeDownloaded(path: string, env: Env = process.env): void {
  for (const file of [path, `${path}.unverified`, `${path}.part`]) rmSync(file, { force: true });
  const root = modelsDir(env);
  for (let folder = dirname(path); folder.startsWith(`${root}${sep}`); folder = dirname(folder)) {
    if (readdirSync(folder).length > 0) break;
    rmdirSync(folder);
  }
}
