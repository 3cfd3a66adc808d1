#!/usr/bin/env node
// npm run soak: a daemon that stays flat for days. Thousands of requests through one daemon,
// several at a time, the way a long-lived daemon meets them: config edits (some reload a backend,
// some must not), model switches, a second shell with a config of its own, requests cancelled at
// random moments, and clients killed mid-request (sockets dropped, and real `caro` processes
// SIGKILLed). Every quarter of the run is the same schedule, and ends in the same state, so the
// daemon's resident memory, open file descriptors, threads and log size can be compared quarter
// by quarter. Exits 1 when the last quarter grew over the third: RSS by more than 3 %, or any
// descriptor or thread more.
//
//   SOAK_REQUESTS: requests in all (default 4000)   SOAK_CLIENTS: at a time (default 4)
//   SOAK_EMBEDDED: share of requests the embedded tiny model answers (default 0.05); the rest go
//   to an instantly answering Ollama stand-in (scripts/instant-ollama.mjs). SOAK_SETTLE_S: seconds
//   the daemon is left to settle at each quarter's end, its RSS sampled each second (default 10).
// Writes bench/soak-results.json.

import { spawn } from "node:child_process";
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeFrame, FrameReader } from "../dist/wire/protocol.js";
import { daemonVersion } from "../dist/wire/version.js";
import { instantOllama } from "./instant-ollama.mjs";
import { makeGguf } from "./make-gguf.mjs";

const ROOT = new URL("..", import.meta.url).pathname;
const CARO = join(ROOT, "bin", "caro.js");
const TOTAL = Number(process.env.SOAK_REQUESTS ?? 4000);
const CLIENTS = Number(process.env.SOAK_CLIENTS ?? 4);
const EMBEDDED_SHARE = Number(process.env.SOAK_EMBEDDED ?? 0.05);
const QUARTER = Math.floor(TOTAL / 4);
const SETTLE_S = Number(process.env.SOAK_SETTLE_S ?? 10);

const log = (line) => process.stderr.write(`soak: ${line}\n`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// --- a home, its config and two copies of the tiny model (a switch between files loads another copy)

const dir = mkdtempSync(join(tmpdir(), "caro-soak-"));
const env = {
  HOME: dir,
  XDG_CONFIG_HOME: join(dir, ".config"),
  XDG_CACHE_HOME: join(dir, ".cache"),
  XDG_STATE_HOME: join(dir, ".local", "state"),
  XDG_RUNTIME_DIR: join(dir, "run"),
  PATH: process.env.PATH,
  SHELL: "/bin/bash",
};
mkdirSync(join(dir, ".config", "caro"), { recursive: true });
const configPath = join(dir, ".config", "caro", "config.toml");
const otherConfig = join(dir, "other-shell.toml");
const modelA = join(dir, "tiny-a.gguf");
const modelB = join(dir, "tiny-b.gguf");
makeGguf(modelA, { preset: "tiny", steer: "words" });
copyFileSync(modelA, modelB);
const logPath = join(env.XDG_STATE_HOME, "caro", "daemon.log");

const ollama = await instantOllama();
const ollamaUrl = `http://127.0.0.1:${ollama.port}`;

/** The configs a quarter goes through, in order; each with its share of the quarter's requests. */
function schedule() {
  const embedded = (extra) =>
    `max_command_length = 40\n[backends.embedded]\nmodel = "${extra.model}"\nthreads = ${extra.threads}\n` +
    `context_size = ${extra.context ?? 2048}\n`;
  const server = (timeout) => `backend = "ollama"\n[backends.ollama]\nhost = "${ollamaUrl}"\ntimeout = ${timeout}\n`;
  const e = EMBEDDED_SHARE / 5;
  const s = (1 - EMBEDDED_SHARE) / 4;
  return [
    { name: "ollama", config: server(30), share: s },
    { name: "ollama, timeout edited (a new client)", config: server(31), share: s },
    { name: "embedded A", config: embedded({ model: modelA, threads: 1 }), share: e },
    { name: "embedded A, threads edited (no reload)", config: embedded({ model: modelA, threads: 2 }), share: e },
    {
      name: "embedded A, context_size edited (a reload)",
      config: embedded({ model: modelA, threads: 2, context: 3072 }),
      share: e,
    },
    { name: "embedded B (a model switch)", config: embedded({ model: modelB, threads: 1 }), share: e },
    { name: "ollama again", config: server(30), share: s },
    { name: "embedded A again (each quarter ends here)", config: embedded({ model: modelA, threads: 1 }), share: e },
    { name: "ollama, to end on", config: server(30), share: s },
  ];
}
writeFileSync(otherConfig, `backend = "ollama"\n[backends.ollama]\nhost = "${ollamaUrl}"\ntimeout = 45\n`);

// --- clients

let nextId = 1;
const tally = { answered: 0, cancelled: 0, dropped: 0, killed: 0, failed: 0 };
const failures = [];

/** One connection speaking caro's protocol, as the session client does. */
function open() {
  return new Promise((resolve, reject) => {
    const socket = connect(join(env.XDG_RUNTIME_DIR, "caro", "daemon.sock"));
    const reader = new FrameReader();
    const waiting = new Map();
    socket.on("data", (chunk) => {
      for (const m of reader.push(chunk)) {
        if (m.t === "hello" || m.t === "status") waiting.get(m.t)?.(m);
        else if ((m.t === "answer" || m.t === "error") && waiting.has(m.id)) waiting.get(m.id)(m);
        else if (m.t === "event" && waiting.has(`event:${m.id}`)) waiting.get(`event:${m.id}`)(m);
      }
    });
    socket.on("error", () => undefined);
    socket.on("close", () => {
      for (const [key, wake] of waiting) if (typeof key === "number") wake({ t: "closed" });
    });
    socket.once("connect", () => {
      waiting.set("hello", () => resolve(client));
      socket.write(encodeFrame({ t: "hello", v: daemonVersion() }));
    });
    socket.once("error", reject);
    const client = {
      socket,
      ask(request, clientEnv, { cancelAfterMs = null, onEvent = null } = {}) {
        const id = nextId++;
        return new Promise((done) => {
          waiting.set(id, (m) => {
            waiting.delete(id);
            waiting.delete(`event:${id}`);
            done(m);
          });
          if (onEvent) waiting.set(`event:${id}`, onEvent);
          socket.write(
            encodeFrame({
              t: "ask",
              id,
              words: request,
              shell: "bash",
              cwd: dir,
              env: clientEnv,
              flags: {},
              shown: [],
            }),
          );
          if (cancelAfterMs !== null) setTimeout(() => socket.write(encodeFrame({ t: "cancel", id })), cancelAfterMs);
        });
      },
      status() {
        return new Promise((done) => {
          waiting.set("status", (m) => done(m.status));
          socket.write(encodeFrame({ t: "status" }));
        });
      },
      close: () => socket.destroy(),
    };
  });
}

function record(reply, expectCancel) {
  if (reply.t === "answer") tally.answered++;
  else if (reply.t === "error" && reply.exitCode === 130 && expectCancel) tally.cancelled++;
  else {
    tally.failed++;
    if (failures.length < 20) failures.push(reply.message ?? reply.t);
  }
}

/** A real `caro` process, killed with SIGKILL once the daemon has its request. */
async function killedProcess(request) {
  const child = spawn(process.execPath, [CARO, request], { env, stdio: "ignore" });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  await Promise.race([exited, sleep(150 + Math.random() * 400)]);
  if (child.exitCode === null && child.signalCode === null) {
    child.kill("SIGKILL");
    tally.killed++;
  }
  await exited;
}

/** A connection dropped mid-request, as a killed widget's would be. */
async function droppedClient(request) {
  const client = await open();
  void client.ask(request, env);
  await sleep(Math.random() * 30);
  client.close();
  tally.dropped++;
}

async function runQuarter(quarter) {
  const plan = schedule();
  let done = 0;
  for (const [index, phase] of plan.entries()) {
    writeFileSync(configPath, phase.config);
    const count = Math.max(phase.name.startsWith("embedded") ? 5 : 1, Math.round(QUARTER * phase.share));
    let issued = 0;
    const worker = async (w) => {
      const client = await open();
      while (issued < count) {
        const n = issued++;
        const request = `list the files changed ${quarter}.${index}.${n} days ago`;
        const roll = (n * 7 + w) % 50;
        // A real caro process killed: twice a quarter, once while a server answers, once while a model loads.
        if (n === 0 && (index === 0 || index === 4)) await killedProcess(request);
        else if (roll === 1) await droppedClient(request);
        else if (roll === 2 || roll === 3) {
          const reply = await client.ask(request, env, { cancelAfterMs: Math.random() * 20 });
          if (reply.t === "answer") tally.answered++;
          else record(reply, true);
        } else if (roll === 4) record(await client.ask(request, { ...env, CARO_CONFIG: otherConfig }), false);
        else record(await client.ask(request, env), false);
      }
      client.close();
    };
    await Promise.all(Array.from({ length: CLIENTS }, (_, w) => worker(w)));
    done += count;
  }
  return done;
}

function daemonPid() {
  return Number(readFileSync(join(env.XDG_RUNTIME_DIR, "caro", "daemon.pid"), "utf8"));
}

function sample(pid) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (name) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0);
  return {
    rss_mb: Math.round(kb("VmRSS") / 100) / 10,
    fds: readdirSync(`/proc/${pid}/fd`).length,
    threads: Number(/Threads:\s+(\d+)/.exec(status)?.[1]),
    log_kb: Math.round(statSync(logPath).size / 100) / 10,
  };
}

async function daemonStatus() {
  const client = await open();
  const status = await client.status();
  client.close();
  return status;
}

// --- the run

const started = spawn(process.execPath, [CARO, "daemon", "start"], { env, stdio: "inherit" });
await new Promise((resolve) => started.once("exit", resolve));
const pid = daemonPid();
const rows = [];
const begun = performance.now();
try {
  for (let q = 1; q <= 4; q++) {
    const quarterStart = performance.now();
    const before = { ...tally };
    const requests = await runQuarter(q);
    // Every quarter ends the same way: the replaced copies close once their requests end.
    let status = await daemonStatus();
    for (let i = 0; i < 50 && (status.requests_active > 0 || status.models_loaded !== 3); i++) {
      await sleep(100);
      status = await daemonStatus();
    }
    const seconds = Math.round((performance.now() - quarterStart) / 100) / 10;
    // Sampled as it settles, each figure at its lowest over SETTLE_S seconds (one sample a
    // second): what is kept stays, while garbage not yet collected and connections still closing
    // (a dropped client's, an idle keep-alive one) go within seconds.
    const first = sample(pid);
    const settled = { ...first };
    for (let i = 1; i < SETTLE_S; i++) {
      await sleep(1000);
      const now = sample(pid);
      for (const key of ["rss_mb", "fds", "threads"]) settled[key] = Math.min(settled[key], now[key]);
      settled.log_kb = now.log_kb;
    }
    const row = {
      quarter: q,
      requests,
      seconds,
      ...settled,
      rss_first_mb: first.rss_mb,
      models_loaded: status.models_loaded,
      model_loads: status.model_loads,
      answered: tally.answered - before.answered,
      cancelled: tally.cancelled - before.cancelled,
      dropped: tally.dropped - before.dropped,
      killed: tally.killed - before.killed,
      failed: tally.failed - before.failed,
    };
    rows.push(row);
    log(JSON.stringify(row));
  }
} finally {
  const stop = spawn(process.execPath, [CARO, "daemon", "stop"], { env, stdio: "ignore" });
  await new Promise((resolve) => stop.once("exit", resolve));
  ollama.close();
}

const [, , third, last] = rows;
const growth = (last.rss_mb - third.rss_mb) / third.rss_mb;
const flat = Math.abs(growth) <= 0.03 && last.fds <= third.fds && last.threads <= third.threads;
const result = {
  requests: TOTAL,
  clients: CLIENTS,
  seconds: Math.round((performance.now() - begun) / 1000),
  rows,
  last_over_third: { rss: growth, fds: last.fds - third.fds, threads: last.threads - third.threads },
  failures,
  flat,
};
writeFileSync(join(ROOT, "bench", "soak-results.json"), `${JSON.stringify(result, null, 2)}\n`);
process.stdout.write(
  `${TOTAL} requests, ${CLIENTS} at a time, ${result.seconds} s; ` +
    `${tally.answered} answered, ${tally.cancelled} cancelled, ${tally.dropped} dropped clients, ` +
    `${tally.killed} killed caro processes, ${tally.failed} failed\n`,
);
process.stdout.write("quarter  RSS MB (first)   fds  threads  log kB  loads\n");
for (const r of rows)
  process.stdout.write(
    `${String(r.quarter).padEnd(8)} ${String(r.rss_mb).padStart(6)} (${String(r.rss_first_mb).padStart(5)}) ` +
      `${String(r.fds).padStart(5)} ${String(r.threads).padStart(8)} ${String(r.log_kb).padStart(7)} ` +
      `${String(r.model_loads).padStart(6)}\n`,
  );
process.stdout.write(
  `last quarter over the third: RSS ${(growth * 100).toFixed(1)} %, fds ${last.fds - third.fds}, ` +
    `threads ${last.threads - third.threads}: ${flat ? "flat" : "GROWS"}\n`,
);
if (failures.length > 0) process.stdout.write(`first failures:\n  ${failures.join("\n  ")}\n`);
rmSync(dir, { recursive: true, force: true });
process.exit(flat && tally.failed === 0 ? 0 : 1);
