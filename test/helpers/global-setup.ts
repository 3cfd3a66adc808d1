import { spawn } from "node:child_process";
import { join } from "node:path";
import { ensureTestModels, ROOT } from "./models.js";

// Tests drive the built CLI the way a user runs it, so build first; then make the models once.
// Each test project runs the global setup; the first one does the work for all.
export default async function setup(): Promise<void> {
  if (process.env.CARO_TEST_SETUP_DONE) return;
  // Each takes a core for some seconds on a clean clone: tsc in a process of its own meanwhile.
  const build = new Promise<void>((resolve, reject) => {
    const tsc = spawn(process.execPath, [join(ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", ROOT], {
      stdio: "inherit",
    });
    tsc.on("error", reject);
    tsc.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`tsc exited with ${code}`))));
  });
  try {
    ensureTestModels();
  } finally {
    await build;
  }
  process.env.CARO_TEST_SETUP_DONE = "1";
}
