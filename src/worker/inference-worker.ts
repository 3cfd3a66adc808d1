// Runs inside a piscina worker thread. The model is loaded once and kept for every later task;
// a task is one request. Cancellation is cooperative (an AbortSignal fed from the control port),
// because terminating a worker while llama.cpp evaluates aborts the whole process.

import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import {
  getLlama,
  LlamaChatSession,
  LlamaLogLevel,
  readGgufFileInfo,
  resolveChatWrapper,
  type ChatWrapper,
  type ChatHistoryItem,
  type Llama,
  type LlamaContextSequence,
  type LlamaGrammar,
  type LlamaModel,
} from "node-llama-cpp";
import type { InferenceOutcome, InferenceTask, ModelOptions, WorkerEvent } from "./protocol.js";

interface LoadedModel {
  key: string;
  llama: Llama;
  model: LlamaModel;
  sequence: LlamaContextSequence;
  grammars: Map<string, Promise<LlamaGrammar>>;
  /** Resolved once: resolving it renders the model's Jinja template several times (measured ~0.3 s). */
  chatWrapper: ChatWrapper;
  /** The prefix (by hash) whose evaluation the sequence holds now. */
  warmPrefix: string | null;
}

const PREFIX_FILES_KEPT = 8;

class ModelLoadError extends Error {}

const llamas = new Map<string, Promise<Llama>>();
let loaded: Promise<LoadedModel> | undefined;
let loadedKey = "";
let verbose = false;
// llama.cpp says why a load failed only in its log; keep the last lines to quote them.
const recentErrors: string[] = [];

function logger(level: LlamaLogLevel, message: string) {
  if (level === LlamaLogLevel.error || level === LlamaLogLevel.fatal) {
    recentErrors.push(message.trim());
    if (recentErrors.length > 20) recentErrors.shift();
  }
  if (verbose && message.trim()) process.stderr.write(`llama.cpp: ${message.trimEnd()}\n`);
}

function openLlama(gpu: ModelOptions["gpu"] | false, threads: number): Promise<Llama> {
  return getLlama({
    gpu: gpu === "false" ? false : gpu,
    // Only prebuilt binaries: building llama.cpp from source needs a toolchain and the network.
    build: "never",
    maxThreads: threads,
    logLevel: LlamaLogLevel.warn,
    logger,
    progressLogs: false,
    skipDownload: true,
  });
}

/** llama.cpp for the asked GPU; a named GPU whose build cannot load falls back to the CPU, once, with a warning. */
function llamaFor(options: ModelOptions, warn: (text: string) => void): Promise<Llama> {
  const key = `${options.gpu}:${options.threads}`;
  let llama = llamas.get(key);
  if (!llama) {
    llama = openLlama(options.gpu, options.threads).catch((error: Error) => {
      if (options.gpu === "auto" || options.gpu === "false") throw error;
      warn(`llama.cpp's ${options.gpu} build cannot load here (${error.message.split("\n")[0]}): running on the CPU; set [backends.embedded] gpu = "auto" to stop this warning`);
      return openLlama(false, options.threads);
    });
    llamas.set(key, llama);
  }
  return llama;
}

/** llama.cpp accepts a truncated file's header and fails later with a vague message; catch it here with a clear one. */
async function checkGguf(path: string): Promise<void> {
  let info;
  try {
    info = await readGgufFileInfo(path, { logWarnings: false, ignoreKeys: ["tokenizer.ggml.tokens", "tokenizer.ggml.merges", "tokenizer.ggml.token_type"] });
  } catch (error) {
    throw new ModelLoadError(`${path} is a corrupt or truncated GGUF file (${(error as Error).message}): download it again`);
  }
  const lastTensorStart = Math.max(0, ...(info.tensorInfo ?? []).map((t) => Number(t.fileOffset)));
  if (lastTensorStart >= statSync(path).size)
    throw new ModelLoadError(`${path} is truncated: its tensors end past the end of the file; download it again`);
}

async function load(options: ModelOptions, signal: AbortSignal, warn: (text: string) => void): Promise<LoadedModel> {
  await checkGguf(options.path);
  const llama = await llamaFor(options, warn);
  recentErrors.length = 0;
  let model: LlamaModel;
  try {
    // On the CPU, llama.cpp repacks the weights into a copy of its own; with the file also mapped,
    // both count against memory (measured: 1959 MB resident for a 1004 MB model, 1146 MB unmapped).
    model = await llama.loadModel({ modelPath: options.path, gpuLayers: options.gpuLayers, loadSignal: signal, useMmap: llama.gpu === false ? false : "auto" });
  } catch (error) {
    if (signal.aborted) throw error;
    const reason = recentErrors.find((line) => /error loading model/.test(line)) ?? recentErrors.at(-1) ?? (error as Error).message;
    throw new ModelLoadError(`llama.cpp could not load ${options.path}: ${reason.replace(/^.*?error loading model: /, "")}`);
  }
  const context = await model.createContext({ contextSize: options.contextSize, threads: options.threads, sequences: 1 });
  const chatWrapper = resolveChatWrapper(model);
  return { key: modelKey(options), llama, model, sequence: context.getSequence(), grammars: new Map(), chatWrapper, warmPrefix: null };
}

function modelKey(options: ModelOptions): string {
  return JSON.stringify(options);
}

async function loadedModel(options: ModelOptions, signal: AbortSignal, warn: (text: string) => void): Promise<{ model: LoadedModel; cached: boolean }> {
  const key = modelKey(options);
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
  loaded = load(options, signal, warn);
  loaded.catch(() => {
    loaded = undefined;
  });
  return { model: await loaded, cached: false };
}

function grammarFor(model: LoadedModel, schema: object): Promise<LlamaGrammar> {
  const key = JSON.stringify(schema);
  let grammar = model.grammars.get(key);
  if (!grammar) {
    grammar = model.llama.createGrammarForJsonSchema(schema as never) as Promise<LlamaGrammar>;
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

/** The fixed part's identity: the model file, the context and every token of system prompt and examples. */
function prefixHash(task: InferenceTask): string {
  const stat = statSync(task.model.path);
  return createHash("sha256")
    .update(JSON.stringify([task.model.path, stat.size, stat.mtimeMs, task.model.contextSize, task.prompt.system, task.prompt.examples]))
    .digest("hex")
    .slice(0, 24);
}

/** Keeps the newest state files: each holds a whole KV cache, tens of MB for a 1.5B model. */
function prune(dir: string): void {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(".state"))
    .map((f) => ({ f, t: statSync(join(dir, f)).mtimeMs }))
    .sort((a, b) => b.t - a.t);
  for (const { f } of files.slice(PREFIX_FILES_KEPT)) rmSync(join(dir, f), { force: true });
}

/**
 * Puts the evaluated fixed prefix in the sequence: already there, from its state file, or
 * evaluated now and saved for the next process. A request then evaluates only its own tokens,
 * because node-llama-cpp keeps the tokens a new prompt shares with the sequence's state.
 */
async function warmPrefix(model: LoadedModel, task: InferenceTask, session: LlamaChatSession): Promise<WorkerEvent> {
  const started = performance.now();
  const done = (source: "memory" | "disk" | "evaluated" | "off") => ({ type: "prefix" as const, source, ms: Math.round(performance.now() - started) });
  if (task.prefixCacheDir === null) {
    await model.sequence.clearHistory();
    model.warmPrefix = null;
    return done("off");
  }
  const hash = prefixHash(task);
  if (model.warmPrefix === hash) return done("memory");
  const file = join(task.prefixCacheDir, `${hash}.state`);
  if (existsSync(file)) {
    try {
      // Safe: the hash names the model file, so the state is this model's own.
      await model.sequence.loadStateFromFile(file, { acceptRisk: true });
      model.warmPrefix = hash;
      return done("disk");
    } catch {
      rmSync(file, { force: true });
    }
  }
  await model.sequence.clearHistory();
  await session.preloadPrompt("");
  mkdirSync(task.prefixCacheDir, { recursive: true });
  const partial = `${file}.${process.pid}.partial`;
  await model.sequence.saveStateToFile(partial);
  renameSync(partial, file);
  prune(task.prefixCacheDir);
  model.warmPrefix = hash;
  return done("evaluated");
}

export default async function infer(task: InferenceTask): Promise<InferenceOutcome> {
  verbose = task.verbose;
  const abort = new AbortController();
  const send = (event: WorkerEvent) => task.control.postMessage(event);
  task.control.on("message", (message) => {
    if (message === "cancel") abort.abort();
  });
  const started = performance.now();
  try {
    const { model, cached } = await loadedModel(task.model, abort.signal, (text) => send({ type: "warning", text }));
    const loadMs = performance.now() - started;
    send({ type: "loaded", ms: loadMs, gpu: model.llama.gpu, cached });
    if (abort.signal.aborted) return { ok: false, kind: "cancelled", message: "cancelled" };

    const grammar = await grammarFor(model, task.schema);
    const session = new LlamaChatSession({ contextSequence: model.sequence, chatWrapper: model.chatWrapper, autoDisposeSequence: false });
    session.setChatHistory(history(task));
    const prefix = await warmPrefix(model, task, session);
    send(prefix);
    // preloadPrompt left an empty user turn in the chat: start again from the fixed part.
    session.setChatHistory(history(task));
    const promptTokensBefore = model.sequence.tokenMeter.usedInputTokens;
    const generatedBefore = model.sequence.tokenMeter.usedOutputTokens;
    let firstToken: number | null = null;
    send({ type: "generating" });
    const generateStart = performance.now();
    const text = await session.prompt(task.prompt.user, {
      grammar,
      maxTokens: task.maxTokens,
      temperature: task.temperature,
      seed: task.seed,
      signal: abort.signal,
      stopOnAbortSignal: true,
      onTextChunk(chunk) {
        firstToken ??= performance.now() - generateStart;
        send({ type: "text", text: chunk });
      },
    });
    session.dispose({ disposeSequence: false });
    if (abort.signal.aborted) return { ok: false, kind: "cancelled", message: "cancelled" };
    return {
      ok: true,
      text,
      gpu: model.llama.gpu,
      prefix: prefix.type === "prefix" ? prefix.source : "off",
      timings: {
        load_ms: Math.round(loadMs),
        prefix_ms: prefix.type === "prefix" ? prefix.ms : null,
        first_token_ms: firstToken && Math.round(firstToken),
        generate_ms: Math.round(performance.now() - generateStart),
      },
      tokens: {
        prompt: model.sequence.tokenMeter.usedInputTokens - promptTokensBefore,
        generated: model.sequence.tokenMeter.usedOutputTokens - generatedBefore,
      },
    };
  } catch (error) {
    if (abort.signal.aborted) return { ok: false, kind: "cancelled", message: "cancelled" };
    const message = (error as Error).message ?? String(error);
    return { ok: false, kind: error instanceof ModelLoadError ? "model" : "backend", message: verbose ? (error as Error).stack ?? message : message };
  } finally {
    task.control.close();
  }
}
