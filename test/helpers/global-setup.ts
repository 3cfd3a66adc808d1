import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { ensureTestModels, ROOT } from "./models.js";

// Tests drive the built CLI the way a user runs it, so build first; then make the models once.
export default function setup(): void {
  execFileSync(process.execPath, [join(ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", ROOT], {
    stdio: "inherit",
  });
  ensureTestModels();
}
