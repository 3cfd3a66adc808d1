#!/usr/bin/env node
// npm run bench: caro's speed, measured side by side in one run against node-llama-cpp alone,
// with a model of Qwen2.5-Coder-1.5B's exact shape (random Q4_0 weights: real timings, nonsense
// text). Prints a table and writes bench/results.json. Targets (from the speed issue):
//   warm p50 within 1.15x the floor; prefix cache at least 3x faster than without;
//   daemon peak RSS at most the model file + 300 MB; the client at most 1.5x `node -e 0`.
// Sections of their own: --busy (a warm answer with one core kept busy by another program,
// scripts/bench-busy.mjs) and --first (the first Ctrl-G 10 s after a shell starts, scripts/bench-first.mjs).

import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { busyComparison } from "./bench-busy.mjs";
import { firstCtrlG } from "./bench-first.mjs";
import { makeGguf } from "./make-gguf.mjs";

const ROOT = new URL("..", import.meta.url).pathname;
const CARO = join(ROOT, "bin", "caro.js");
const ON_RUNS = 20;
const OFF_RUNS = 5;
const CLIENT_RUNS = 20;
// Short answers, so that decoding (the same in caro and the floor) does not drown the differences.
const MAX_COMMAND_LENGTH = 24;

const log = (line) => process.stderr.write(`bench: ${line}\n`);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const p95 = (xs) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil(xs.length * 0.95) - 1)];

function benchModel() {
  const hash = createHash("sha256")
    .update(readFileSync(join(ROOT, "scripts", "make-gguf.mjs")))
    .digest("hex")
    .slice(0, 12);
  const path = join(ROOT, ".cache", "bench-models", `qwen2.5-coder-1.5b-shape-${hash}.gguf`);
  if (!existsSync(path)) {
    log("making the Qwen2.5-Coder-1.5B-shaped model once (about a minute)…");
    makeGguf(path, { preset: "qwen2.5-coder-1.5b", steer: "words" });
  }
  return path;
}

function requests() {
  const data = join(ROOT, "..", "shared", "data", "caro_eval_cases.tsv");
  if (existsSync(data))
    return readFileSync(data, "utf8")
      .trim()
      .split("\n")
      .slice(1, 1 + ON_RUNS)
      .map((l) => l.split("\t")[0]);
  return Array.from({ length: ON_RUNS }, (_, i) => `list the files changed in the last ${i + 1} days`);
}

function home(config) {
  const dir = mkdtempSync(join(tmpdir(), "caro-bench-"));
  mkdirSync(join(dir, ".config", "caro"), { recursive: true });
  writeFileSync(join(dir, ".config", "caro", "config.toml"), config);
  return {
    dir,
    env: {
      HOME: dir,
      XDG_CONFIG_HOME: join(dir, ".config"),
      XDG_CACHE_HOME: join(dir, ".cache"),
      XDG_RUNTIME_DIR: join(dir, "run"),
      XDG_STATE_HOME: join(dir, "state"),
      PATH: process.env.PATH,
      SHELL: "/bin/bash",
    },
  };
}

async function timed(args, env) {
  const start = performance.now();
  const result = await execa(process.execPath, [CARO, ...args], {
    env,
    extendEnv: false,
    reject: false,
    stdin: "ignore",
  });
  const ms = performance.now() - start;
  if (result.exitCode !== 0) throw new Error(`caro ${args.join(" ")} failed: ${result.stderr}`);
  return { ms, out: result.stdout };
}

function daemonPid(h) {
  return Number(readFileSync(join(h.dir, "run", "caro", "daemon.pid"), "utf8"));
}

function peakRss(pid) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)[1]) * 1024;
}

/** Each request as Ctrl-G sends it: the widget's client, the socket, the daemon. Token counts from its log. */
async function warmRuns(h, list) {
  await timed(["--json", "warm up the model and its prefix"], h.env);
  const runs = [];
  for (const request of list) {
    const { ms } = await timed(["widget", "bash", request], h.env);
    const last = readFileSync(join(h.dir, "state", "caro", "daemon.log"), "utf8")
      .trim()
      .split("\n")
      .at(-1);
    const counts = /\((\w+), (\d+) prompt \+ (\d+) generated tokens\)$/.exec(last);
    if (!counts) throw new Error(`no token counts in the daemon log: ${last}`);
    runs.push({ request, ms, prompt_tokens: Number(counts[2]), generated_tokens: Number(counts[3]) });
  }
  return runs;
}

/**
 * node-llama-cpp alone: the same prompt text, the same new tokens, as many generated tokens, under
 * the same JSON-schema grammar (llama.cpp work every caro answer needs); and once more without it.
 */
async function floor(modelPath, threads, runs) {
  const { getLlama, LlamaChatSession, LlamaLogLevel } = await import("node-llama-cpp");
  const { buildPrompt } = await import("../dist/prompt/build.js");
  const { detectContext } = await import("../dist/prompt/context.js");
  const llama = await getLlama({ gpu: "auto", build: "never", maxThreads: threads, logLevel: LlamaLogLevel.error });
  const model = await llama.loadModel({ modelPath, useMmap: llama.gpu === false ? false : "auto" });
  const { draftSchema } = await import("../dist/answer/draft.js");
  const grammar = await llama.createGrammarForJsonSchema(draftSchema(false, MAX_COMMAND_LENGTH));
  const context = await model.createContext({ contextSize: 2048, threads });
  const sequence = context.getSequence();
  const context0 = detectContext("bash", tmpdir());
  const history = (prompt) => [
    { type: "system", text: prompt.system },
    ...prompt.examples.flatMap((e) => [
      { type: "user", text: e.user },
      { type: "model", response: [e.assistant] },
    ]),
  ];
  const first = buildPrompt(context0, runs[0].request);
  const warm = new LlamaChatSession({ contextSequence: sequence, autoDisposeSequence: false });
  warm.setChatHistory(history(first));
  await warm.preloadPrompt("");
  warm.dispose({ disposeSequence: false });
  const { resolveChatWrapper } = await import("node-llama-cpp");
  const chatWrapper = resolveChatWrapper(model);
  const pass = async (withGrammar) => {
    const out = [];
    for (const run of runs) {
      const prompt = buildPrompt(context0, run.request);
      const session = new LlamaChatSession({ contextSequence: sequence, chatWrapper, autoDisposeSequence: false });
      session.setChatHistory(history(prompt));
      const inBefore = sequence.tokenMeter.usedInputTokens;
      const outBefore = sequence.tokenMeter.usedOutputTokens;
      const start = performance.now();
      await session.prompt(prompt.user, {
        maxTokens: run.generated_tokens,
        temperature: 0.2,
        seed: 1,
        ...(withGrammar ? { grammar } : {}),
      });
      const ms = performance.now() - start;
      out.push({
        ms,
        prompt_tokens: sequence.tokenMeter.usedInputTokens - inBefore,
        generated_tokens: sequence.tokenMeter.usedOutputTokens - outBefore,
      });
      session.dispose({ disposeSequence: false });
    }
    return out;
  };
  const withGrammar = await pass(true);
  const withoutGrammar = await pass(false);
  await model.dispose();
  return { withGrammar, withoutGrammar };
}

async function clientCost(requestList) {
  // An Ollama stand-in that answers at once: what is left is caro's own cost per keystroke.
  const server = createServer(async (req, res) => {
    if (req.url === "/api/version") return res.end('{"version":"0.5.7"}');
    let body = "";
    for await (const chunk of req) body += chunk;
    const text = JSON.parse(body)
      .messages.at(-1)
      .content.replace(/^[\s\S]*request: /, "");
    res.end(
      `${JSON.stringify({ message: { content: JSON.stringify({ command: `echo ${JSON.stringify(text)}` }) }, done: true })}\n`,
    );
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const h = home(`backend = "ollama"\n[backends.ollama]\nhost = "http://127.0.0.1:${server.address().port}"\n`);
  await timed(["--json", "warm"], h.env);
  const caro = [];
  const bare = [];
  for (let i = 0; i < CLIENT_RUNS; i++) {
    let start = performance.now();
    await execa(process.execPath, [CARO, "widget", "bash", `${requestList[i % requestList.length]} ${i}`], {
      env: h.env,
      extendEnv: false,
      stdin: "ignore",
    });
    caro.push(performance.now() - start);
    start = performance.now();
    await execa(process.execPath, ["-e", "0"], { stdin: "ignore" });
    bare.push(performance.now() - start);
  }
  await execa(process.execPath, [CARO, "daemon", "stop"], { env: h.env, extendEnv: false, reject: false });
  server.close();
  rmSync(h.dir, { recursive: true, force: true });
  return { caro, bare };
}

async function main() {
  const section = { home, timed, requests, log };
  if (process.argv.includes("--busy")) return busyComparison({ modelPath: benchModel(), ...section });
  if (process.argv.includes("--first")) return firstCtrlG({ modelPath: benchModel(), ...section });
  const modelPath = benchModel();
  const modelBytes = statSync(modelPath).size;
  const threads = availableParallelism();
  const list = requests();
  const config = (extra = "") =>
    `backend = "embedded"\nmax_command_length = ${MAX_COMMAND_LENGTH}\n[backends.embedded]\nmodel = "${modelPath}"\nthreads = ${threads}\n${extra}`;

  log(`model ${modelPath} (${(modelBytes / 2 ** 20).toFixed(0)} MiB), ${threads} threads`);
  log("1/5 warm requests through the client and socket, prefix cache on…");
  const on = home(config());
  const onRuns = await warmRuns(on, list);
  const rss = peakRss(daemonPid(on));
  await timed(["daemon", "stop"], on.env);

  log("2/5 the same, prefix cache off…");
  const off = home(config("prefix_cache = false\n"));
  const offRuns = await warmRuns(off, list.slice(0, OFF_RUNS));
  await timed(["daemon", "stop"], off.env);

  log("3/5 the floor: node-llama-cpp alone, the same new tokens and as many generated…");
  const { withGrammar: floorRuns, withoutGrammar: bareRuns } = await floor(modelPath, threads, onRuns);

  log("4/5 cold starts: no daemon, then the first answer…");
  // The prefix state from run 1 is in on's cache: the usual cold start. Then without it: the first ever.
  const coldWithState = await timed(["--json", "a cold request"], on.env);
  await timed(["daemon", "stop"], on.env);
  rmSync(join(on.dir, ".cache", "caro", "prefix"), { recursive: true, force: true });
  const coldFirstEver = await timed(["--json", "another cold request"], on.env);
  await timed(["daemon", "stop"], on.env);

  log("5/5 the client's own cost against an instant backend, and node -e 0…");
  const client = await clientCost(list);

  const onMs = onRuns.map((r) => r.ms);
  const floorMs = floorRuns.map((r) => r.ms);
  const sameFive = onRuns.slice(0, OFF_RUNS).map((r) => r.ms);
  const results = {
    date: new Date().toISOString(),
    machine: { cores: availableParallelism(), node: process.version },
    model: { path: modelPath, bytes: modelBytes, threads, max_command_length: MAX_COMMAND_LENGTH },
    warm: {
      prefix_cache_on: { p50_ms: median(onMs), p95_ms: p95(onMs), runs: onRuns },
      prefix_cache_off: { p50_ms: median(offRuns.map((r) => r.ms)), runs: offRuns },
      floor: { p50_ms: median(floorMs), p95_ms: p95(floorMs), runs: floorRuns },
      floor_without_grammar: { p50_ms: median(bareRuns.map((r) => r.ms)), runs: bareRuns },
    },
    cold: { with_prefix_state_ms: coldWithState.ms, first_ever_ms: coldFirstEver.ms },
    client: {
      caro_p50_ms: median(client.caro),
      node_e_0_p50_ms: median(client.bare),
      caro_ms: client.caro,
      node_e_0_ms: client.bare,
    },
    daemon_peak_rss_bytes: rss,
  };
  const ratios = {
    warm_vs_floor: median(onMs) / median(floorMs),
    prefix_cache_speedup: median(offRuns.map((r) => r.ms)) / median(sameFive),
    client_vs_node: median(client.caro) / median(client.bare),
    rss_over_model_mb: (rss - modelBytes) / 1e6,
  };
  results.ratios = ratios;
  results.targets = {
    warm_within_1_15x_floor: ratios.warm_vs_floor <= 1.15,
    prefix_cache_at_least_3x: ratios.prefix_cache_speedup >= 3,
    rss_within_model_plus_300mb: ratios.rss_over_model_mb <= 300,
    client_within_1_5x_node: ratios.client_vs_node <= 1.5,
  };
  mkdirSync(join(ROOT, "bench"), { recursive: true });
  writeFileSync(join(ROOT, "bench", "results.json"), `${JSON.stringify(results, null, 2)}\n`);

  const row = (name, value, target) => console.log(`${name.padEnd(46)}${value.padEnd(26)}${target}`);
  console.log(`\ncaro benchmark · ${modelPath.split("/").at(-1)} · ${threads} threads · ${new Date().toISOString()}\n`);
  row("measure", "result", "target");
  row("warm end-to-end, prefix cache on (p50 / p95)", `${median(onMs).toFixed(0)} / ${p95(onMs).toFixed(0)} ms`, "");
  row("floor: node-llama-cpp alone, same grammar", `${median(floorMs).toFixed(0)} / ${p95(floorMs).toFixed(0)} ms`, "");
  row("  (the same without the grammar, p50)", `${results.warm.floor_without_grammar.p50_ms.toFixed(0)} ms`, "");
  row(
    "  warm p50 / floor p50",
    `${ratios.warm_vs_floor.toFixed(2)}x`,
    `<= 1.15x  ${results.targets.warm_within_1_15x_floor ? "met" : "MISSED"}`,
  );
  row(`warm, prefix cache off (p50 of ${OFF_RUNS})`, `${results.warm.prefix_cache_off.p50_ms.toFixed(0)} ms`, "");
  row(
    "  prefix cache speed-up (same requests)",
    `${ratios.prefix_cache_speedup.toFixed(1)}x`,
    `>= 3x     ${results.targets.prefix_cache_at_least_3x ? "met" : "MISSED"}`,
  );
  row("cold start, prefix state on disk", `${coldWithState.ms.toFixed(0)} ms`, "");
  row("cold start, first ever (prefill + save)", `${coldFirstEver.ms.toFixed(0)} ms`, "");
  row("client with an instant backend (p50)", `${median(client.caro).toFixed(0)} ms`, "");
  row("node -e 0 (p50)", `${median(client.bare).toFixed(0)} ms`, "");
  row(
    "  client / node -e 0",
    `${ratios.client_vs_node.toFixed(2)}x`,
    `<= 1.5x   ${results.targets.client_within_1_5x_node ? "met" : "MISSED"}`,
  );
  row("daemon peak RSS", `${(rss / 1e6).toFixed(0)} MB (model ${(modelBytes / 1e6).toFixed(0)} MB)`, "");
  row(
    "  over the model file",
    `${ratios.rss_over_model_mb.toFixed(0)} MB`,
    `<= 300 MB ${results.targets.rss_within_model_plus_300mb ? "met" : "MISSED"}`,
  );
  console.log(`\nwritten to bench/results.json`);
  for (const h of [on, off]) rmSync(h.dir, { recursive: true, force: true });
}

await main();
