// Runs inside a piscina worker thread. The model is loaded once and kept for every later task;
// a task is one request. Cancellation is cooperative (an AbortSignal fed from the control port),
// because terminating a worker while llama.cpp evaluates aborts the whole process. For the same
// reason a cancelled request's answer is abandoned at once but its llama.cpp work never is: the
// work finishes (or stops at its next safe point) in the background, the next task waits for it,
// and the pool is only destroyed after a close task has waited for it and unloaded the model.

import { createHash } from "node:crypto";
import { rmSync, statSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import {
  getLlama,
  GgufInsights,
  LlamaChatSession,
  LlamaLogLevel,
  readGgufFileInfo,
  type ChatWrapper,
  type ChatHistoryItem,
  type Llama,
  type LlamaContextSequence,
  type LlamaGrammar,
  type LlamaModel,
} from "node-llama-cpp";
import { chatWrapperFor } from "./chat-wrapper.js";
import { loadableState, PrefixStoreError, saveState, saveWanted } from "./prefix-store.js";
import {
  modelGoneMessage,
  type CloseTask,
  type EstimateOutcome,
  type EstimateTask,
  type InferenceOutcome,
  type InferenceTask,
  type ModelOptions,
  type WorkerEvent,
} from "./protocol.js";
import { ModelError, RequestTooLongError } from "../errors.js";

interface LoadedModel {
  key: string;
  /** The file's identity when it was loaded: these weights are that file's, whatever is at the path now. */
  identity: string;
  llama: Llama;
  model: LlamaModel;
  sequence: LlamaContextSequence;
  grammars: Map<string, Promise<LlamaGrammar>>;
  /** Resolved once: resolving it renders the model's Jinja template several times (measured ~0.3 s). */
  chatWrapper: ChatWrapper;
  /** The prefix (by hash) whose evaluation the sequence holds now. */
  warmPrefix: string | null;
  /** Tokens of the fixed part with an empty request, by prefix hash: what a request's own tokens are counted from. */
  fixedTokens: Map<string, number>;
}

/** Tokens evaluated per llama.cpp call: a request's own are some dozens, the fixed prefix a few batches. */
const BATCH_TOKENS = 128;

/**
 * The most threads a context may ever be given: llama.cpp's own limit (GGML_MAX_N_THREADS). Each
 * request then caps its evaluation at its own count (usesThreads), so a threads edit never reloads.
 */
const MOST_THREADS = 512;

/**
 * On the CPU, llama.cpp maps the model file rather than copy it into memory of its own. Measured
 * with the 1.5B shape (README, Speed; scripts/bench-mmap.mjs): the load takes 0.45x the time and
 * the first request 0.5x, and 11 % less private memory (the weights llama.cpp does not repack,
 * the token embeddings most of all, stay the page cache's, shared with a `--no-daemon` run beside
 * the daemon and dropped under pressure). Its resident size shows the mapped file too: 1.7x.
 * CARO_BENCH_MMAP=0|1 exists for that bench only.
 */
const USE_MMAP = process.env.CARO_BENCH_MMAP !== "0";

/** Room kept for the answer: a request that leaves less would have its start cut off by llama.cpp. */
const ANSWER_RESERVE_TOKENS = 128;

const CANCELLED: InferenceOutcome = { ok: false, kind: "cancelled", message: "cancelled" };

const llamas = new Map<string, Promise<Llama>>();
/** Started with the first adaptive model, so its first request already has a second of history. */
let loaded: Promise<LoadedModel> | undefined;
let loadedKey = "";
let verbose = false;
/** Every task's llama.cpp work, chained: a task starts only once the one before it has finished. */
let tail: Promise<unknown> = Promise.resolve();
/** Aborted only when the pool closes: a model load is shared by every request, so no one request may abort it. */
const closing = new AbortController();
/** Prefix folders whose failure to save was already reported. */
const warnedDirs = new Set<string>();
/** Warnings raised before any request listened (while estimating): the next request hears them. */
const deferredWarnings: string[] = [];
/** Where a stray rejection or exception is reported, instead of killing this thread mid-evaluation. */
let reportStray: (text: string) => void = (text) => process.stderr.write(`caro worker: ${text}\n`);
process.on("unhandledRejection", (reason) => reportStray(`unexpected: ${(reason as Error)?.message ?? reason}`));
process.on("uncaughtException", (error) => reportStray(`unexpected: ${error.message}`));
// llama.cpp says why a load failed only in its log; keep the last lines to quote them.
const recentErrors: string[] = [];

function logger(level: LlamaLogLevel, message: string) {
  if (level === LlamaLogLevel.error || level === LlamaLogLevel.fatal) {
    recentErrors.push(message.trim());
    if (recentErrors.length > 20) recentErrors.shift();
  }
  if (verbose && message.trim()) process.stderr.write(`llama.cpp: ${message.trimEnd()}\n`);
}

function openLlama(gpu: ModelOptions["gpu"] | false): Promise<Llama> {
  return getLlama({
    gpu: gpu === "false" ? false : gpu,
    // Only prebuilt binaries: building llama.cpp from source needs a toolchain and the network.
    build: "never",
    // Each request sets its own (usesThreads); node-llama-cpp's default is max(4, cores).
    maxThreads: availableParallelism(),
    logLevel: LlamaLogLevel.warn,
    logger,
    progressLogs: false,
    skipDownload: true,
  });
}

/** llama.cpp for the asked GPU; a named GPU whose build cannot load falls back to the CPU, once, with a warning. */
function llamaFor(options: ModelOptions, warn: (text: string) => void): Promise<Llama> {
  const key = options.gpu;
  let llama = llamas.get(key);
  if (!llama) {
    llama = openLlama(options.gpu).catch((error: Error) => {
      if (options.gpu === "auto" || options.gpu === "false") throw error;
      warn(
        `llama.cpp's ${options.gpu} build cannot load here (${error.message.split("\n")[0]}): running on the CPU; ` +
          `set [backends.embedded] gpu = "auto" to stop this warning`,
      );
      return openLlama(false);
    });
    llamas.set(key, llama);
  }
  return llama;
}

/** The file at the path now: a different identity means the file was replaced and its weights must be loaded again. */
function fileIdentity(path: string): string {
  try {
    const stat = statSync(path);
    // Not ctime: a hard link to the same file changes it, and the weights stay the same.
    return [stat.dev, stat.ino, stat.size, stat.mtimeMs].join(":");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") throw new ModelError(modelGoneMessage(path));
    throw new ModelError(`cannot read the model file ${path}: ${(error as Error).message}`);
  }
}

type GgufInfo = Awaited<ReturnType<typeof readGgufFileInfo>>;

/** The last file's header, by its identity: estimating and then loading a copy read it once. */
let lastHeader: { identity: string; info: Promise<GgufInfo> } | undefined;

function ggufHeader(path: string, identity: string): Promise<GgufInfo> {
  if (lastHeader?.identity !== identity) {
    const info = checkGguf(path);
    lastHeader = { identity, info };
    info.catch(() => {
      if (lastHeader?.info === info) lastHeader = undefined;
    });
  }
  return lastHeader.info;
}

/** llama.cpp accepts a truncated file's header and fails later with a vague message; catch it here with a clear one. */
async function checkGguf(path: string): Promise<GgufInfo> {
  let info: GgufInfo;
  try {
    info = await readGgufFileInfo(path, {
      logWarnings: false,
      ignoreKeys: ["tokenizer.ggml.tokens", "tokenizer.ggml.merges", "tokenizer.ggml.token_type"],
    });
  } catch (error) {
    throw new ModelError(
      `${path} is a corrupt or truncated GGUF file (${(error as Error).message}): download it again`,
    );
  }
  const lastTensorStart = Math.max(0, ...(info.tensorInfo ?? []).map((t) => Number(t.fileOffset)));
  if (lastTensorStart >= statSync(path).size)
    throw new ModelError(`${path} is truncated: its tensors end past the end of the file; download it again`);
  return info;
}

async function load(
  options: ModelOptions,
  identity: string,
  signal: AbortSignal,
  warn: (text: string) => void,
): Promise<LoadedModel> {
  await ggufHeader(options.path, identity);
  const llama = await llamaFor(options, warn);
  recentErrors.length = 0;
  let model: LlamaModel;
  try {
    model = await llama.loadModel({
      modelPath: options.path,
      gpuLayers: options.gpuLayers,
      loadSignal: signal,
      useMmap: llama.gpu === false ? USE_MMAP : "auto",
    });
  } catch (error) {
    if (signal.aborted) throw error;
    const reason =
      recentErrors.find((line) => /error loading model/.test(line)) ?? recentErrors.at(-1) ?? (error as Error).message;
    throw new ModelError(
      `llama.cpp could not load ${options.path}: ${reason.replace(/^.*?error loading model: /, "")}`,
    );
  }
  // node-llama-cpp caps a context's ideal threads at the instance's most: lift it while creating
  // the context, so any later request's count fits (usesThreads sets it before each evaluation).
  llama.maxThreads = 0;
  const context = await model.createContext({
    contextSize: options.contextSize,
    threads: { ideal: MOST_THREADS, min: 1 },
    // llama.cpp sizes its compute buffer for a whole batch of outputs (tokens x vocabulary, 300 MB
    // at node-llama-cpp's 512 for a 150k vocabulary); a request's own tokens fit in far fewer.
    batchSize: BATCH_TOKENS,
    sequences: 1,
  });
  const chatWrapper = chatWrapperFor(model);
  const sequence = context.getSequence();
  const key = modelKey(options, identity);
  return {
    key,
    identity,
    llama,
    model,
    sequence,
    chatWrapper,
    grammars: new Map(),
    warmPrefix: null,
    fixedTokens: new Map(),
  };
}

function modelKey(options: ModelOptions, identity: string): string {
  return JSON.stringify([options, identity]);
}

async function loadedModel(
  options: ModelOptions,
  signal: AbortSignal,
  warn: (text: string) => void,
): Promise<{ model: LoadedModel; cached: boolean }> {
  // Taken before loading: if the file changes during the load, the next request sees it and loads again.
  const identity = fileIdentity(options.path);
  const key = modelKey(options, identity);
  if (loaded && loadedKey === key) {
    try {
      return { model: await loaded, cached: true };
    } catch {
      // The last load failed; try again below.
    }
  }
  if (loaded) {
    const previous = await loaded.catch(() => undefined);
    await previous?.model.dispose();
  }
  loadedKey = key;
  loaded = load(options, identity, signal, warn);
  loaded.catch(() => {
    loaded = undefined;
  });
  return { model: await loaded, cached: false };
}

/** The task's grammar, made once per model and grammar: building one parses it in llama.cpp. */
function grammarFor(model: LoadedModel, task: InferenceTask): Promise<LlamaGrammar> {
  const key = task.gbnf ?? JSON.stringify(task.schema);
  let grammar = model.grammars.get(key);
  if (!grammar) {
    grammar =
      task.gbnf === undefined
        ? (model.llama.createGrammarForJsonSchema(task.schema as never) as Promise<LlamaGrammar>)
        : model.llama.createGrammar({ grammar: task.gbnf });
    model.grammars.set(key, grammar);
  }
  return grammar;
}

function history(task: InferenceTask): ChatHistoryItem[] {
  return [
    { type: "system", text: task.prompt.system },
    ...task.prompt.examples.flatMap((example): ChatHistoryItem[] => [
      { type: "user", text: example.user },
      { type: "model", response: [example.assistant] },
    ]),
  ];
}

/**
 * The fixed part's identity: the loaded model file (by its identity, not only its path) and every
 * token of system prompt and examples. Not the context's size: the evaluated tokens are the same in
 * any context that holds them, so a context_size edit loads the saved state instead of evaluating
 * it again (measured with the slow test model: 5 ms against 6 s).
 */
function prefixHash(model: LoadedModel, task: InferenceTask): string {
  const { system, examples } = task.prompt;
  return createHash("sha256")
    .update(JSON.stringify([task.model.path, model.identity, system, examples]))
    .digest("hex")
    .slice(0, 24);
}

function tokensOf(model: LoadedModel, chatHistory: ChatHistoryItem[]): number {
  return model.chatWrapper.generateContextState({ chatHistory }).contextText.tokenize(model.model.tokenizer).length;
}

/**
 * How many tokens the answer may take; throws RequestTooLongError when the request leaves the
 * answer too little room, since llama.cpp would otherwise silently drop the start of the chat.
 */
function answerBudget(model: LoadedModel, task: InferenceTask, hash: string): number {
  const withRequest = (text: string): ChatHistoryItem[] => [
    ...history(task),
    { type: "user", text },
    { type: "model", response: [] },
  ];
  let fixed = model.fixedTokens.get(hash);
  if (fixed === undefined) {
    fixed = tokensOf(model, withRequest(""));
    model.fixedTokens.set(hash, fixed);
  }
  const total = tokensOf(model, withRequest(task.prompt.user));
  const contextSize = model.sequence.contextSize;
  const room = Math.max(0, contextSize - fixed - ANSWER_RESERVE_TOKENS);
  const own = total - fixed;
  if (own > room)
    throw new RequestTooLongError(
      `the request is too long: ${own} tokens, and the context has room for ${room} ` +
        `(context_size ${contextSize}, less ${fixed} for caro's instructions ` +
        `and ${ANSWER_RESERVE_TOKENS} for the answer): ` +
        `shorten it, or raise [backends.embedded] context_size`,
    );
  return Math.min(task.maxTokens, contextSize - total);
}

/**
 * Puts the evaluated fixed prefix in the sequence: already there, from its state file, or
 * evaluated now and saved for the next process. A request then evaluates only its own tokens,
 * because node-llama-cpp keeps the tokens a new prompt shares with the sequence's state.
 */
async function warmPrefix(
  model: LoadedModel,
  task: InferenceTask,
  hash: string,
  chat: LlamaChatSession,
  warn: (text: string) => void,
): Promise<WorkerEvent> {
  const started = performance.now();
  const done = (source: "memory" | "disk" | "evaluated" | "off") => ({
    type: "prefix" as const,
    source,
    ms: Math.round(performance.now() - started),
  });
  if (task.prefixCacheDir === null) {
    await model.sequence.clearHistory();
    model.warmPrefix = null;
    return done("off");
  }
  if (model.warmPrefix === hash) return done("memory");
  const dir = task.prefixCacheDir;
  const file = join(dir, `${hash}.state`);
  if (loadableState(file)) {
    try {
      // Safe: the hash names the model file's identity, and only this user can write the folder.
      await model.sequence.loadStateFromFile(file, { acceptRisk: true });
      model.warmPrefix = hash;
      return done("disk");
    } catch {
      rmSync(file, { force: true });
    }
  }
  await model.sequence.clearHistory();
  await chat.preloadPrompt("");
  model.warmPrefix = hash;
  if (saveWanted(dir)) {
    try {
      await saveState(dir, file, (path) => model.sequence.saveStateToFile(path));
    } catch (error) {
      // The prefix stays in memory, so this process is as fast as ever; only a fresh one prefills again.
      if (!warnedDirs.has(dir)) {
        warnedDirs.add(dir);
        const reason = error instanceof PrefixStoreError ? error.message : String(error);
        warn(
          `cannot save the prefix cache in ${dir} (${reason}): answers still come, ` +
            "but each new daemon evaluates caro's instructions again; free space or fix the folder",
        );
      }
    }
  }
  return done("evaluated");
}

/** Each call returns the milliseconds since the one before (the first: since the stopwatch was made), rounded. */
function stopwatch(): () => number {
  let last = performance.now();
  return () => {
    const now = performance.now();
    const ms = Math.round(now - last);
    last = now;
    return ms;
  };
}

/**
 * Caps the next evaluations at the task's threads (the configured count, or the cores other
 * programs leave free, judged by the main thread): llama.cpp hands each batch
 * min(context's ideal, llama.maxThreads) threads, and the context's ideal is the most there is.
 */
function usesThreads(model: LoadedModel, task: InferenceTask): number {
  model.llama.maxThreads = Math.max(1, Math.min(MOST_THREADS, task.threads));
  return model.llama.maxThreads;
}

/** The outcome of warming: nothing generated. */
function warmed(model: LoadedModel, prefix: WorkerEvent): InferenceOutcome {
  const source = prefix.type === "prefix" ? prefix.source : "off";
  const timings = { load_ms: 0, prefix_ms: prefix.type === "prefix" ? prefix.ms : null, first_token_ms: null };
  return {
    ok: true,
    text: "",
    gpu: model.llama.gpu,
    prefix: source,
    timings: { ...timings, budget_ms: 0, grammar_ms: 0, sequence_ms: 0, generate_ms: 0, worker_ms: 0 },
    tokens: { prompt: 0, generated: 0 },
  };
}

/** One request's llama.cpp work, start to end; it checks the signal wherever stopping is safe. */
async function run(
  task: InferenceTask,
  signal: AbortSignal,
  send: (event: WorkerEvent) => void,
): Promise<InferenceOutcome> {
  const started = performance.now();
  const warn = (text: string) => send({ type: "warning", text });
  for (const text of deferredWarnings.splice(0)) warn(text);
  try {
    const { model, cached } = await loadedModel(task.model, closing.signal, warn);
    const loadMs = performance.now() - started;
    send({ type: "loaded", ms: loadMs, gpu: model.llama.gpu, cached });
    if (signal.aborted) return CANCELLED;

    const lap = stopwatch();
    const hash = prefixHash(model, task);
    const maxTokens = answerBudget(model, task, hash);
    const budgetMs = lap();
    const grammar = await grammarFor(model, task);
    const grammarMs = lap();
    const threads = usesThreads(model, task);
    const chat = new LlamaChatSession({
      contextSequence: model.sequence,
      chatWrapper: model.chatWrapper,
      autoDisposeSequence: false,
    });
    try {
      chat.setChatHistory(history(task));
      let sequenceMs = lap();
      const prefix = await warmPrefix(model, task, hash, chat, warn);
      lap();
      send(prefix);
      if (signal.aborted) return CANCELLED;
      if (task.warmOnly) {
        // The user turn's start ("cwd: <folder>"), in memory only: a first request in that folder
        // evaluates no more of its own tokens than a warm one, which shares them with the last.
        chat.setChatHistory(history(task));
        await chat.preloadPrompt(task.prompt.user, { signal });
        return warmed(model, prefix);
      }
      // Warming (llama's preloadPrompt) left an empty user turn in the chat: start again from the fixed part.
      chat.setChatHistory(history(task));
      sequenceMs += lap();
      const promptTokensBefore = model.sequence.tokenMeter.usedInputTokens;
      const generatedBefore = model.sequence.tokenMeter.usedOutputTokens;
      let firstToken: number | null = null;
      send({ type: "generating", threads });
      const generateStart = performance.now();
      const text = await chat.prompt(task.prompt.user, {
        grammar,
        maxTokens,
        temperature: task.temperature,
        seed: task.seed,
        signal,
        stopOnAbortSignal: true,
        onTextChunk(chunk) {
          firstToken ??= performance.now() - generateStart;
          send({ type: "text", text: chunk });
        },
      });
      if (signal.aborted) return CANCELLED;
      return {
        ok: true,
        text,
        gpu: model.llama.gpu,
        prefix: prefix.type === "prefix" ? prefix.source : "off",
        timings: {
          load_ms: Math.round(loadMs),
          budget_ms: budgetMs,
          grammar_ms: grammarMs,
          sequence_ms: sequenceMs,
          prefix_ms: prefix.type === "prefix" ? prefix.ms : null,
          first_token_ms: firstToken && Math.round(firstToken),
          generate_ms: Math.round(performance.now() - generateStart),
          worker_ms: Math.round(performance.now() - started),
          threads,
        },
        tokens: {
          prompt: model.sequence.tokenMeter.usedInputTokens - promptTokensBefore,
          generated: model.sequence.tokenMeter.usedOutputTokens - generatedBefore,
        },
      };
    } finally {
      chat.dispose({ disposeSequence: false });
    }
  } catch (error) {
    if (signal.aborted) return CANCELLED;
    const message = (error as Error).message ?? String(error);
    const kind = error instanceof ModelError ? "model" : error instanceof RequestTooLongError ? "too-long" : "backend";
    return { ok: false, kind, message: verbose && kind === "backend" ? ((error as Error).stack ?? message) : message };
  }
}

/**
 * The RAM one copy of the model and its context take, estimated by node-llama-cpp from the file's
 * header (nothing is loaded): the weights kept off the GPU, the context's cache and buffers.
 */
async function estimate(task: EstimateTask): Promise<number> {
  const options = task.model;
  const info = await ggufHeader(options.path, fileIdentity(options.path));
  // No request is listening yet: its warning (a GPU build that cannot load) goes to the first one.
  const llama = await llamaFor(options, (text) => deferredWarnings.push(text));
  try {
    return await estimateWith(await GgufInsights.from(info, llama), llama, options);
  } catch {
    // An architecture node-llama-cpp cannot reckon with may still load: count the file itself.
    return statSync(options.path).size;
  }
}

async function estimateWith(insights: GgufInsights, llama: Llama, options: ModelOptions): Promise<number> {
  let gpuLayers = 0;
  if (llama.gpu !== false) {
    const layers = options.gpuLayers;
    gpuLayers =
      typeof layers === "number"
        ? layers
        : (
            await insights.configurationResolver.resolveAndScoreConfig({
              targetGpuLayers: layers === "max" ? "max" : undefined,
              targetContextSize: options.contextSize,
            })
          ).resolvedValues.gpuLayers;
  }
  const model = insights.estimateModelResourceRequirements({ gpuLayers, useMmap: USE_MMAP });
  const context = insights.estimateContextResourceRequirements({
    contextSize: options.contextSize,
    modelGpuLayers: gpuLayers,
    batchSize: BATCH_TOKENS,
    sequences: 1,
  });
  return model.cpuRam + context.cpuRam;
}

/**
 * Waits for this worker's llama.cpp work (aborting a model load in progress), then unloads the
 * model, so destroying the pool afterwards interrupts nothing. Each worker of the pool must run
 * exactly one: a close task holds its worker until every worker has started one.
 */
async function close(task: CloseTask): Promise<void> {
  closing.abort();
  await tail;
  const model = await loaded?.catch(() => undefined);
  loaded = undefined;
  await model?.model.dispose().catch(() => undefined);
  const arrived = new Int32Array(task.arrived);
  Atomics.add(arrived, 0, 1);
  Atomics.notify(arrived, 0);
  const deadline = Date.now() + 10_000;
  const { waitAsync } = Atomics as unknown as {
    waitAsync: (a: Int32Array, i: number, v: number, t: number) => { async: boolean; value: unknown };
  };
  for (let seen = Atomics.load(arrived, 0); seen < task.workers && Date.now() < deadline; ) {
    const waiting = waitAsync(arrived, 0, seen, 200);
    if (waiting.async) await waiting.value;
    seen = Atomics.load(arrived, 0);
  }
}

export default async function infer(
  task: InferenceTask | CloseTask | EstimateTask,
): Promise<InferenceOutcome | EstimateOutcome | undefined> {
  if (task.type === "close") {
    await close(task);
    return undefined;
  }
  if (task.type === "estimate")
    return estimate(task).then(
      (bytes): EstimateOutcome => ({ ok: true, bytes }),
      (error: Error): EstimateOutcome => ({
        ok: false,
        kind: error instanceof ModelError ? "model" : "backend",
        message: error.message,
      }),
    );
  verbose = task.verbose;
  const abort = new AbortController();
  const send = (event: WorkerEvent) => {
    try {
      task.control.postMessage(event);
    } catch {
      // The request was abandoned and its port closed: nobody is listening.
    }
  };
  reportStray = (text) => send({ type: "warning", text });
  const cancelled = new Promise<InferenceOutcome>((resolve) =>
    abort.signal.addEventListener("abort", () => resolve(CANCELLED), { once: true }),
  );
  task.control.on("message", (message) => {
    if (message === "cancel") abort.abort();
  });
  const work = tail.then(() => (abort.signal.aborted ? CANCELLED : run(task, abort.signal, send)));
  tail = work.catch(() => undefined);
  try {
    return await Promise.race([work, cancelled]);
  } finally {
    task.control.close();
  }
}
