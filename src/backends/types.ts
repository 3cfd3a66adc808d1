// What every backend takes and gives. Backends are leaves: they turn a prompt into text, and know
// nothing of how that text becomes an answer (answer/).

import type { ChatPrompt } from "../prompt/chat.js";
import type { DownloadProgress } from "../models/download.js";
import type { WorkerEvent } from "../worker/protocol.js";

export interface PassedOver {
  backend: string;
  reason: string;
}

/**
 * How every backend samples: a low temperature, as a command has few right answers; and a token
 * cap far past any command, as the schema's length cap and the grammar end an answer long before.
 */
export const SAMPLING = { temperature: 0.2, maxTokens: 512 } as const;

/** Progress a request reports while it runs; the daemon forwards each to its client. */
export type BackendEvent =
  | WorkerEvent
  | ({ type: "download" } & DownloadProgress)
  | { type: "selected"; backend: string; passedOver: PassedOver[] }
  /** A server not ready yet (loading its model): caro asks again within its timeout. */
  | { type: "waiting"; text: string }
  | ContextEvent
  /** An answer failed a check against the machine: the model is asked once more, told why. */
  | { type: "recheck"; reasons: string[] }
  /**
   * The embedded backend's one-line answer as llama.cpp writes it: the command itself, chunk by
   * chunk, where a "text" event carries the model's JSON.
   */
  | { type: "command"; text: string };

/** What caro added to the request on its own, exactly as sent (after redaction), for --verbose. */
export interface ContextEvent {
  type: "context";
  /** Where it went: "this machine" or the server's address. */
  to: string;
  /** Secrets hidden from it were replaced by [redacted]. */
  redacting: boolean;
  /** The tool lines of the fixed prompt, then the lines of the request message. */
  lines: string[];
}

export interface GenerateRequest {
  prompt: ChatPrompt;
  schema: object;
  /** Differs between attempts so a retry is not the same draw. */
  seed: number;
  /** Higher for a retry that must differ from what was drawn before; SAMPLING.temperature when absent. */
  temperature?: number;
  signal?: AbortSignal;
  onEvent?: (event: BackendEvent) => void;
  /** Pass llama.cpp's own log through to stderr. */
  verbose?: boolean;
  /**
   * The most characters of raw model text worth reading (JSON, escapes and explanation included):
   * a server that sends more is cut off.
   */
  maxTextLength: number;
}

/** A backend's raw reply, before the pipeline reads and checks it. */
export interface RawAnswer {
  /** What the model wrote: the JSON the schema asked for, or (with `command`) the one line. */
  text: string;
  /**
   * Set where the backend held the model to the command alone (the embedded backend's one-line
   * grammar): the command itself, as data, with nothing to parse.
   */
  command?: string;
  model: string;
  /** The GPU llama.cpp uses, false for the CPU, null where a server does the work and does not say. */
  gpu: string | false | null;
  timings: Record<string, number | null>;
  /** Embedded only: where the evaluated fixed prompt came from (memory, disk, evaluated, off). */
  prefix?: string;
}

export interface Backend {
  readonly name: string;
  generate(request: GenerateRequest): Promise<RawAnswer>;
  /**
   * A server's backend: who would answer now (the server, and the model it serves as far as it
   * tells), asked afresh, for the answer cache's key; null when it cannot tell now.
   */
  answerer?(): Promise<string | null>;
  close(): Promise<void>;
}
