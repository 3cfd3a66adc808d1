import { spawn } from "node:child_process";
import { join } from "node:path";
import { ensureTestModels, ROOT } from "./models.js";

// Tests drive the built CLI the way a user runs it, so build first; then make the models once.
// Each test project runs the global setup; the first one does the work for all.
function run([script, ...args]: string[]): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, "node_modules", script), ...args], {
      cwd: ROOT,
      stdio: "inherit",
    });
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`${script} exited with ${code}`))));
  });
}

export default async function setup(): Promise<void> {
  if (process.env.CARO_TEST_SETUP_DONE) return;
  // Each takes a core for some seconds on a clean clone: the build (tsc, then the command line's
  // CommonJS chunks, as npm run build does) in processes of their own meanwhile.
  const build = run(["typescript/bin/tsc", "-p", ROOT]).then(() =>
    run(["rolldown/bin/cli.mjs", "-c", join(ROOT, "rolldown.config.mjs")]),
  );
  try {
    ensureTestModels();
  } finally {
    await build;
  }
  process.env.CARO_TEST_SETUP_DONE = "1";
}
