import { createHash } from "node:crypto";
import { statSync } from "node:fs";
import { homedir } from "node:os";
import { resolve } from "node:path";
import type { Answer } from "../answer/types.js";
import type { Backend } from "../backends/types.js";
import type { LoadedConfig } from "../config/load.js";
import { SECRET_KEYS, type Settings } from "../config/schema.js";
import { cachedModelPath, hfModelOf } from "../models/hf.js";

/**
 * The embedded model file's identity (device, inode, size, mtime), for the cache key: a file
 * replaced under the same path must not be answered for by the one it replaced.
 */
export function modelFileStamp(config: LoadedConfig): string {
  const spec = config.settings["backends.embedded.model"];
  const hf = hfModelOf(spec);
  const path = hf ? cachedModelPath(hf, config.env) : resolve(spec.replace(/^~(?=\/|$)/, config.env.HOME || homedir()));
  try {
    const stat = statSync(path);
    return [path, stat.dev, stat.ino, stat.size, stat.mtimeMs].join(":");
  } catch {
    return `${path}:absent`;
  }
}

/**
 * Who would answer a request now, for the cache key: a server's backend asks its server (which
 * may have restarted with another model since); the embedded backend is its model file. Null
 * when that cannot be told now: the answer is then neither looked up nor kept.
 */
export async function answererOf(backend: Backend, config: LoadedConfig): Promise<string | null> {
  if (backend.answerer) return backend.answerer();
  return modelFileStamp(config);
}

/** The settings as a key holds them: a secret (the API key) by its fingerprint, never itself. */
export function keySettings(settings: Partial<Settings>): Record<string, unknown> {
  const copy: Record<string, unknown> = { ...settings };
  for (const key of SECRET_KEYS) {
    const value = copy[key];
    if (typeof value === "string" && value !== "")
      copy[key] = `sha256:${createHash("sha256").update(value).digest("hex").slice(0, 16)}`;
  }
  return copy;
}

/**
 * Answers to identical requests in an identical context: the same words, shell, folder and
 * settings. Bounded by count and by bytes (an answer from a server may be large); the least
 * recently used goes first, and an answer larger than the whole budget is not kept.
 */
export class AnswerCache {
  private readonly entries = new Map<string, { answer: Answer; bytes: number }>();
  private bytes = 0;

  constructor(
    private readonly capacity = 256,
    private readonly maxBytes = 4 * 1024 * 1024,
  ) {}

  get(key: string): Answer | undefined {
    const entry = this.entries.get(key);
    if (entry) {
      this.entries.delete(key);
      this.entries.set(key, entry);
    }
    return entry?.answer;
  }

  set(key: string, answer: Answer): void {
    this.remove(key);
    // UTF-16 code units, two bytes each: what the strings hold in memory.
    const bytes = 2 * (key.length + JSON.stringify(answer).length);
    if (bytes > this.maxBytes) return;
    this.entries.set(key, { answer, bytes });
    this.bytes += bytes;
    while (this.entries.size > this.capacity || this.bytes > this.maxBytes) {
      this.remove(this.entries.keys().next().value!);
    }
  }

  get size(): { entries: number; bytes: number } {
    return { entries: this.entries.size, bytes: this.bytes };
  }

  private remove(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    this.bytes -= entry.bytes;
  }
}
