import { MAX_EXPLANATION_LENGTH } from "../prompt/answer.js";
import type { ChatPrompt } from "../prompt/build.js";
import type { DownloadProgress } from "../models/download.js";
import type { WorkerEvent } from "../worker/protocol.js";

export interface PassedOver {
  backend: string;
  reason: string;
}

/** Progress a request reports while it runs; the daemon forwards each to its client. */
export type BackendEvent =
  | WorkerEvent
  | ({ type: "download" } & DownloadProgress)
  | { type: "selected"; backend: string; passedOver: PassedOver[] };

export interface GenerateRequest {
  prompt: ChatPrompt;
  schema: object;
  /** Differs between attempts so a retry is not the same draw. */
  seed: number;
  signal?: AbortSignal;
  onEvent?: (event: BackendEvent) => void;
  /** Pass llama.cpp's own log through to stderr. */
  verbose?: boolean;
  /**
   * The most characters of raw model text worth reading (JSON, escapes and explanation included):
   * a server that sends more is cut off. Default: maxTextLengthFor the default max_command_length.
   */
  maxTextLength?: number;
}

/**
 * Room for a command of `maxCommandLength` characters and an explanation, each doubled for JSON
 * escaping, and for the prose a server adds when it cannot hold the answer to the schema.
 */
export function maxTextLengthFor(maxCommandLength: number): number {
  return (maxCommandLength + MAX_EXPLANATION_LENGTH) * 2 + 200;
}

/** For a request that does not say: the default max_command_length's. */
export const DEFAULT_MAX_TEXT_LENGTH = maxTextLengthFor(400);

/** A backend's raw reply, before caro parses and checks it. */
export interface RawAnswer {
  text: string;
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
  close(): Promise<void>;
}
