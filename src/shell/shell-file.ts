import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** The path of a file under shell/, which ships beside dist/. */
export function shellFilePath(path: string): string {
  return fileURLToPath(new URL(`../../shell/${path}`, import.meta.url));
}

/** A file under shell/, as text. */
export function shellFile(path: string): string {
  return readFileSync(shellFilePath(path), "utf8");
}
