// The daemon's answer cache and its policy: what makes two requests identical (the key), which
// cached answer a request may be given, and which answers are kept.

import { createHash } from "node:crypto";
import { statSync } from "node:fs";
import { homedir } from "node:os";
import { resolve } from "node:path";
import type { UnratedAnswer, UserRequest } from "../answer/types.js";
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
 * Everything an answer depends on: the words and what to do with them, where they were asked, the
 * settings that shape the answer (a secret by fingerprint only), and who would answer (`answerer`:
 * the server and model, or the model file). The commands already shown are left out: a cached
 * answer is good for any request that has not been shown it (see usableAnswer).
 */
export function answerCacheKey(request: UserRequest, config: LoadedConfig, answerer: string): string {
  // The safety level and the daemon's timers only change what happens around the answer.
  const {
    "safety.level": _level,
    "daemon.idle_unload_minutes": _unload,
    "daemon.idle_exit_minutes": _exit,
    "daemon.memory_budget_mb": _budget,
    ...shaping
  } = config.settings;
  const explain = Boolean(request.flags.explain);
  const intent = request.intent ?? { kind: "ask" };
  // Explain answers for the command exactly as given, spaces included.
  const words = intent.kind === "explain" ? request.words : request.words.trim();
  // The programs and pages an answer is checked against, and what the shell told of itself
  // (its function names may run to thousands: hashed, so the key stays small).
  const machine = createHash("sha256")
    .update(JSON.stringify([request.env.PATH ?? "", request.env.MANPATH ?? "", request.context ?? null]))
    .digest("hex");
  return JSON.stringify([words, intent, request.shell, request.cwd, explain, keySettings(shaping), answerer, machine]);
}

/** The cached answer for a request, unless it is one the user was shown already and asks past. */
export function usableAnswer(remembered: UnratedAnswer | undefined, request: UserRequest): UnratedAnswer | undefined {
  if (!remembered) return undefined;
  const shown = request.shown ?? [];
  return shown.some((command) => command.trim() === remembered.command.trim()) ? undefined : remembered;
}

/**
 * Whether a fresh answer is kept for the next identical request. Not another candidate: the plain
 * request keeps its first answer, and a later request past that one is answered afresh. Nor one
 * that failed a check here: the next identical request gets another try.
 */
export function worthKeeping(request: UserRequest, answer: UnratedAnswer): boolean {
  return !answer.cached && !request.shown?.length && answer.warnings.length === 0;
}

/**
 * Answers to identical requests in an identical context: the same words, shell, folder and
 * settings. Bounded by count and by bytes (an answer from a server may be large); the least
 * recently used goes first, and an answer larger than the whole budget is not kept.
 */
export class AnswerCache {
  private readonly entries = new Map<string, { answer: UnratedAnswer; bytes: number }>();
  private bytes = 0;

  constructor(
    private readonly capacity = 256,
    private readonly maxBytes = 4 * 1024 * 1024,
  ) {}

  get(key: string): UnratedAnswer | undefined {
    const entry = this.entries.get(key);
    if (entry) {
      this.entries.delete(key);
      this.entries.set(key, entry);
    }
    return entry?.answer;
  }

  set(key: string, answer: UnratedAnswer): void {
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

  /**
   * The cache as one request sees it: looked up once the backend that would answer is known (the
   * pipeline asks), and the fresh answer kept afterwards if it is worth keeping.
   */
  forRequest(request: UserRequest, config: LoadedConfig) {
    let key: string | null = null;
    return {
      lookup: async (backend: Backend): Promise<UnratedAnswer | undefined> => {
        const answerer = await answererOf(backend, config);
        if (answerer === null) return undefined;
        key = answerCacheKey(request, config, answerer);
        return usableAnswer(this.get(key), request);
      },
      keep: (answer: UnratedAnswer): void => {
        if (key !== null && worthKeeping(request, answer)) this.set(key, answer);
      },
    };
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
