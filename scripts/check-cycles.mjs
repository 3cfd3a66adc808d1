// Fails when modules under src/ import one another in a circle, type-only imports included: a
// cycle means two layers that cannot be read, tested or moved apart (madge --circular finds the
// same; this runs in `npm run lint` in a few milliseconds, without a dependency).

import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../src", import.meta.url));
// Static imports and re-exports (`from "./x.js"`), side-effect imports, and dynamic import("./x.js").
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(?\s*)["'](\.{1,2}\/[^"']+)["']/g;

function sources(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts") ? [path] : [];
  });
}

const files = sources(ROOT);
const known = new Set(files);
const edges = new Map(
  files.map((file) => {
    const text = readFileSync(file, "utf8");
    const targets = [...text.matchAll(SPECIFIER)]
      .map((match) => resolve(dirname(file), match[1].replace(/\.js$/, ".ts")))
      .filter((target) => known.has(target));
    return [file, [...new Set(targets)]];
  }),
);

// Tarjan's strongly connected components: any component of more than one file, or a file that
// imports itself, is a cycle.
let index = 0;
const order = new Map();
const low = new Map();
const stack = [];
const onStack = new Set();
const cycles = [];

function visit(file) {
  order.set(file, index);
  low.set(file, index);
  index++;
  stack.push(file);
  onStack.add(file);
  for (const next of edges.get(file)) {
    if (!order.has(next)) {
      visit(next);
      low.set(file, Math.min(low.get(file), low.get(next)));
    } else if (onStack.has(next)) low.set(file, Math.min(low.get(file), order.get(next)));
  }
  if (low.get(file) !== order.get(file)) return;
  const component = [];
  let member;
  do {
    member = stack.pop();
    onStack.delete(member);
    component.push(member);
  } while (member !== file);
  if (component.length > 1 || edges.get(file).includes(file)) cycles.push(component);
}

for (const file of files) if (!order.has(file)) visit(file);

if (cycles.length > 0) {
  for (const cycle of cycles) {
    const names = cycle.map((file) => relative(ROOT, file)).sort();
    console.error(`import cycle: ${names.join(" ↔ ")}`);
  }
  console.error("move the types or functions both sides need into a file that imports neither");
  process.exit(1);
}
