// Which programs a PATH holds, found by reading its folders: nothing is run. A folder's listing is
// kept until the folder changes (its mtime moves whenever an entry is added, removed or renamed),
// so a request costs one stat per PATH folder.

import { accessSync, constants, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

interface Listing {
  mtimeMs: number;
  names: Set<string>;
}

/** Folders whose listings are kept; a PATH rarely has more than twenty. */
const MAX_FOLDERS = 64;
const listings = new Map<string, Listing>();

/**
 * The folders a PATH names, in order, each once. Empty and relative entries mean "the current
 * folder" to a shell, which caro does not count as installed programs.
 */
export function pathFolders(path: string | undefined): string[] {
  return [...new Set((path ?? "").split(":").filter((dir) => dir.startsWith("/")))];
}

/** The names in a folder, from the kept listing while the folder is unchanged; null when it cannot be read. */
function namesIn(dir: string): Set<string> | null {
  let mtimeMs: number;
  try {
    const stat = statSync(dir);
    if (!stat.isDirectory()) return null;
    mtimeMs = stat.mtimeMs;
  } catch {
    listings.delete(dir);
    return null;
  }
  const kept = listings.get(dir);
  if (kept && kept.mtimeMs === mtimeMs) return kept.names;
  let names: Set<string>;
  try {
    names = new Set(readdirSync(dir));
  } catch {
    return null;
  }
  listings.delete(dir);
  listings.set(dir, { mtimeMs, names });
  if (listings.size > MAX_FOLDERS) listings.delete(listings.keys().next().value!);
  return names;
}

/** Is this a file this process may execute (a link to one counts)? */
export function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Where `name` runs from on `path`, as a shell would find it; null when nowhere. */
export function findOnPath(name: string, path: string | undefined): string | null {
  if (name === "" || name.includes("/")) return null;
  for (const dir of pathFolders(path)) {
    if (!namesIn(dir)?.has(name)) continue;
    const full = join(dir, name);
    if (isExecutableFile(full)) return full;
  }
  return null;
}

/**
 * The state of a PATH's folders (each one's mtime), to tell when something found on it may
 * have changed: a program installed or removed changes its folder's mtime.
 */
export function pathStamp(path: string | undefined): string {
  return pathFolders(path)
    .map((dir) => {
      try {
        return `${dir}@${statSync(dir).mtimeMs}`;
      } catch {
        return `${dir}@-`;
      }
    })
    .join(":");
}
