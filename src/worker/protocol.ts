import type { MessagePort } from "node:worker_threads";
import type { GpuKind } from "../config/schema.js";
import type { ChatPrompt } from "../prompt/chat.js";

// What crosses between the main thread and an inference worker. Tasks travel by structured clone,
// so everything here is plain data except the control port.

/**
 * What a copy of the model is loaded with: a change to any of these loads another copy. Everything
 * else a request may change (threads, sampling, the prefix cache) travels with each task.
 */
export interface ModelOptions {
  path: string;
  gpu: GpuKind;
  gpuLayers: "auto" | "max" | number;
  contextSize: number;
}

export interface InferenceTask {
  type: "infer";
  model: ModelOptions;
  prompt: ChatPrompt;
  schema: object;
  /** When set, the answer is held to this GBNF grammar instead of the schema (see backends/one-line.ts). */
  gbnf?: string;
  maxTokens: number;
  /**
   * The threads this request evaluates on: the configured count, or with threads unset one per core
   * other programs leave free. Judged in the main thread: a worker is paused between tasks
   * (piscina's atomics), so it cannot watch the machine's load itself.
   */
  threads: number;
  temperature: number;
  seed: number;
  verbose: boolean;
  /** Load the model and ready the fixed prefix and grammar, then stop: warming, not a request. */
  warmOnly?: boolean;
  /**
   * Where evaluated prefixes (system prompt and examples) are saved and found again, so a fresh
   * process skips their prefill; null turns prefix reuse off entirely (each request prefills all).
   */
  prefixCacheDir: string | null;
  /** Main → worker: "cancel". Worker → main: WorkerEvent. */
  control: MessagePort;
}

/**
 * Sent once to each worker before the pool is destroyed: it waits for that worker's llama.cpp work
 * and unloads its model. `arrived` (an Int32Array's buffer) counts the workers that have one.
 */
export interface CloseTask {
  type: "close";
  arrived: SharedArrayBuffer;
  workers: number;
}

/**
 * Asked of a worker before a copy is loaded: the memory (bytes of RAM) one copy of this model with
 * this context will take, so the pool can make room for it first. Answered without loading it.
 */
export interface EstimateTask {
  type: "estimate";
  model: ModelOptions;
}

export type EstimateOutcome = { ok: true; bytes: number } | { ok: false; kind: "model" | "backend"; message: string };

/** A model file that was there when caro found or loaded it, and is not now. */
export function modelGoneMessage(path: string): string {
  return (
    `the model file ${path} is gone (deleted or moved since caro found it): ` +
    "put it back, or set --model or [backends.embedded] model to another GGUF file"
  );
}

export type WorkerEvent =
  | { type: "loaded"; ms: number; gpu: string | false; cached: boolean }
  | { type: "prefix"; source: "memory" | "disk" | "evaluated" | "off"; ms: number }
  | { type: "generating"; threads?: number }
  | { type: "text"; text: string }
  | { type: "warning"; text: string };

/** Where one request's time went inside the worker, phase by phase (`caro --verbose` prints them). */
export interface InferenceTimings {
  load_ms: number;
  /** Tokenising the chat to check the request fits the context. */
  budget_ms: number;
  /** Finding (or, the first time for a schema, building) the grammar. */
  grammar_ms: number;
  /** Readying llama's context sequence: the chat on it and its history. */
  sequence_ms: number;
  prefix_ms: number | null;
  first_token_ms: number | null;
  generate_ms: number;
  /** The worker's whole run, load included. */
  worker_ms: number;
  /** The threads llama.cpp evaluated on (fewer than the most when other programs held cores). */
  threads?: number;
}

export type InferenceOutcome =
  | {
      ok: true;
      text: string;
      gpu: string | false;
      /** Where the fixed prefix's evaluation came from this time. */
      prefix: "memory" | "disk" | "evaluated" | "off";
      timings: InferenceTimings;
      tokens: { prompt: number; generated: number };
    }
  | { ok: false; kind: "model" | "backend" | "too-long" | "cancelled"; message: string };
