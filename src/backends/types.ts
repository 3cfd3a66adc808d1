import type { ChatPrompt } from "../prompt/build.js";
import type { WorkerEvent } from "../worker/protocol.js";

export interface GenerateRequest {
  prompt: ChatPrompt;
  schema: object;
  /** Differs between attempts so a retry is not the same draw. */
  seed: number;
  signal?: AbortSignal;
  onEvent?: (event: WorkerEvent) => void;
}

/** A backend's raw reply, before caro parses and checks it. */
export interface RawAnswer {
  text: string;
  model: string;
  /** The GPU llama.cpp uses, false for the CPU, null where a server does the work and does not say. */
  gpu: string | false | null;
  timings: Record<string, number | null>;
}

export interface Backend {
  readonly name: string;
  generate(request: GenerateRequest): Promise<RawAnswer>;
  close(): Promise<void>;
}
