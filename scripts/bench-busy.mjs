// npm run bench -- --busy: a warm answer on an idle machine against the same answer while another
// program keeps one core busy, for caro's default threads and for fixed thread counts. llama.cpp's
// threads spin-wait for each other, so one thread that loses its core stalls them all; the target is
// busy <= 1.5x idle with the default, and the default's idle answer as fast as the fastest fixed one.
// Idle and busy runs alternate, and every setting answers each request in turn, so whatever else
// the machine does falls on all alike.

import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg } from "node:os";
import { join } from "node:path";
import { execa } from "execa";

const ROOT = new URL("..", import.meta.url).pathname;
const CARO = join(ROOT, "bin", "caro.js");
const MAX_COMMAND_LENGTH = 24;
/** Long enough for the daemon to notice the load (or its end) before the next answer. */
const SETTLE_MS = 2500;

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function option(name, fallback) {
  const at = process.argv.indexOf(`--${name}`);
  return at === -1 ? fallback : Number(process.argv[at + 1]);
}

export async function answer(env, cwd, request) {
  const start = performance.now();
  const result = await execa(process.execPath, [CARO, "widget", "bash", request], {
    env,
    cwd,
    extendEnv: false,
    reject: false,
    stdin: "ignore",
  });
  if (result.exitCode !== 0) throw new Error(`caro widget failed: ${result.stderr}`);
  return performance.now() - start;
}

/** The threads the daemon's last answer ran on, from its log. */
function lastThreads(h) {
  const last = readFileSync(join(h.dir, "state", "caro", "daemon.log"), "utf8")
    .trim()
    .split("\n")
    .at(-1);
  return Number(/, (\d+) threads\)$/.exec(last)?.[1] ?? 0);
}

/** A program that keeps core 0 busy, as a build or a test run would. */
function busyLoop() {
  return execa("taskset", ["-c", "0", process.execPath, "-e", "for(;;){}"], { reject: false, stdio: "ignore" });
}

/** A daemon for one threads setting, warmed up, with an idle and a busy folder of the same length. */
async function daemonFor(label, threadsLine, { modelPath, home, timed }) {
  const config =
    `backend = "embedded"\nmax_command_length = ${MAX_COMMAND_LENGTH}\n` +
    `[backends.embedded]\nmodel = "${modelPath}"\n${threadsLine}\n`;
  const h = home(config);
  // Same-length folders: the prompt names the folder, so both answers have as many tokens; the
  // answer cache is keyed by folder too, so the busy answer is computed, not remembered.
  const dirs = { idle: join(h.dir, "idle"), busy: join(h.dir, "busy") };
  mkdirSync(dirs.idle);
  mkdirSync(dirs.busy);
  await timed(["--json", "warm up the model and its prefix"], h.env);
  return { label, h, dirs, idle: [], busy: [], idleThreads: [], busyThreads: [] };
}

/**
 * Every setting's daemon stays loaded, and each request is answered by each of them idle, then by
 * each with core 0 busy: whatever else the machine does meanwhile falls on all settings alike.
 */
async function compareAll(settings, shared) {
  const daemons = [];
  try {
    for (const [label, line] of settings) daemons.push(await daemonFor(label, line, shared));
    // The last daemon's warm-up is another program's load to the others: let it pass.
    await sleep(SETTLE_MS);
    for (const request of shared.list.slice(0, shared.runs)) {
      for (const d of daemons) {
        d.idle.push(await answer(d.h.env, d.dirs.idle, request));
        d.idleThreads.push(lastThreads(d.h));
      }
      const loop = busyLoop();
      await sleep(SETTLE_MS);
      try {
        for (const d of daemons) {
          d.busy.push(await answer(d.h.env, d.dirs.busy, request));
          d.busyThreads.push(lastThreads(d.h));
        }
      } finally {
        loop.kill("SIGKILL");
        await loop;
      }
      await sleep(SETTLE_MS);
      shared.log(
        daemons
          .map(
            (d) =>
              `${d.label}: ${d.idle.at(-1).toFixed(0)}/${d.busy.at(-1).toFixed(0)} ms ` +
              `(${d.idleThreads.at(-1)}/${d.busyThreads.at(-1)} threads)`,
          )
          .join(", "),
      );
    }
  } finally {
    for (const d of daemons) {
      await shared.timed(["daemon", "stop"], d.h.env).catch(() => undefined);
      rmSync(d.h.dir, { recursive: true, force: true });
    }
  }
  return daemons.map((d) => {
    const row = {
      label: d.label,
      idle_p50_ms: median(d.idle),
      busy_p50_ms: median(d.busy),
      idle_ms: d.idle,
      busy_ms: d.busy,
      idle_threads: d.idleThreads,
      busy_threads: d.busyThreads,
    };
    row.busy_over_idle = row.busy_p50_ms / row.idle_p50_ms;
    return row;
  });
}

export async function busyComparison({ modelPath, home, timed, requests, log }) {
  const cores = availableParallelism();
  const runs = option("runs", 5);
  const shared = { modelPath, home, timed, list: requests(), runs, log };
  const settings = [
    ["default (threads unset)", ""],
    [`threads = ${cores} (one per core)`, `threads = ${cores}`],
    ["threads = 1", "threads = 1"],
  ];
  log(`${cores} cores, ${runs} runs each, idle and with core 0 kept busy, alternating`);
  const rows = await compareAll(settings, shared);
  const fastestIdle = Math.min(...rows.map((r) => r.idle_p50_ms));
  const results = {
    date: new Date().toISOString(),
    machine: { cores, node: process.version, loadavg_at_start: loadavg() },
    model: modelPath,
    runs,
    rows,
    targets: {
      default_busy_within_1_5x_idle: rows[0].busy_over_idle <= 1.5,
      default_idle_within_1_1x_fastest_idle: rows[0].idle_p50_ms <= fastestIdle * 1.1,
    },
  };
  mkdirSync(join(ROOT, "bench"), { recursive: true });
  writeFileSync(join(ROOT, "bench", "busy-results.json"), `${JSON.stringify(results, null, 2)}\n`);
  const line = (a, b, c, d) => console.log(`${a.padEnd(30)}${b.padEnd(14)}${c.padEnd(14)}${d}`);
  console.log(`\ncaro busy-machine benchmark · ${cores} cores · ${runs} runs · ${results.date}\n`);
  line("threads", "idle p50", "busy p50", "busy / idle");
  for (const r of rows)
    line(
      r.label,
      `${r.idle_p50_ms.toFixed(0)} ms`,
      `${r.busy_p50_ms.toFixed(0)} ms`,
      `${r.busy_over_idle.toFixed(2)}x`,
    );
  console.log(
    `\ndefault: busy / idle ${rows[0].busy_over_idle.toFixed(2)}x (target <= 1.5x ` +
      `${results.targets.default_busy_within_1_5x_idle ? "met" : "MISSED"}); idle ` +
      `${(rows[0].idle_p50_ms / fastestIdle).toFixed(2)}x the fastest idle (target <= 1.1x ` +
      `${results.targets.default_idle_within_1_1x_fastest_idle ? "met" : "MISSED"})`,
  );
  console.log("written to bench/busy-results.json");
}
