// Fails on a source line over 120 characters. Biome formats code to that width but leaves long
// strings, template literals and comments alone, and they are what a reader scrolls sideways for.
// Characters, not bytes: "…" and "→" count once. Run by `npm run lint`; takes a few milliseconds.

import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const MAX = 120;
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const FOLDERS = ["src", "test", "scripts", "shell"];
const SOURCE = /\.(ts|mts|js|mjs|cjs|sh|zsh|bash|fish)$/;

function sources(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return SOURCE.test(entry.name) ? [path] : [];
  });
}

const long = [];
for (const file of FOLDERS.flatMap((folder) => sources(join(ROOT, folder)))) {
  readFileSync(file, "utf8")
    .split("\n")
    .forEach((line, i) => {
      const length = [...line].length;
      if (length > MAX) long.push(`${relative(ROOT, file)}:${i + 1}: ${length} characters`);
    });
}

if (long.length > 0) {
  for (const line of long) console.error(line);
  console.error(`${long.length} line(s) over ${MAX} characters: split the string or comment`);
  process.exit(1);
}
