// The wire between client and daemon: each frame is a 4-byte big-endian length and a msgpack message.
// Both sides import this folder; the thin client loads it on every keystroke, so it imports nothing
// heavy (types only, besides msgpack).

// The pure-JS build: the package root first tries to load a native addon, ~10 ms of every keystroke.
import { Packr } from "msgpackr/pack";
import type { UnratedAnswer, UserRequest } from "../answer/types.js";
import type { BackendEvent } from "../backends/types.js";
import { CaroError } from "../errors.js";

export { PROTOCOL_VERSION } from "./version.js";
/** A frame larger than this is a broken or hostile peer: the connection is closed. */
export const MAX_FRAME_BYTES = 1 << 20;

const packr = new Packr({ useRecords: false });

/** A request, numbered by its client so that events, the answer and a cancel can name it. */
export type AskMessage = { t: "ask"; id: number } & UserRequest;

/**
 * What a client sends. The daemon reads each as unknown and checks it (a client is untrusted
 * input); these are the shapes it accepts.
 */
export type ClientMessage =
  | { t: "hello"; v: string }
  | AskMessage
  | { t: "cancel"; id: number }
  | { t: "status" }
  | { t: "stop" };

export interface DaemonStatus {
  pid: number;
  version: string;
  uptime_s: number;
  backend: string | null;
  model: string | null;
  gpu: string | false | null;
  rss_mb: number;
  requests_served: number;
  requests_active: number;
  models_loaded: number;
  /** Copies of a model loaded since the daemon started: a reload shows here. */
  model_loads: number;
  /** The memory admitted for the models loaded now (see [daemon] memory_budget_mb). */
  models_memory_mb: number;
}

/**
 * What the daemon sends. An answer is what the daemon found, unrated: the client checks it, and
 * rates it under its own config's safety level, the only rating it gets (client/judge.ts).
 */
export type DaemonMessage =
  | { t: "hello"; v: string; accepted: boolean; pid: number }
  | { t: "event"; id: number; event: BackendEvent }
  | { t: "answer"; id: number; answer: UnratedAnswer }
  | { t: "error"; id: number | null; message: string; exitCode: number }
  | { t: "status"; status: DaemonStatus }
  | { t: "bye" };

export function encodeFrame(message: ClientMessage | DaemonMessage): Buffer {
  const body = packr.pack(message);
  if (body.length > MAX_FRAME_BYTES) throw new FrameTooLargeError(body.length);
  const frame = Buffer.allocUnsafe(4 + body.length);
  frame.writeUInt32BE(body.length, 0);
  body.copy(frame, 4);
  return frame;
}

/** A frame that will not be read or sent: the peer is broken or hostile, or the message too large. Exit 2. */
export class FrameError extends CaroError {
  constructor(message: string) {
    super(message, 2);
  }
}

/** A frame the other side would refuse: over MAX_FRAME_BYTES. */
export class FrameTooLargeError extends FrameError {
  constructor(readonly size: number) {
    super(`a message of ${size} bytes is too large: over the ${MAX_FRAME_BYTES}-byte limit`);
  }
}

/**
 * Collects bytes and hands out whole messages; throws FrameError on a frame it will not read.
 * `Message` is what the reader takes the frames to be: the daemon reads `unknown` and checks each.
 */
export class FrameReader<Message = unknown> {
  private buffer: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Message[] {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const messages: Message[] = [];
    while (this.buffer.length >= 4) {
      const length = this.buffer.readUInt32BE(0);
      if (length > MAX_FRAME_BYTES) throw new FrameTooLargeError(length);
      if (this.buffer.length < 4 + length) break;
      const body = this.buffer.subarray(4, 4 + length);
      this.buffer = this.buffer.subarray(4 + length);
      try {
        messages.push(packr.unpack(body));
      } catch (error) {
        throw new FrameError(`undecodable frame: ${(error as Error).message}`);
      }
    }
    return messages;
  }
}
