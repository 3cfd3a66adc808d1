#!/usr/bin/env node
// npm run bench:mmap: whether llama.cpp should map the model file (mmap) or copy it into memory of
// its own, measured side by side with a model of Qwen2.5-Coder-1.5B's exact shape on the CPU.
// For each way, in turns: a daemon started with the page cache dropped (cold) and kept (warm):
// its model load, first request, peak and steady memory; then a `caro --no-daemon` run beside the
// loaded daemon: its time, its own memory, and how much the machine's available memory dropped.
// CARO_BENCH_MMAP (read by the inference worker) picks the way; it exists for this bench only.
// Dropping the page cache needs root (`echo 3 > /proc/sys/vm/drop_caches`); without it the cold
// rows are left out. Writes bench/mmap-results.json.   ROUNDS=n: turns per way (default 2).

import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { makeGguf } from "./make-gguf.mjs";

const ROOT = new URL("..", import.meta.url).pathname;
const CARO = join(ROOT, "bin", "caro.js");
const ROUNDS = Number(process.env.ROUNDS ?? 2);
const WAYS = { copy: "0", mmap: "1" };

const log = (line) => process.stderr.write(`bench-mmap: ${line}\n`);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function benchModel() {
  const hash = createHash("sha256")
    .update(readFileSync(join(ROOT, "scripts", "make-gguf.mjs")))
    .digest("hex")
    .slice(0, 12);
  const path = join(ROOT, ".cache", "bench-models", `qwen2.5-coder-1.5b-shape-${hash}.gguf`);
  if (!existsSync(path)) {
    log("making the 1.5B-shaped model once…");
    makeGguf(path, { preset: "qwen2.5-coder-1.5b", steer: "words" });
  }
  return path;
}

/** A home of its own per daemon, sharing one prefix cache: every first request loads the saved prefix. */
function home(model, cache, way) {
  const dir = mkdtempSync(join(tmpdir(), "caro-mmap-"));
  mkdirSync(join(dir, ".config", "caro"), { recursive: true });
  writeFileSync(
    join(dir, ".config", "caro", "config.toml"),
    // One thread: the machines this runs on are shared, and llama.cpp's spinning threads stall
    // when another program takes a core; both ways evaluate alike, the load is what differs.
    `max_command_length = 24\n[daemon]\nstart_on_init = false\n[backends.embedded]\nmodel = "${model}"\nthreads = 1\n`,
  );
  return {
    dir,
    env: {
      HOME: dir,
      XDG_CONFIG_HOME: join(dir, ".config"),
      XDG_CACHE_HOME: cache,
      XDG_RUNTIME_DIR: join(dir, "run"),
      XDG_STATE_HOME: join(dir, "state"),
      PATH: process.env.PATH,
      SHELL: "/bin/bash",
      CARO_BENCH_MMAP: WAYS[way],
    },
  };
}

function caro(args, env) {
  return execa(process.execPath, [CARO, ...args], { env, extendEnv: false, reject: false, stdin: "ignore" });
}

/** One process's memory, in MB: resident now (anonymous, file-backed) and at its peak. */
function memoryOf(pid) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (name) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) / 1000;
  return { rss: kb("VmRSS"), anon: kb("RssAnon"), file: kb("RssFile"), peak: kb("VmHWM") };
}

const available = () => Number(/MemAvailable:\s+(\d+) kB/.exec(readFileSync("/proc/meminfo", "utf8"))[1]) / 1000;

function canDropCaches() {
  try {
    execFileSync("sh", ["-c", "sync; echo 3 > /proc/sys/vm/drop_caches"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** A request's wall time, and where the daemon's time went (--json's timings). */
async function ask(env, request, extra = []) {
  const started = performance.now();
  const result = await caro(["--json", ...extra, request], env);
  const ms = performance.now() - started;
  if (result.exitCode !== 0) throw new Error(`caro failed (${result.exitCode}): ${result.stderr}`);
  const { timings } = JSON.parse(result.stdout);
  return { ms, loadMs: timings.load_ms, prefixMs: timings.prefix_ms, generateMs: timings.generate_ms };
}

/** Polls a process's memory until it exits; its highest figures. */
async function watch(child) {
  const most = { rss: 0, anon: 0, file: 0, peak: 0 };
  let lowestAvailable = available();
  while (child.exitCode === null) {
    try {
      const now = memoryOf(child.pid);
      for (const key of Object.keys(most)) most[key] = Math.max(most[key], now[key]);
    } catch {
      // Exited between the check and the read.
    }
    lowestAvailable = Math.min(lowestAvailable, available());
    await sleep(20);
  }
  return { most, lowestAvailable };
}

async function round(way, model, cache, cold) {
  const h = home(model, cache, way);
  try {
    if (cold) execFileSync("sh", ["-c", "sync; echo 3 > /proc/sys/vm/drop_caches"]);
    await sleep(500);
    const before = available();
    const started = await caro(["daemon", "start"], h.env);
    if (started.exitCode !== 0) throw new Error(`daemon start failed: ${started.stderr}`);
    const pid = Number(readFileSync(join(h.dir, "run", "caro", "daemon.pid"), "utf8"));
    const first = await ask(h.env, "list the files here");
    await sleep(2000);
    const daemon = memoryOf(pid);
    const daemonCost = before - available();
    // A --no-daemon run beside it (the model stays loaded in the daemon meanwhile).
    const beforeBeside = available();
    const startedBeside = performance.now();
    const child = execa(process.execPath, [CARO, "--no-daemon", "--json", "list the files here"], {
      env: h.env,
      extendEnv: false,
      reject: false,
      stdin: "ignore",
    });
    const watched = watch(child);
    const result = await child;
    const { most, lowestAvailable } = await watched;
    if (result.exitCode !== 0) throw new Error(`--no-daemon failed: ${result.stderr}`);
    const beside = {
      ms: performance.now() - startedBeside,
      loadMs: JSON.parse(result.stdout).timings.load_ms,
      peak_mb: most.peak,
      anon_mb: most.anon,
      file_mb: most.file,
      machine_mb: beforeBeside - lowestAvailable,
    };
    await caro(["daemon", "stop"], h.env);
    return {
      way,
      cold,
      load_ms: first.loadMs,
      prefix_ms: first.prefixMs,
      generate_ms: first.generateMs,
      first_request_ms: first.ms,
      daemon_peak_mb: daemon.peak,
      daemon_rss_mb: daemon.rss,
      daemon_anon_mb: daemon.anon,
      daemon_file_mb: daemon.file,
      daemon_machine_mb: daemonCost,
      beside,
    };
  } finally {
    await caro(["daemon", "stop"], h.env);
    rmSync(h.dir, { recursive: true, force: true });
  }
}

const model = benchModel();
const modelMb = statSync(model).size / 1e6;
const cache = mkdtempSync(join(tmpdir(), "caro-mmap-cache-"));
const dropping = canDropCaches();
if (!dropping) log("cannot drop the page cache (not root): cold rows left out");
// The saved prefix, once, so every timed first request loads it instead of evaluating it.
{
  const h = home(model, cache, "copy");
  log("evaluating the prefix once…");
  await ask(h.env, "list the files here", ["--no-daemon"]);
  rmSync(h.dir, { recursive: true, force: true });
}
const rows = [];
for (let i = 0; i < ROUNDS; i++)
  for (const cold of dropping ? [true, false] : [false])
    for (const way of i % 2 === 0 ? ["copy", "mmap"] : ["mmap", "copy"]) {
      log(`round ${i + 1}: ${way}, ${cold ? "cold" : "warm"}…`);
      rows.push(await round(way, model, cache, cold));
    }
rmSync(cache, { recursive: true, force: true });

const pick = (way, cold, get) => median(rows.filter((r) => r.way === way && r.cold === cold).map(get));
const measures = [
  ["model load, ms", (r) => r.load_ms],
  ["  then the saved prefix, ms", (r) => r.prefix_ms],
  ["  then the request's tokens and the answer, ms", (r) => r.generate_ms],
  ["first request, end to end, ms", (r) => r.first_request_ms],
  ["daemon peak RSS, MB", (r) => r.daemon_peak_mb],
  ["daemon steady RSS, MB", (r) => r.daemon_rss_mb],
  ["  of it anonymous (private), MB", (r) => r.daemon_anon_mb],
  ["  of it file-backed (page cache, shared, reclaimable), MB", (r) => r.daemon_file_mb],
  ["machine's available memory taken by the daemon, MB", (r) => r.daemon_machine_mb],
  ["--no-daemon run beside it: wall time, ms", (r) => r.beside.ms],
  ["--no-daemon run beside it: its model load, ms", (r) => r.beside.loadMs],
  ["--no-daemon run beside it: its peak RSS, MB", (r) => r.beside.peak_mb],
  ["--no-daemon run beside it: its anonymous RSS, MB", (r) => r.beside.anon_mb],
  ["--no-daemon run beside it: available memory it took, MB", (r) => r.beside.machine_mb],
];
const table = [];
for (const cold of dropping ? [true, false] : [false])
  for (const [name, get] of measures) {
    const copy = pick("copy", cold, get);
    const mmap = pick("mmap", cold, get);
    table.push({ measure: `${cold ? "cold" : "warm"}: ${name}`, copy, mmap, ratio: mmap / copy });
  }
const out = join(ROOT, "bench", "mmap-results.json");
writeFileSync(out, `${JSON.stringify({ model_mb: modelMb, rounds: ROUNDS, table, rows }, null, 2)}\n`);
process.stdout.write(`model ${modelMb.toFixed(0)} MB; median of ${ROUNDS} per row; mmap / copy\n`);
for (const row of table)
  process.stdout.write(
    `${row.measure.padEnd(72)} ${row.copy.toFixed(0).padStart(7)} ${row.mmap.toFixed(0).padStart(7)}  ` +
      `${row.ratio.toFixed(2)}x\n`,
  );
log(`wrote ${out}`);
