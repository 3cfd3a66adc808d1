import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { ensureTestModels, ROOT } from "./models.js";

// Tests drive the built CLI the way a user runs it, so build first; then make the models once.
// Each test project runs the global setup; the first one does the work for all.
export default function setup(): void {
  if (process.env.CARO_TEST_SETUP_DONE) return;
  execFileSync(process.execPath, [join(ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", ROOT], {
    stdio: "inherit",
  });
  ensureTestModels();
  process.env.CARO_TEST_SETUP_DONE = "1";
}
