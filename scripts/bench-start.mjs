// npm run bench -- --start: what a command-line `caro` costs to start, against `node -e 0`, for
// --version, --help, `check -- 'ls -la'` and a request through a warm daemon whose backend answers
// at once (the Ollama stand-in). Every row runs once per round, in turn, so whatever else the
// machine does falls on all alike; the table gives p50s and their ratios to `node -e 0`, and the
// CPU each used (user + system, the mean over the rounds): on a shared machine the wall clock
// moves with the others' load, the CPU a process burns much less.
// --runs N: rounds (default 20). BENCH_BASELINE=<another built checkout>: its rows too, interleaved,
// for before and after in one run. Two floor rows (scripts/start-floor.cjs) give the least a check
// and a request could cost: caro's parser alone, and a client that only asks the daemon.

import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { instantOllama } from "./instant-ollama.mjs";

const ROOT = new URL("..", import.meta.url).pathname;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

function option(name, fallback) {
  const at = process.argv.indexOf(`--${name}`);
  return at === -1 ? fallback : Number(process.argv[at + 1]);
}

/** The CPU of this process's children that have ended, in ms (/proc's cutime + cstime, in 10 ms ticks). */
function childrenCpuMs() {
  const fields = readFileSync("/proc/self/stat", "utf8").split(") ")[1].split(" ");
  return (Number(fields[13]) + Number(fields[14])) * 10;
}

async function run(args, env) {
  const cpuBefore = childrenCpuMs();
  const start = performance.now();
  const result = await execa(process.execPath, args, { env, extendEnv: false, reject: false, stdin: "ignore" });
  const ms = performance.now() - start;
  if (result.exitCode !== 0) throw new Error(`bench: ${args.join(" ")} failed (${result.exitCode}): ${result.stderr}`);
  return { ms, cpu: childrenCpuMs() - cpuBefore };
}

/** The rows of one caro checkout; `round` makes each request new, so the daemon's answer cache never serves it. */
function caroRows(root, label) {
  const caro = join(root, "bin", "caro.js");
  return [
    [`${label}caro --version`, () => [caro, "--version"]],
    [`${label}caro --help`, () => [caro, "--help"]],
    [`${label}caro check -- 'ls -la'`, () => [caro, "check", "--", "ls -la"]],
    [`${label}caro <request>, warm daemon, instant backend`, (round) => [caro, `list the files ${label}${round}`]],
  ];
}

export async function startBench({ home, log }) {
  const runs = option("runs", 20);
  const server = await instantOllama();
  const h = home(`backend = "ollama"\n[backends.ollama]\nhost = "http://127.0.0.1:${server.port}"\n`);
  const baselineRoot = process.env.BENCH_BASELINE;
  const floor = join(ROOT, "scripts", "start-floor.cjs");
  const rows = [
    ["node -e 0", () => ["-e", "0"]],
    ...caroRows(ROOT, ""),
    // What two rows could cost at the least (scripts/start-floor.cjs): caro's parser alone, and a
    // client that only asks the daemon; no command line, config or rater.
    ["floor: the parser alone, 'ls -la'", () => [floor, "parse", "ls -la"]],
    ["floor: ask the warm daemon, print the answer", (round) => [floor, "ask", `list the files floor${round}`]],
    ...(baselineRoot ? caroRows(baselineRoot, "baseline ") : []),
  ];
  const caros = [ROOT, ...(baselineRoot ? [baselineRoot] : [])].map((root) => join(root, "bin", "caro.js"));
  try {
    // Each checkout's daemon started and warm (each has its own socket only if its paths differ:
    // they share this home, so the baseline's daemon is the one that answers both, which is what
    // a fair comparison of the client wants).
    for (const caro of caros) await run([caro, "warm up"], h.env);
    for (const [, args] of rows) await run(args(-1), h.env);
    log(`start: ${runs} rounds of ${rows.length} rows, in turn…`);
    const times = rows.map(() => []);
    const cpu = rows.map(() => []);
    for (let round = 0; round < runs; round++) {
      for (const [i, [, args]] of rows.entries()) {
        const r = await run(args(round), h.env);
        times[i].push(r.ms);
        cpu[i].push(r.cpu);
      }
    }
    const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const node = median(times[0]);
    const nodeCpu = mean(cpu[0]);
    const results = {
      date: new Date().toISOString(),
      machine: { cores: availableParallelism(), node: process.version, load_average: loadavg() },
      runs,
      rows: rows.map(([name], i) => ({
        name,
        p50_ms: median(times[i]),
        ratio_to_node: median(times[i]) / node,
        cpu_mean_ms: mean(cpu[i]),
        cpu_ratio_to_node: mean(cpu[i]) / nodeCpu,
      })),
    };
    mkdirSync(join(ROOT, "bench"), { recursive: true });
    writeFileSync(join(ROOT, "bench", "start.json"), `${JSON.stringify(results, null, 2)}\n`);
    console.log(`\nstart of a command-line caro · ${runs} rounds · ${availableParallelism()} cores\n`);
    console.log(`${"command".padEnd(56)}${"p50".padEnd(10)}${"/ node".padEnd(9)}${"CPU".padEnd(10)}/ node  target`);
    for (const r of results.rows) {
      const measured = r.name === "node -e 0" || r.name.startsWith("floor");
      const target = measured ? "" : r.ratio_to_node <= 1.2 ? "<= 1.2x met" : "<= 1.2x MISSED";
      const cells = [
        r.name.padEnd(56),
        `${r.p50_ms.toFixed(0)} ms`.padEnd(10),
        `${r.ratio_to_node.toFixed(2)}x`.padEnd(9),
        `${r.cpu_mean_ms.toFixed(0)} ms`.padEnd(10),
        `${r.cpu_ratio_to_node.toFixed(2)}x`.padEnd(8),
      ];
      console.log(`${cells.join("")}${target}`);
    }
  } finally {
    for (const caro of caros)
      await execa(process.execPath, [caro, "daemon", "stop"], { env: h.env, extendEnv: false, reject: false });
    server.close();
    rmSync(h.dir, { recursive: true, force: true });
  }
}
