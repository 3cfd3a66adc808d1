// Reading what a client sent. A client is untrusted input: each field is checked, and the typed
// message is built from the checked fields, so nothing unchecked reaches the pipeline.

import type { RequestFlags } from "../answer/types.js";
import { SHELLS } from "../prompt/context.js";
import type { AskMessage } from "./protocol.js";

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

/** An ask message from its fields, or what is wrong with it. */
export function readAsk(m: Record<string, unknown>): AskMessage | string {
  const { id, request, cwd } = m;
  if (typeof id !== "number" || !Number.isInteger(id)) return "id must be an integer";
  if (typeof request !== "string" || request.trim() === "") return "request must be a non-empty string";
  const shell = SHELLS.find((name) => name === m.shell);
  if (shell === undefined) return `shell must be one of ${SHELLS.join(", ")}`;
  if (typeof cwd !== "string" || !cwd.startsWith("/")) return "cwd must be an absolute path";
  const env = readEnv(m.env);
  if (env === null) return "env must map names to strings";
  const flags = readFlags(m.flags);
  if (typeof flags === "string") return flags;
  return { t: "ask", id, request, shell, cwd, env, flags };
}
