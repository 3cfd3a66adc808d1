// npm run bench -- --first: the first Ctrl-G in a new shell against a warm one. caro init starts
// the daemon in the background as the shell starts (caro daemon start --background), and it loads
// the model and the prompt's saved state meanwhile; the target is a Ctrl-G 10 s later within 1.3x
// a warm one. For scale, also the first answer with no daemon started beforehand (caro init --no-start).

import { mkdirSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { answer } from "./bench-busy.mjs";

const ROOT = new URL("..", import.meta.url).pathname;
const CARO = join(ROOT, "bin", "caro.js");
const SHELL_AGE_MS = 10_000;

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export async function firstCtrlG({ modelPath, home, timed, requests, log }) {
  const at = process.argv.indexOf("--runs");
  const runs = at === -1 ? 3 : Number(process.argv[at + 1]);
  const h = home(`backend = "embedded"\nmax_command_length = 24\n[backends.embedded]\nmodel = "${modelPath}"\n`);
  // Same-length folders: as many prompt tokens each, and no answer comes from the answer cache.
  const dirs = ["first", "warm1", "nopre"].map((name) => join(h.dir, name));
  for (const dir of dirs) mkdirSync(dir);
  // A user who has used caro before (or ran caro models pull): the prompt's state is on disk.
  await timed(["--json", "save the prefix state"], h.env);
  await timed(["daemon", "stop"], h.env);
  const first = [];
  const warm = [];
  const noPreload = [];
  for (const request of requests().slice(0, runs)) {
    await execa(process.execPath, [CARO, "daemon", "start", "--background", "--shell", "bash"], {
      env: h.env,
      extendEnv: false,
      // The shell opened in the folder where its first Ctrl-G comes.
      cwd: dirs[0],
    });
    await sleep(SHELL_AGE_MS);
    first.push(await answer(h.env, dirs[0], request));
    warm.push(await answer(h.env, dirs[1], request));
    await timed(["daemon", "stop"], h.env);
    noPreload.push(await answer(h.env, dirs[2], request));
    await timed(["daemon", "stop"], h.env);
    log(
      `first ${first.at(-1).toFixed(0)} ms, warm ${warm.at(-1).toFixed(0)} ms, no preload ` +
        `${noPreload.at(-1).toFixed(0)} ms`,
    );
  }
  const results = {
    date: new Date().toISOString(),
    machine: { cores: availableParallelism(), node: process.version },
    model: modelPath,
    runs,
    first_p50_ms: median(first),
    warm_p50_ms: median(warm),
    no_preload_p50_ms: median(noPreload),
    first_ms: first,
    warm_ms: warm,
    no_preload_ms: noPreload,
  };
  results.first_over_warm = results.first_p50_ms / results.warm_p50_ms;
  results.target_first_within_1_3x_warm = results.first_over_warm <= 1.3;
  mkdirSync(join(ROOT, "bench"), { recursive: true });
  writeFileSync(join(ROOT, "bench", "first-results.json"), `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\ncaro first Ctrl-G benchmark · ${runs} runs · ${results.date}\n`);
  console.log(`first Ctrl-G, ${SHELL_AGE_MS / 1000} s after the shell started  ${results.first_p50_ms.toFixed(0)} ms`);
  console.log(`warm Ctrl-G                                 ${results.warm_p50_ms.toFixed(0)} ms`);
  console.log(`first Ctrl-G without the start (--no-start) ${results.no_preload_p50_ms.toFixed(0)} ms`);
  console.log(
    `first / warm ${results.first_over_warm.toFixed(2)}x (target <= 1.3x ` +
      `${results.target_first_within_1_3x_warm ? "met" : "MISSED"})\nwritten to bench/first-results.json`,
  );
}
