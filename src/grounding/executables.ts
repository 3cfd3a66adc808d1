// Which programs a PATH holds, found by looking in its folders: nothing is run. A name is looked up
// as a shell does, with a stat in each folder until one holds it: a few microseconds each, where
// reading the folders' listings cost a one-shot `caro check` 3 ms (/usr/bin alone has thousands).

import { accessSync, constants, statSync } from "node:fs";
import { join } from "node:path";

/**
 * The folders a PATH names, in order, each once. Empty and relative entries mean "the current
 * folder" to a shell, which caro does not count as installed programs.
 */
export function pathFolders(path: string | undefined): string[] {
  return [...new Set((path ?? "").split(":").filter((dir) => dir.startsWith("/")))];
}

/** Is this a file this process may execute (a link to one counts)? */
export function isExecutableFile(path: string): boolean {
  try {
    // Most looks miss (the name is in a later folder): no error object made for those.
    if (!statSync(path, { throwIfNoEntry: false })?.isFile()) return false;
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
