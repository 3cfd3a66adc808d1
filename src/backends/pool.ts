import { createHash } from "node:crypto";
import type { LoadedConfig } from "../config/load.js";
import { type SettingKey, settingKeys, type Settings } from "../config/schema.js";
import { MemoryBudgetError } from "../errors.js";
import { modelFilePath } from "../models/resolve.js";
import { availableMemory } from "../system/memory.js";
import { formatBytes } from "../text/bytes.js";
import { EmbeddedBackend, ModelCopy } from "./embedded.js";
import { OllamaBackend } from "./ollama.js";
import type { Backend } from "./types.js";
import { OpenaiBackend } from "./openai.js";

export type BackendName = "embedded" | "ollama" | "vllm";

/** A backend held for one request: released when the request ends, so a copy replaced meanwhile can go. */
export interface Lease {
  backend: Backend;
  release(): void;
}

/**
 * The embedded settings a copy of the model is loaded with, beside the model file: a change to one
 * of these loads another copy. Threads and the prefix cache travel with each request instead.
 */
const RELOADING: SettingKey[] = [
  "backends.embedded.gpu",
  "backends.embedded.gpu_layers",
  "backends.embedded.context_size",
  "backends.embedded.workers",
];

interface Entry {
  key: string;
  /** What it is, for the daemon's log: the model file and its context, or the server. */
  label: string;
  /** The embedded model's copy; null for a server backend, which loads nothing. */
  copy: ModelCopy | null;
  /** A server backend: one object for every request with its settings. */
  server: Backend | null;
  /** Requests holding it now. */
  users: number;
  lastUsed: number;
  /** RAM admitted for the copy: 0 until admitted, and for a server. */
  bytes: number;
  /** Replaced or evicted: no request gets it any more, and it closes when its last one ends. */
  retired: boolean;
  /** Copies this one replaces once it is admitted: a model that does not fit leaves the old one serving. */
  replaces: Set<Entry>;
  closing: Promise<void> | null;
  /** Resolves once it is closed. */
  gone: Promise<void>;
  markGone: () => void;
}

/**
 * A key from the values that decide it. Hashed: a remote backend's values include its API key, and
 * keys are kept for the daemon's life, where a debugger or a heap dump would show them.
 */
function digestOf(values: unknown[]): string {
  return createHash("sha256").update(JSON.stringify(values)).digest("base64url");
}

/** What loads a copy of its own: the model file and the settings that shape the load. */
function keyOf(name: BackendName, config: LoadedConfig): string {
  const s = config.settings;
  if (name !== "embedded") {
    const own = settingKeys.filter((key) => key.startsWith(`backends.${name}.`)).map((key) => [key, s[key]]);
    return digestOf([name, own, config.path]);
  }
  // The file, not how the setting names it: a catalog name and its path load the same copy.
  const file = modelFilePath(s["backends.embedded.model"], config.env);
  return JSON.stringify([name, file, RELOADING.map((key) => s[key])]);
}

/**
 * Who is asking, as far as the daemon can tell: a config file, with the values its client's
 * environment or flags put over it. A new backend for the same asker replaces the one it used
 * before (an edited config); a different asker (another shell's config, CARO_MODEL, --model) gets
 * one beside it.
 */
function askerOf(name: BackendName, config: LoadedConfig): string {
  const over = settingKeys.filter(
    (key) => key.startsWith(`backends.${name}.`) && (config.sources[key] === "env" || config.sources[key] === "flag"),
  );
  return digestOf([name, config.path, over.map((key) => [key, config.settings[key]])]);
}

function budgetMessage(file: string, bytes: number, budget: number, settings: Settings): string {
  const workers = settings["backends.embedded.workers"];
  const needs =
    `${file} needs about ${formatBytes(bytes)} of memory ` +
    `(context_size ${settings["backends.embedded.context_size"]}${workers > 1 ? `, ${workers} workers` : ""})`;
  const setting = settings["daemon.memory_budget_mb"];
  if (setting === "auto")
    return (
      `${needs}, and this machine has ${formatBytes(budget)} available, caro's other models included: ` +
      "free some memory, or choose a smaller model or context_size"
    );
  return (
    `${needs}, more than the memory budget of ${formatBytes(budget)} ([daemon] memory_budget_mb = ${setting}): ` +
    "raise it, or choose a smaller model or context_size"
  );
}

/**
 * The live backends, reused rather than remembered: a long-lived process (the daemon) keeps one
 * copy of a model loaded for every request that loads it the same way, whatever else differs.
 * A config edited to load it another way replaces that copy, which closes as soon as its last
 * request ends. Copies for different askers stay side by side within the memory budget; the least
 * recently used makes room for a new one.
 */
export class BackendPool {
  /** The backends a request can get, by key. */
  private readonly current = new Map<string, Entry>();
  /** Every backend not closed yet, retired ones included: what holds memory. */
  private readonly live = new Set<Entry>();
  /** Asker → the key of the backend it used last. */
  private readonly askers = new Map<string, string>();
  /** Admissions, one at a time: two copies must not each count on the same free memory. */
  private admitting: Promise<unknown> = Promise.resolve();
  /** Loads by copies closed since: with the live ones', every load this pool made. */
  private closedLoads = 0;

  /**
   * `env`: where the machine's memory is read ($CARO_MEMINFO: see availableMemory); `log`: told
   * when a backend is closed and why (the daemon's log).
   */
  constructor(
    private readonly env: NodeJS.ProcessEnv = process.env,
    private readonly log: (line: string) => void = () => undefined,
  ) {}

  /** The backend for one request under `config`, held until the lease is released. */
  get(name: BackendName, config: LoadedConfig): Lease {
    const key = keyOf(name, config);
    const entry = this.current.get(key) ?? this.create(name, key, config.settings, config);
    this.use(askerOf(name, config), entry);
    entry.users++;
    entry.lastUsed = Date.now();
    const backend = entry.copy
      ? new EmbeddedBackend(config.settings, config.env, entry.copy)
      : (entry.server as Backend);
    let released = false;
    return {
      backend,
      release: () => {
        if (released) return;
        released = true;
        entry.users--;
        entry.lastUsed = Date.now();
        // A copy whose request failed before it reached a worker (a model file missing, a download
        // cancelled) holds nothing: the next request starts afresh. One with workers may be
        // loading still, for the next request to find.
        if (entry.users === 0 && entry.copy && !entry.copy.started) this.retire(entry, null);
        if (entry.retired && entry.users === 0) void this.close(entry);
      },
    };
  }

  private create(name: BackendName, key: string, settings: Settings, config: LoadedConfig): Entry {
    let markGone: () => void = () => undefined;
    const gone = new Promise<void>((resolve) => {
      markGone = resolve;
    });
    const spec = settings["backends.embedded.model"];
    const label =
      name === "embedded"
        ? `${spec.split("/").at(-1)} (context_size ${settings["backends.embedded.context_size"]})`
        : `${name} at ${name === "ollama" ? settings["backends.ollama.host"] : settings["backends.vllm.url"]}`;
    const entry: Entry = {
      key,
      label,
      copy: null,
      server: null,
      users: 0,
      lastUsed: Date.now(),
      bytes: 0,
      retired: false,
      replaces: new Set(),
      closing: null,
      gone,
      markGone,
    };
    if (name === "embedded")
      entry.copy = new ModelCopy(settings, { admit: (bytes, path) => this.admit(entry, bytes, path, settings) });
    else
      entry.server =
        name === "ollama" ? new OllamaBackend(settings, config.path) : new OpenaiBackend(settings, config.path);
    this.current.set(key, entry);
    this.live.add(entry);
    return entry;
  }

  /** Points the asker at this backend; the one it used before goes, unless another asker still uses it. */
  private use(asker: string, entry: Entry): void {
    const before = this.askers.get(asker);
    this.askers.set(asker, entry.key);
    if (before === undefined || before === entry.key) return;
    if ([...this.askers.values()].includes(before)) return;
    const replaced = this.current.get(before);
    if (!replaced) return;
    if (entry.copy && entry.bytes === 0) entry.replaces.add(replaced);
    else this.retire(replaced, `replaced by ${entry.label}`);
  }

  /** No new request gets it; it closes now if idle, else when its last request ends. */
  private retire(entry: Entry, why: string | null): void {
    if (entry.retired) return;
    entry.retired = true;
    if (why && (entry.copy?.resident || entry.server))
      this.log(`closing ${entry.label}: ${why}${entry.users > 0 ? `, once its ${entry.users} request(s) end` : ""}`);
    if (this.current.get(entry.key) === entry) this.current.delete(entry.key);
    for (const [asker, key] of this.askers) if (key === entry.key && !this.current.has(key)) this.askers.delete(asker);
    if (entry.users === 0) void this.close(entry);
  }

  private close(entry: Entry): Promise<void> {
    entry.closing ??= (async () => {
      try {
        await (entry.copy ?? entry.server)?.close();
      } catch {
        // Its workers are gone either way; nothing else holds it.
      } finally {
        this.closedLoads += entry.copy?.loads ?? 0;
        entry.bytes = 0;
        this.live.delete(entry);
        entry.markGone();
      }
    })();
    return entry.closing;
  }

  private admit(entry: Entry, bytes: number, path: string, settings: Settings): Promise<void> {
    const turn = this.admitting.then(() => this.makeRoom(entry, bytes, path, settings));
    this.admitting = turn.catch(() => undefined);
    return turn;
  }

  /**
   * Room for a copy of `bytes` before it loads: the least recently used copies go (each once its
   * requests end) until it fits. One that cannot fit even alone is refused, in one line with the numbers.
   */
  private async makeRoom(entry: Entry, bytes: number, path: string, settings: Settings): Promise<void> {
    const others = () => [...this.live].filter((e) => e !== entry && e.bytes > 0);
    const held = (entries: Entry[]) => entries.reduce((sum, e) => sum + e.bytes, 0);
    const setting = settings["daemon.memory_budget_mb"];
    // What the machine can give now, plus what caro's loaded copies hold and could give back.
    const budget =
      setting === "auto"
        ? availableMemory(this.env) + held(others().filter((e) => e.copy?.resident))
        : setting * 1_000_000;
    if (bytes > budget) {
      // Its workers hold llama.cpp itself: they go with the request that asked. What it was to
      // replace stays and serves.
      entry.replaces.clear();
      this.retire(entry, null);
      throw new MemoryBudgetError(budgetMessage(path.split("/").at(-1) ?? path, bytes, budget, settings));
    }
    // The copies it replaces go first, then the least recently used.
    const order = (a: Entry, b: Entry) =>
      Number(entry.replaces.has(b)) - Number(entry.replaces.has(a)) || a.lastUsed - b.lastUsed;
    for (let room = others(); held(room) + bytes > budget; room = others()) {
      const [first] = room.sort(order);
      const why = entry.replaces.has(first)
        ? `replaced by ${entry.label}`
        : `least recently used, to make room for ${entry.label} (memory budget)`;
      this.retire(first, why);
      await first.gone;
    }
    entry.bytes = bytes;
    for (const replaced of entry.replaces) this.retire(replaced, `replaced by ${entry.label}`);
    entry.replaces.clear();
  }

  /** Backends live now (loaded, or closing after their last request). */
  get size(): number {
    return this.live.size;
  }

  /** Every time a copy of a model was loaded (not found loaded), by copies live or closed. */
  get loads(): number {
    return this.closedLoads + [...this.live].reduce((sum, e) => sum + (e.copy?.loads ?? 0), 0);
  }

  /** The memory admitted for the copies live now, in bytes. */
  get memory(): number {
    return [...this.live].reduce((sum, e) => sum + e.bytes, 0);
  }

  /**
   * Closes every backend: the embedded ones unload their models. Only when no request is running:
   * a close waits for the llama.cpp work still finishing in its workers, never interrupts it.
   */
  async closeAll(): Promise<void> {
    const all = [...this.live];
    for (const entry of all) this.retire(entry, null);
    await Promise.all(all.map((entry) => this.close(entry)));
  }
}
