// Reading what a client sent. A client is untrusted input: each field is checked, and the typed
// message is built from the checked fields, so nothing unchecked reaches the pipeline.

import type { Intent, RequestFlags, ShellContext } from "../answer/types.js";
import { SHELLS } from "../prompt/context.js";
import type { AskMessage } from "../wire/protocol.js";

/** A decoded message's fields, to check one by one: anything but an object has none. */
export function fieldsOf(message: unknown): Record<string, unknown> {
  return typeof message === "object" && message !== null ? Object.fromEntries(Object.entries(message)) : {};
}

const FLAG_TYPES = { backend: "string", model: "string", explain: "boolean", verbose: "boolean" } as const;

function readFlags(value: unknown): RequestFlags | string {
  if (typeof value !== "object" || value === null) return "flags must be an object";
  const f = fieldsOf(value);
  for (const [name, type] of Object.entries(FLAG_TYPES))
    if (f[name] !== undefined && typeof f[name] !== type) return `flags.${name} must be a ${type}`;
  const text = (v: unknown) => (typeof v === "string" ? v : undefined);
  const bool = (v: unknown) => (typeof v === "boolean" ? v : undefined);
  return { backend: text(f.backend), model: text(f.model), explain: bool(f.explain), verbose: bool(f.verbose) };
}

function readEnv(value: unknown): Record<string, string> | null {
  if (typeof value !== "object" || value === null) return null;
  const entries = Object.entries(value);
  if (entries.some(([, v]) => typeof v !== "string")) return null;
  return Object.fromEntries(entries);
}

/** Most commands a request may say were shown already, and their most characters in all. */
const MAX_SHOWN = 32;
const MAX_SHOWN_CHARACTERS = 64 * 1024;

const nonEmpty = (value: unknown): value is string => typeof value === "string" && value.trim() !== "";

/** The intent from its fields, rebuilt from the checked ones only; absent is ask. */
function readIntent(value: unknown): Intent | string {
  if (value === undefined) return { kind: "ask" };
  if (typeof value !== "object" || value === null) return "intent must be an object";
  const f = fieldsOf(value);
  switch (f.kind) {
    case "ask":
    case "explain":
      return { kind: f.kind };
    case "refine":
      if (!nonEmpty(f.command)) return "intent.command must be a non-empty string";
      if (!nonEmpty(f.words)) return "intent.words must be a non-empty string";
      return { kind: "refine", command: f.command, words: f.words };
    case "fix": {
      if (!nonEmpty(f.command)) return "intent.command must be a non-empty string";
      const status = f.status;
      if (typeof status !== "number" || !Number.isInteger(status) || status < 0 || status > 255)
        return "intent.status must be an integer from 0 to 255";
      return { kind: "fix", command: f.command, status };
    }
    default:
      return "intent.kind must be one of ask, refine, fix, explain";
  }
}

/** The commands already shown: strings, at most MAX_SHOWN of them and MAX_SHOWN_CHARACTERS in all. */
function readShown(value: unknown): string[] | string {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.some((v) => typeof v !== "string")) return "shown must be a list of strings";
  const shown = value as string[];
  if (shown.length > MAX_SHOWN) return `shown may hold at most ${MAX_SHOWN} commands`;
  if (shown.reduce((sum, command) => sum + command.length, 0) > MAX_SHOWN_CHARACTERS)
    return `shown may hold at most ${MAX_SHOWN_CHARACTERS} characters`;
  return [...shown];
}

/** Most history lines, names and screen characters a request may carry. */
const MAX_HISTORY = 100;
const MAX_NAMES = 10_000;
const MAX_CONTEXT_CHARACTERS = 256 * 1024;

const strings = (value: unknown): value is string[] =>
  Array.isArray(value) && value.every((v) => typeof v === "string");

/** What the shell says of itself, rebuilt from the checked fields; absent stays absent. */
function readContext(value: unknown): ShellContext | undefined | string {
  if (value === undefined) return undefined;
  if (typeof value !== "object" || value === null) return "context must be an object";
  const f = fieldsOf(value);
  const context: ShellContext = {};
  if (f.history !== undefined) {
    if (!strings(f.history) || f.history.length > MAX_HISTORY)
      return `context.history must be a list of at most ${MAX_HISTORY} strings`;
    context.history = [...f.history];
  }
  if (f.names !== undefined) {
    if (!strings(f.names) || f.names.length > MAX_NAMES)
      return `context.names must be a list of at most ${MAX_NAMES} strings`;
    context.names = [...f.names];
  }
  if (f.screen !== undefined) {
    if (typeof f.screen !== "string") return "context.screen must be a string";
    context.screen = f.screen;
  }
  const size = [...(context.history ?? []), ...(context.names ?? []), context.screen ?? ""].reduce(
    (sum, text) => sum + text.length,
    0,
  );
  if (size > MAX_CONTEXT_CHARACTERS) return `context may hold at most ${MAX_CONTEXT_CHARACTERS} characters`;
  return context;
}

/** An ask message from its fields, or what is wrong with it. */
export function readAsk(m: Record<string, unknown>): AskMessage | string {
  const { id, words, cwd } = m;
  if (typeof id !== "number" || !Number.isInteger(id)) return "id must be an integer";
  if (typeof words !== "string" || words.trim() === "") return "words must be a non-empty string";
  const shell = SHELLS.find((name) => name === m.shell);
  if (shell === undefined) return `shell must be one of ${SHELLS.join(", ")}`;
  if (typeof cwd !== "string" || !cwd.startsWith("/")) return "cwd must be an absolute path";
  const env = readEnv(m.env);
  if (env === null) return "env must map names to strings";
  const flags = readFlags(m.flags);
  if (typeof flags === "string") return flags;
  const intent = readIntent(m.intent);
  if (typeof intent === "string") return intent;
  const shown = readShown(m.shown);
  if (typeof shown === "string") return shown;
  const context = readContext(m.context);
  if (typeof context === "string") return context;
  return { t: "ask", id, words, intent, shown, shell, cwd, env, flags, ...(context ? { context } : {}) };
}
