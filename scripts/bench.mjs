#!/usr/bin/env node
// npm run bench: caro's speed, measured side by side in one run against node-llama-cpp alone,
// with a model of Qwen2.5-Coder-1.5B's exact shape (random Q4_0 weights: real timings, nonsense
// text). Prints a table and writes bench/results.json. Targets (from the speed issue):
//   warm p50 within 1.15x the floor; prefix cache at least 3x faster than without;
//   daemon peak RSS at most the model file + 300 MB; the client at most 1.5x `node -e 0`.
// Sections of their own: --busy (a warm answer with one core kept busy by another program,
// scripts/bench-busy.mjs), --first (the first Ctrl-G 10 s after a shell starts, scripts/bench-first.mjs),
// --start (a command-line caro's start against node -e 0, scripts/bench-start.mjs) and --grounding
// (the tool lines, the folder's and the checks against none of them, scripts/bench-grounding.mjs).

import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { busyComparison } from "./bench-busy.mjs";
import { firstCtrlG } from "./bench-first.mjs";
import { groundingBench } from "./bench-grounding.mjs";
import { startBench } from "./bench-start.mjs";
import { keystrokeBench } from "./bench-keystroke.mjs";
import { instantOllama } from "./instant-ollama.mjs";
import { openSession } from "./bench-session.mjs";
import { makeGguf } from "./make-gguf.mjs";

const ROOT = new URL("..", import.meta.url).pathname;
const CARO = join(ROOT, "bin", "caro.js");
// Knobs for iterating on a busy machine; the defaults are what results.json is made with.
//   BENCH_RUNS: warm requests per scenario; BENCH_PHASE_RUNS: requests timed phase by phase;
//   BENCH_PARTS: which parts to run, of full (the 1.5B shape), fast (a tiny model), grammar.
//   With fewer than every part, the results go to bench/results-partial.json.
const ON_RUNS = Number(process.env.BENCH_RUNS ?? 20);
const OFF_RUNS = Math.min(5, ON_RUNS);
const CLIENT_RUNS = ON_RUNS;
const PHASE_RUNS = Number(process.env.BENCH_PHASE_RUNS ?? 5);
const ALL_PARTS = ["full", "fast", "grammar"];
const PARTS = new Set((process.env.BENCH_PARTS ?? ALL_PARTS.join(",")).split(","));
// Short answers, so that decoding (the same in caro and the floor) does not drown the differences.
const MAX_COMMAND_LENGTH = 24;

const log = (line) => process.stderr.write(`bench: ${line}\n`);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const p95 = (xs) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil(xs.length * 0.95) - 1)];

function generatedModel(name, preset) {
  const hash = createHash("sha256")
    .update(readFileSync(join(ROOT, "scripts", "make-gguf.mjs")))
    .digest("hex")
    .slice(0, 12);
  const path = join(ROOT, ".cache", "bench-models", `${name}-${hash}.gguf`);
  if (!existsSync(path)) {
    log(`making the ${preset} model once…`);
    // Answers that pass the checks against the machine: the bench measures caro, not a retry.
    makeGguf(path, { preset, steer: "programs" });
  }
  return path;
}

/** Qwen2.5-Coder-1.5B's exact shape: the floor is about a second here. */
const benchModel = () => generatedModel("qwen2.5-coder-1.5b-shape", "qwen2.5-coder-1.5b");
/** The tiny test shape: the floor is tens of ms, so caro's own cost is what shows. */
const fastModel = () => generatedModel("tiny", "tiny");

/** The labelled requests in ../shared/data when they are there (the first line is the header). */
function allRequests() {
  const data = join(ROOT, "..", "shared", "data", "caro_eval_cases.tsv");
  if (!existsSync(data))
    return Array.from({ length: 100 }, (_, i) => `list the files changed in the last ${i + 1} days`);
  return readFileSync(data, "utf8")
    .trim()
    .split("\n")
    .slice(1)
    .map((l) => l.split("\t")[0]);
}

const requests = () => allRequests().slice(0, ON_RUNS);

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

async function timed(args, env, caro = CARO) {
  const start = performance.now();
  const result = await execa(process.execPath, [caro, ...args], {
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

/**
 * The daemon's peak resident memory, less the model file's pages it maps: llama.cpp maps the file
 * (README, Speed), and those pages are the page cache's, shared with any process reading the file
 * and dropped by the kernel under pressure. What is left is caro's own, weights repacked included.
 */
function peakRss(pid, modelPath) {
  const peak = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))[1]) * 1024;
  let mapped = 0;
  let inModel = false;
  for (const line of readFileSync(`/proc/${pid}/smaps`, "utf8").split("\n")) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) inModel = line.trimEnd().endsWith(modelPath);
    else if (inModel && line.startsWith("Rss:")) mapped += Number(/(\d+) kB/.exec(line)[1]) * 1024;
  }
  return peak - mapped;
}

/**
 * Each request as Ctrl-G sends it once the shell's session client runs: the client, the socket,
 * the daemon (scripts/bench-session.mjs). Token counts from the daemon's log. With `bare`,
 * `node -e 0` runs after each, so the two are measured side by side under the same load.
 */
async function warmRuns(h, list, { bare = false, baseline = null, floor = null } = {}) {
  await timed(["--json", "warm up the model and its prefix"], h.env);
  const session = await openSession(CARO, h.env);
  let baselineSession = null;
  let baselineShell = null;
  if (baseline) {
    await timed(["--json", "warm up the model and its prefix"], baseline.home.env, baseline.caro);
    // A shell of its own: a session client for this process's pid would end the one above.
    baselineShell = spawn("sleep", ["infinity"], { stdio: "ignore" });
    baselineSession = await openSession(baseline.caro, baseline.home.env, "bash", baselineShell.pid);
  }
  const ask = async (s, request) => {
    const reply = await s.ask(["--", request]);
    if (reply.status !== 0) throw new Error(`bench: the widget failed (${reply.status}): ${reply.output}`);
    return reply.ms;
  };
  // A shell's first Ctrl-G may find its session client still loading: not what is measured here.
  await ask(session, "warm up the session client");
  if (baselineSession) await ask(baselineSession, "warm up the session client");
  const runs = [];
  try {
    for (const request of list) {
      const baselineMs = baselineSession ? await ask(baselineSession, request) : undefined;
      const ms = await ask(session, request);
      let nodeMs;
      if (bare) {
        const start = performance.now();
        await execa(process.execPath, ["-e", "0"], { stdin: "ignore" });
        nodeMs = performance.now() - start;
      }
      const last = readFileSync(join(h.dir, "state", "caro", "daemon.log"), "utf8")
        .trim()
        .split("\n")
        .at(-1);
      const counts = /\((\w+), (\d+) prompt \+ (\d+) generated tokens(?:, \d+ threads)?(?:, \d+ check retry)?\)$/.exec(
        last,
      );
      if (!counts) throw new Error(`no token counts in the daemon log: ${last}`);
      // The floor for this very request right after it: the two see the same load.
      const floorRun = floor ? await floor.run(request, Number(counts[3])) : null;
      runs.push({
        request,
        ms,
        prompt_tokens: Number(counts[2]),
        generated_tokens: Number(counts[3]),
        ...(bare ? { node_e_0_ms: nodeMs } : {}),
        ...(baseline ? { baseline_ms: baselineMs } : {}),
        ...(floorRun ? { floor_ms: floorRun.ms, floor_generated_tokens: floorRun.generated_tokens } : {}),
      });
    }
  } finally {
    session.close();
    baselineSession?.close();
    baselineShell?.kill();
  }
  return runs;
}

/**
 * Where a warm request's time goes: `caro --json` reports each phase (client start, connect, config,
 * prompt, worker hand-off, tokenise, grammar, sequence, prefix, generate, parse, check, reply, the
 * client's check and rating). The requests differ from warmRuns' so the daemon's answer cache cannot answer them.
 */
async function phaseRuns(h, list) {
  const runs = [];
  for (const request of list.slice(0, PHASE_RUNS)) {
    const { ms, out } = await timed(["--json", `${request} (timed)`], h.env);
    const t = JSON.parse(out).timings;
    t.reply_ms = t.daemon_ms - t.total_ms - (t.config_ms ?? 0);
    // caro's own time on each side: the daemon's wait less the model's generating, and the client's rest.
    t.daemon_side_ms = t.daemon_ms - t.generate_ms;
    t.client_side_ms = ms - t.daemon_ms;
    runs.push({ ...t, end_to_end_ms: ms });
  }
  const keys = Object.keys(runs[0]).filter((k) => k.endsWith("_ms"));
  return Object.fromEntries(keys.map((k) => [k, median(runs.map((r) => r[k] ?? 0))]));
}

/**
 * node-llama-cpp alone: the same prompt text, the same new tokens, as many generated tokens, under
 * the same grammar (llama.cpp work every caro answer needs), or without it. Opened once; `run`
 * answers one request, so caro's runs and the floor's can alternate under the same load.
 */
async function openFloor(modelPath, threads, firstRequest) {
  const { getLlama, LlamaChatSession, LlamaLogLevel } = await import("node-llama-cpp");
  const { chatWrapperFor } = await import("../dist/worker/chat-wrapper.js");
  const { buildPrompt } = await import("../dist/prompt/build.js");
  const { detectContext } = await import("../dist/prompt/context.js");
  const { draftSchema } = await import("../dist/answer/draft.js");
  const { oneLineRequest } = await import("../dist/backends/one-line.js");
  const llama = await getLlama({ gpu: "auto", build: "never", maxThreads: threads, logLevel: LlamaLogLevel.error });
  const model = await llama.loadModel({ modelPath, useMmap: llama.gpu === false ? false : "auto" });
  const schema = draftSchema(false, MAX_COMMAND_LENGTH);
  const context0 = detectContext("bash", tmpdir());
  // The constraint and prompt caro's embedded backend uses for the same request: one line where it can.
  const asCaroAsks = (request) => {
    const prompt = buildPrompt(context0, request);
    return oneLineRequest(prompt, schema)?.prompt ?? prompt;
  };
  const line = oneLineRequest(buildPrompt(context0, firstRequest), schema);
  const grammar = line
    ? await llama.createGrammar({ grammar: line.grammar })
    : await llama.createGrammarForJsonSchema(schema);
  const context = await model.createContext({ contextSize: 2048, threads });
  const sequence = context.getSequence();
  const chatWrapper = chatWrapperFor(model);
  const history = (prompt) => [
    { type: "system", text: prompt.system },
    ...prompt.examples.flatMap((e) => [
      { type: "user", text: e.user },
      { type: "model", response: [e.assistant] },
    ]),
  ];
  const warm = new LlamaChatSession({ contextSequence: sequence, chatWrapper, autoDisposeSequence: false });
  warm.setChatHistory(history(asCaroAsks(firstRequest)));
  await warm.preloadPrompt("");
  warm.dispose({ disposeSequence: false });
  return {
    async run(request, generatedTokens, withGrammar = true) {
      const prompt = asCaroAsks(request);
      const session = new LlamaChatSession({ contextSequence: sequence, chatWrapper, autoDisposeSequence: false });
      session.setChatHistory(history(prompt));
      const inBefore = sequence.tokenMeter.usedInputTokens;
      const outBefore = sequence.tokenMeter.usedOutputTokens;
      const start = performance.now();
      await session.prompt(prompt.user, {
        maxTokens: generatedTokens,
        temperature: 0.2,
        seed: 1,
        ...(withGrammar ? { grammar } : {}),
      });
      const ms = performance.now() - start;
      session.dispose({ disposeSequence: false });
      return {
        ms,
        prompt_tokens: sequence.tokenMeter.usedInputTokens - inBefore,
        generated_tokens: sequence.tokenMeter.usedOutputTokens - outBefore,
      };
    },
    close: () => model.dispose(),
  };
}

/**
 * Two ways to hold the model to a command, on the same requests: caro's JSON schema with its JSON
 * prompt, and one plain line under a one-line GBNF grammar with the prompt asking for the command
 * alone (its examples the same commands, unwrapped). Each answer runs to its natural end, as in
 * caro; each is read as caro reads it and checked as caro checks it, to count unusable answers.
 */
async function grammarTrial(modelPath, threads, requests, rounds) {
  const { getLlama, LlamaChatSession, LlamaLogLevel } = await import("node-llama-cpp");
  const { chatWrapperFor } = await import("../dist/worker/chat-wrapper.js");
  const { buildPrompt } = await import("../dist/prompt/build.js");
  const { detectContext } = await import("../dist/prompt/context.js");
  const { draftSchema, parseDraft } = await import("../dist/answer/draft.js");
  const { draftProblem } = await import("../dist/answer/check.js");
  const { lineGrammar } = await import("../dist/backends/one-line.js");
  const llama = await getLlama({ gpu: "auto", build: "never", maxThreads: threads, logLevel: LlamaLogLevel.error });
  const model = await llama.loadModel({ modelPath, useMmap: llama.gpu === false ? false : "auto" });
  // A sequence for each, each holding its own evaluated prefix: the two alternate request by request,
  // so a change in the machine's load falls on both alike.
  const context = await model.createContext({ contextSize: 2048, threads, sequences: 2 });
  const chatWrapper = chatWrapperFor(model);
  const here = detectContext("bash", tmpdir());
  const plain = (prompt) => ({
    system: prompt.system.replace(/^Answer with JSON only:.*$/m, "Answer with the command alone, on one line."),
    examples: prompt.examples.map((e) => ({ user: e.user, assistant: JSON.parse(e.assistant).command })),
    user: prompt.user,
  });
  const variants = {
    json: {
      grammar: await llama.createGrammarForJsonSchema(draftSchema(false, MAX_COMMAND_LENGTH)),
      prompt: (request) => buildPrompt(here, request),
      read: (text) => parseDraft(text).command,
    },
    line: {
      grammar: await llama.createGrammar({ grammar: lineGrammar(MAX_COMMAND_LENGTH) }),
      prompt: (request) => plain(buildPrompt(here, request)),
      read: (text) => text.trim(),
    },
  };
  const history = (prompt) => [
    { type: "system", text: prompt.system },
    ...prompt.examples.flatMap((e) => [
      { type: "user", text: e.user },
      { type: "model", response: [e.assistant] },
    ]),
  ];
  const results = { json: [], line: [] };
  for (const variant of Object.values(variants)) {
    variant.sequence = context.getSequence();
    const warm = new LlamaChatSession({ contextSequence: variant.sequence, chatWrapper, autoDisposeSequence: false });
    warm.setChatHistory(history(variant.prompt(requests[0])));
    await warm.preloadPrompt("");
    warm.dispose({ disposeSequence: false });
  }
  for (let round = 0; round < rounds; round++)
    for (const request of requests)
      for (const [name, variant] of Object.entries(variants)) {
        const { sequence } = variant;
        const prompt = variant.prompt(request);
        const session = new LlamaChatSession({ contextSequence: sequence, chatWrapper, autoDisposeSequence: false });
        session.setChatHistory(history(prompt));
        const outBefore = sequence.tokenMeter.usedOutputTokens;
        const start = performance.now();
        const text = await session.prompt(prompt.user, {
          grammar: variant.grammar,
          maxTokens: 512,
          temperature: 0.2,
          seed: 1,
        });
        const ms = performance.now() - start;
        session.dispose({ disposeSequence: false });
        let problem;
        try {
          problem = await draftProblem({ command: variant.read(text), explanation: "" }, "bash", MAX_COMMAND_LENGTH);
        } catch (error) {
          problem = error.message;
        }
        results[name].push({ ms, generated_tokens: sequence.tokenMeter.usedOutputTokens - outBefore, problem });
      }
  await model.dispose();
  const summary = (runs) => ({
    p50_ms: median(runs.map((r) => r.ms)),
    generated_tokens_p50: median(runs.map((r) => r.generated_tokens)),
    answers: runs.length,
    unusable: runs.filter((r) => r.problem !== null).length,
    problems: [...new Set(runs.filter((r) => r.problem !== null).map((r) => r.problem.slice(0, 100)))].slice(0, 5),
  });
  return { json_schema: summary(results.json), one_line_gbnf: summary(results.line) };
}

async function clientCost(requestList) {
  // An Ollama stand-in that answers at once: what is left is caro's own cost per keystroke, through
  // the shell's session client (what Ctrl-G uses) and through a `caro widget` process of its own
  // (the fallback when no session client can run, and what any `caro` command pays to start).
  const server = await instantOllama();
  const h = home(`backend = "ollama"\n[backends.ollama]\nhost = "http://127.0.0.1:${server.port}"\n`);
  await timed(["--json", "warm"], h.env);
  const session = await openSession(CARO, h.env);
  await session.ask(["--", "warm up the session client"]);
  const caro = [];
  const oneShot = [];
  const bare = [];
  for (let i = 0; i < CLIENT_RUNS; i++) {
    const request = `${requestList[i % requestList.length]} ${i}`;
    const reply = await session.ask(["--", request]);
    if (reply.status !== 0) throw new Error(`bench: the widget failed (${reply.status}): ${reply.output}`);
    caro.push(reply.ms);
    let start = performance.now();
    await execa(process.execPath, [CARO, "widget", "bash", `${request} again`], {
      env: h.env,
      extendEnv: false,
      stdin: "ignore",
    });
    oneShot.push(performance.now() - start);
    start = performance.now();
    await execa(process.execPath, ["-e", "0"], { stdin: "ignore" });
    bare.push(performance.now() - start);
  }
  session.close();
  await execa(process.execPath, [CARO, "daemon", "stop"], { env: h.env, extendEnv: false, reject: false });
  server.close();
  rmSync(h.dir, { recursive: true, force: true });
  return { caro, oneShot, bare };
}

const row = (name, value, target = "") => console.log(`${name.padEnd(46)}${value.padEnd(26)}${target}`);
const ms = (x) => `${x.toFixed(0)} ms`;
const verdict = (met) => (met ? "met" : "MISSED");

/** The 1.5B shape: caro against the floor, the prefix cache, cold starts, the client, memory. */
async function fullPart(list) {
  const modelPath = benchModel();
  const modelBytes = statSync(modelPath).size;
  const threads = availableParallelism();
  const config = (extra = "") =>
    `backend = "embedded"\nmax_command_length = ${MAX_COMMAND_LENGTH}\n[backends.embedded]\nmodel = ` +
    `"${modelPath}"\nthreads = ${threads}\n${extra}`;

  log(`model ${modelPath} (${(modelBytes / 2 ** 20).toFixed(0)} MiB), ${threads} threads`);
  log("full 1/5 warm requests through the session client and socket, prefix cache on, each followed by the floor…");
  const on = home(config());
  const sideBySide = await openFloor(modelPath, threads, list[0]);
  const onRuns = await warmRuns(on, list, { floor: sideBySide });
  const phases = await phaseRuns(on, list);
  const rss = peakRss(daemonPid(on), modelPath);
  await timed(["daemon", "stop"], on.env);

  log("full 2/5 the same, prefix cache off…");
  const off = home(config("prefix_cache = false\n"));
  const offRuns = await warmRuns(off, list.slice(0, OFF_RUNS));
  await timed(["daemon", "stop"], off.env);

  log("full 3/5 the floor without the grammar (with it, it ran after each warm request)…");
  const floorRuns = onRuns.map((r) => ({ ms: r.floor_ms, generated_tokens: r.floor_generated_tokens }));
  const bareRuns = [];
  for (const run of onRuns) bareRuns.push(await sideBySide.run(run.request, run.generated_tokens, false));
  await sideBySide.close();

  log("full 4/5 cold starts: no daemon, then the first answer…");
  // The prefix state from run 1 is in on's cache: the usual cold start. Then without it: the first ever.
  const coldWithState = await timed(["--json", "a cold request"], on.env);
  await timed(["daemon", "stop"], on.env);
  rmSync(join(on.dir, ".cache", "caro", "prefix"), { recursive: true, force: true });
  const coldFirstEver = await timed(["--json", "another cold request"], on.env);
  await timed(["daemon", "stop"], on.env);

  log("full 5/5 the client's own cost against an instant backend, and node -e 0…");
  const client = await clientCost(list);
  for (const h of [on, off]) rmSync(h.dir, { recursive: true, force: true });

  const onMs = onRuns.map((r) => r.ms);
  const floorMs = floorRuns.map((r) => r.ms);
  const sameFive = onRuns.slice(0, OFF_RUNS).map((r) => r.ms);
  const results = {
    model: { path: modelPath, bytes: modelBytes, threads, max_command_length: MAX_COMMAND_LENGTH },
    warm: {
      prefix_cache_on: { p50_ms: median(onMs), p95_ms: p95(onMs), runs: onRuns },
      prefix_cache_off: { p50_ms: median(offRuns.map((r) => r.ms)), runs: offRuns },
      floor: { p50_ms: median(floorMs), p95_ms: p95(floorMs), runs: floorRuns },
      floor_without_grammar: { p50_ms: median(bareRuns.map((r) => r.ms)), runs: bareRuns },
      phases_p50_ms: phases,
    },
    cold: { with_prefix_state_ms: coldWithState.ms, first_ever_ms: coldFirstEver.ms },
    client: {
      caro_p50_ms: median(client.caro),
      one_shot_p50_ms: median(client.oneShot),
      node_e_0_p50_ms: median(client.bare),
      caro_ms: client.caro,
      one_shot_ms: client.oneShot,
      node_e_0_ms: client.bare,
    },
    daemon_peak_rss_bytes: rss,
  };
  const ratios = {
    warm_vs_floor: median(onMs) / median(floorMs),
    prefix_cache_speedup: median(offRuns.map((r) => r.ms)) / median(sameFive),
    client_vs_node: median(client.caro) / median(client.bare),
    one_shot_vs_node: median(client.oneShot) / median(client.bare),
    rss_over_model_mb: (rss - modelBytes) / 1e6,
  };
  const targets = {
    warm_within_1_15x_floor: ratios.warm_vs_floor <= 1.15,
    prefix_cache_at_least_3x: ratios.prefix_cache_speedup >= 3,
    rss_within_model_plus_300mb: ratios.rss_over_model_mb <= 300,
    client_within_1_5x_node: ratios.client_vs_node <= 1.5,
  };
  const print = () => {
    console.log(`\n1.5B shape · ${modelPath.split("/").at(-1)} · ${threads} threads\n`);
    row("measure", "result", "target");
    row("warm end-to-end via the session client (p50 / p95)", `${ms(median(onMs))} / ${ms(p95(onMs))}`);
    row("floor, same grammar, after each request", `${ms(median(floorMs))} / ${ms(p95(floorMs))}`);
    row("  (the same without the grammar, p50)", ms(results.warm.floor_without_grammar.p50_ms));
    row(
      "  warm p50 / floor p50",
      `${ratios.warm_vs_floor.toFixed(2)}x`,
      `<= 1.15x  ${verdict(targets.warm_within_1_15x_floor)}`,
    );
    printPhases(phases);
    row(`warm, prefix cache off (p50 of ${OFF_RUNS})`, ms(results.warm.prefix_cache_off.p50_ms));
    row(
      "  prefix cache speed-up (same requests)",
      `${ratios.prefix_cache_speedup.toFixed(1)}x`,
      `>= 3x     ${verdict(targets.prefix_cache_at_least_3x)}`,
    );
    row("cold start, prefix state on disk", ms(coldWithState.ms));
    row("cold start, first ever (prefill + save)", ms(coldFirstEver.ms));
    row("session client, instant backend (p50)", ms(median(client.caro)));
    row(
      "  a `caro widget` process instead (p50)",
      `${ms(median(client.oneShot))} (${ratios.one_shot_vs_node.toFixed(2)}x node)`,
    );
    row("node -e 0 (p50)", ms(median(client.bare)));
    row(
      "  session client / node -e 0",
      `${ratios.client_vs_node.toFixed(2)}x`,
      `<= 1.5x   ${verdict(targets.client_within_1_5x_node)}`,
    );
    row(
      "daemon peak RSS, the mapped model file left out",
      `${(rss / 1e6).toFixed(0)} MB (model ${(modelBytes / 1e6).toFixed(0)} MB)`,
    );
    row(
      "  over the model file",
      `${ratios.rss_over_model_mb.toFixed(0)} MB`,
      `<= 300 MB ${verdict(targets.rss_within_model_plus_300mb)}`,
    );
  };
  return { results, ratios, targets, print };
}

/** The phases of a warm request in the order they happen (the keys of Answer.timings, less _ms). */
const PHASES =
  "client_start connect config select prompt handoff load budget grammar sequence prefix generate parse check rate " +
  "reply judge";

function printPhases(phases) {
  const parts = PHASES.split(" ")
    .filter((k) => typeof phases[`${k}_ms`] === "number")
    .map((k) => `${k} ${phases[`${k}_ms`]}`);
  console.log(`  phases, p50 of ${PHASE_RUNS} \`caro --json\` (ms; end to end ${phases.end_to_end_ms.toFixed(0)}):`);
  for (let i = 0; i < parts.length; i += 6) console.log(`    ${parts.slice(i, i + 6).join(" · ")}`);
  console.log(
    `    caro's own: daemon side (its wait less generating) ${phases.daemon_side_ms} · ` +
      `client side (process, connect, check) ${phases.client_side_ms.toFixed(0)}`,
  );
}

/**
 * The tiny model, whose answer takes tens of ms: what is left of a warm Ctrl-G is caro's own cost.
 * `node -e 0` runs between requests, so the part no client process can avoid is measured alongside.
 */
async function fastPart(list) {
  const modelPath = fastModel();
  // One thread: a tiny model decodes fastest so (the tests' setting too).
  const threads = 1;
  const config =
    `backend = "embedded"\nmax_command_length = ${MAX_COMMAND_LENGTH}\n[backends.embedded]\nmodel = ` +
    `"${modelPath}"\nthreads = ${threads}\n`;
  log("fast 1/2 warm requests with the tiny model, each followed by the floor and node -e 0…");
  const h = home(config);
  // BENCH_BASELINE: another checkout of caro (built), whose widget answers each request just before
  // this one's, from its own daemon: before and after, side by side.
  const baselineRoot = process.env.BENCH_BASELINE;
  const baseline = baselineRoot ? { caro: join(baselineRoot, "bin", "caro.js"), home: home(config) } : null;
  const sideBySide = await openFloor(modelPath, threads, list[0]);
  const runs = await warmRuns(h, list, { bare: true, baseline, floor: sideBySide });
  const phases = await phaseRuns(h, list);
  await timed(["daemon", "stop"], h.env);
  rmSync(h.dir, { recursive: true, force: true });
  if (baseline) {
    await timed(["daemon", "stop"], baseline.home.env, baseline.caro);
    rmSync(baseline.home.dir, { recursive: true, force: true });
  }
  log("fast 2/2 the floor without the grammar (with it, it ran after each warm request)…");
  const withGrammar = runs.map((r) => ({ ms: r.floor_ms, generated_tokens: r.floor_generated_tokens }));
  const withoutGrammar = [];
  for (const run of runs) withoutGrammar.push(await sideBySide.run(run.request, run.generated_tokens, false));
  await sideBySide.close();
  const warm = median(runs.map((r) => r.ms));
  const floorP50 = median(withGrammar.map((r) => r.ms));
  const node = median(runs.map((r) => r.node_e_0_ms));
  const results = {
    model: { path: modelPath, threads },
    warm: { p50_ms: warm, p95_ms: p95(runs.map((r) => r.ms)), runs },
    floor: { p50_ms: floorP50, runs: withGrammar },
    floor_without_grammar: { p50_ms: median(withoutGrammar.map((r) => r.ms)), runs: withoutGrammar },
    node_e_0_p50_ms: node,
    added_ms: warm - floorP50,
    phases_p50_ms: phases,
    ...(baseline ? { baseline: { caro: baseline.caro, p50_ms: median(runs.map((r) => r.baseline_ms)) } } : {}),
  };
  const print = () => {
    console.log(`\ntiny model · ${modelPath.split("/").at(-1)} · ${threads} thread\n`);
    row("measure", "result", "target");
    row("warm end-to-end via the session client (p50 / p95)", `${ms(warm)} / ${ms(results.warm.p95_ms)}`);
    row("floor, same grammar, after each request", ms(floorP50));
    row("  (the same without the grammar, p50)", ms(results.floor_without_grammar.p50_ms));
    row("node -e 0, between the same requests (p50)", ms(node));
    row("  caro's added time (warm - floor)", ms(results.added_ms), `<= 40 ms  ${verdict(results.added_ms <= 40)}`);
    row("  warm p50 / floor p50", `${(warm / floorP50).toFixed(2)}x`);
    if (results.baseline) {
      row("baseline caro, the same requests (p50)", ms(results.baseline.p50_ms));
      row("  this caro / baseline", `${(warm / results.baseline.p50_ms).toFixed(2)}x`);
    }
    printPhases(phases);
  };
  return { results, print };
}

/** The JSON schema against one plain line, with the tiny model on many requests and the 1.5B shape on a few. */
async function grammarPart(list, allRequests) {
  log(`grammar 1/2 tiny model, ${allRequests.length} requests, each under both constraints…`);
  const tiny = await grammarTrial(fastModel(), 1, allRequests, 1);
  log(`grammar 2/2 the 1.5B shape, ${list.length} requests, twice each under both…`);
  const full = await grammarTrial(benchModel(), availableParallelism(), list, 2);
  const { lineGrammar } = await import("../dist/backends/one-line.js");
  const results = { line_grammar: lineGrammar(MAX_COMMAND_LENGTH), tiny, full };
  const print = () => {
    console.log(`\nconstraint: JSON schema vs one line (${results.line_grammar})\n`);
    row("measure", "JSON schema", "one line");
    for (const [name, r] of Object.entries({ tiny, "1.5B shape": full })) {
      row(`${name}: answer p50`, ms(r.json_schema.p50_ms), ms(r.one_line_gbnf.p50_ms));
      row(
        `${name}: generated tokens p50`,
        String(r.json_schema.generated_tokens_p50),
        String(r.one_line_gbnf.generated_tokens_p50),
      );
      row(
        `${name}: unusable answers`,
        `${r.json_schema.unusable} of ${r.json_schema.answers}`,
        `${r.one_line_gbnf.unusable} of ${r.one_line_gbnf.answers}`,
      );
    }
  };
  return { results, print };
}

async function main() {
  const section = { home, timed, requests, log };
  if (process.argv.includes("--busy")) return busyComparison({ modelPath: benchModel(), ...section });
  if (process.argv.includes("--first")) return firstCtrlG({ modelPath: benchModel(), ...section });
  if (process.argv.includes("--start")) return startBench(section);
  if (process.argv.includes("--grounding")) return groundingBench({ modelPath: benchModel(), ...section });
  const list = requests();
  const results = {
    date: new Date().toISOString(),
    // The load average says how busy the machine was: timings on a shared machine are only comparable side by side.
    machine: { cores: availableParallelism(), node: process.version, load_average_at_start: loadavg() },
    runs: { warm: ON_RUNS, phases: PHASE_RUNS },
  };
  const printers = [];
  if (PARTS.has("full")) {
    const full = await fullPart(list);
    Object.assign(results, full.results, { ratios: full.ratios, targets: full.targets });
    printers.push(full.print);
  }
  if (PARTS.has("fast")) {
    const fast = await fastPart(list);
    results.fast_model = fast.results;
    results.ratios = { ...results.ratios, fast_warm_vs_floor: fast.results.warm.p50_ms / fast.results.floor.p50_ms };
    results.targets = { ...results.targets, fast_added_within_40ms: fast.results.added_ms <= 40 };
    printers.push(fast.print);
  }
  if (PARTS.has("grammar")) {
    const grammar = await grammarPart(list, allRequests());
    results.grammar = grammar.results;
    printers.push(grammar.print);
  }
  results.machine.load_average_at_end = loadavg();
  const complete = ALL_PARTS.every((p) => PARTS.has(p));
  const out = join(ROOT, "bench", complete ? "results.json" : "results-partial.json");
  mkdirSync(join(ROOT, "bench"), { recursive: true });
  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\ncaro benchmark · ${availableParallelism()} cores · ${results.date}`);
  for (const print of printers) print();
  console.log(`\nwritten to ${out.slice(ROOT.length)}`);
}

await main();
// Ctrl-G from the keyboard in real shells: its own rows and bench/keystroke.json (scripts/bench-keystroke.mjs).
// --busy, --first, --start and --grounding are runs of their own.
if (!["--busy", "--first", "--start", "--grounding"].some((flag) => process.argv.includes(flag)))
  await keystrokeBench(ROOT);
