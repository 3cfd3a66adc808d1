// The daemon's wire format: each frame is a 4-byte big-endian length and a msgpack message.
// The thin client imports this file, so it imports nothing heavy.

// The pure-JS build: the package root first tries to load a native addon, ~10 ms of every keystroke.
import { Packr } from "msgpackr/pack";

/** Raised when the messages change shape; a client and daemon that differ restart the daemon. */
export const PROTOCOL_VERSION = 1;
/** A frame larger than this is a broken or hostile peer: the connection is closed. */
export const MAX_FRAME_BYTES = 1 << 20;

const packr = new Packr({ useRecords: false });

export interface AskFlags {
  backend?: string;
  model?: string;
  explain?: boolean;
  verbose?: boolean;
}

export type ClientMessage =
  | { t: "hello"; v: string }
  | { t: "ask"; id: number; request: string; shell: string; cwd: string; env: Record<string, string>; flags: AskFlags }
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
}

export type DaemonMessage =
  | { t: "hello"; v: string; accepted: boolean; pid: number }
  | { t: "event"; id: number; event: Record<string, unknown> }
  | { t: "answer"; id: number; answer: Record<string, unknown>; level: string }
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

export class FrameError extends Error {}

/** A frame the other side would refuse: over MAX_FRAME_BYTES. */
export class FrameTooLargeError extends FrameError {
  constructor(readonly size: number) {
    super(`a message of ${size} bytes is too large: over the ${MAX_FRAME_BYTES}-byte limit`);
  }
}

/** Collects bytes and hands out whole messages; throws FrameError on a frame it will not read. */
export class FrameReader {
  private buffer: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): unknown[] {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const messages: unknown[] = [];
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
