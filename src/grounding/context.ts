// What caro adds to a request on its own, under the [context] settings and the privacy rules:
// this machine's tools, the folder's entries and git branch, the shell's history and screen, and
// for a fix the failed command. The request the user typed is theirs and goes as typed; all the
// rest is redacted before it reaches a server that is not on this machine (or always, or never, as
// `context.redact` says), and the screen goes to such a server only when the user opts in.

import type { UserRequest } from "../answer/types.js";
import type { Settings } from "../config/schema.js";
import { redactSecrets } from "../privacy/redact.js";
import { folderContext, folderLines } from "./folder.js";
import { inventoryText, machineInventory } from "./inventory.js";

/** Characters of folder entries at most: with `context.entries`, what bounds a listing's cost. */
const FOLDER_CHARS_PER_ENTRY = 16;
/** Characters of one history line, and of the screen, at most. */
const MAX_HISTORY_LINE = 300;
const MAX_SCREEN = 2000;

/** Is this address on this machine: localhost, 127.0.0.0/8 or ::1? */
export function isLoopbackUrl(url: string): boolean {
  let host: string;
  try {
    host = new URL(url).hostname.toLowerCase();
  } catch {
    return false;
  }
  host = host.replace(/^\[|\]$/g, "");
  return (
    host === "localhost" ||
    host.endsWith(".localhost") ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) ||
    host === "::1" ||
    /^::ffff:127\./.test(host)
  );
}

/** Where a backend's prompt goes: this machine (embedded, or a server on loopback), or a server elsewhere. */
export function destinationOf(backend: string, settings: Settings): { local: boolean; to: string } {
  const url =
    backend === "ollama" ? settings["backends.ollama.host"] : backend === "vllm" ? settings["backends.vllm.url"] : null;
  if (url === null) return { local: true, to: "this machine" };
  return { local: isLoopbackUrl(url), to: url };
}

export interface AddedContext {
  /** The tool lines of the fixed prompt; absent when `context.tools` is off. */
  tools?: string;
  /** Lines about where the user is: the folder's entries, the git branch. */
  place: string[];
  history: string[];
  screen?: string;
  /** For a fix, the failed command as it may be sent. */
  fixCommand?: string;
  /** Secrets are hidden from all of the above. */
  redacting: boolean;
  /** How many were. */
  redacted: number;
}

function cut(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join("")}…`;
}

/** What caro adds to `request`, for a backend on this machine (`local`) or not. */
export function addedContext(request: UserRequest, settings: Settings, local: boolean): AddedContext {
  const mode = settings["context.redact"];
  const redacting = mode === "always" || (mode === "remote" && !local);
  let redacted = 0;
  const hide = (text: string) => {
    if (!redacting) return text;
    const result = redactSecrets(text);
    redacted += result.count;
    return result.text;
  };

  const entries = settings["context.entries"];
  const folder =
    entries > 0 || settings["context.git"]
      ? folderContext(request.cwd, { maxEntries: entries, maxChars: entries * FOLDER_CHARS_PER_ENTRY })
      : null;
  if (folder && !settings["context.git"]) folder.git = null;
  const place = folder ? folderLines(folder).map(hide) : [];

  const wanted = settings["context.history"];
  const history =
    wanted > 0 ? (request.context?.history ?? []).slice(-wanted).map((line) => hide(cut(line, MAX_HISTORY_LINE))) : [];

  const screenMode = settings["context.screen"];
  const screenAllowed = screenMode === "always" || (screenMode === "local" && local);
  const rawScreen = request.intent?.kind === "fix" && screenAllowed ? request.context?.screen : undefined;
  // The end of the screen is what the failed command printed last: keep that when cutting.
  const screen = rawScreen?.trim() ? hide([...rawScreen.trim()].slice(-MAX_SCREEN).join("")) : undefined;

  const fixCommand = request.intent?.kind === "fix" ? hide(request.intent.command) : undefined;
  const tools = settings["context.tools"]
    ? inventoryText(machineInventory(request.env.PATH ?? process.env.PATH))
    : undefined;
  return { tools, place, history, screen, fixCommand, redacting, redacted };
}

/** The added context as the lines --verbose shows, in the order the prompt holds them. */
export function contextLines(added: AddedContext): string[] {
  const lines = [...(added.tools?.split("\n") ?? []), ...added.place];
  if (added.history.length) lines.push("Recent commands:", ...added.history.map((line) => JSON.stringify(line)));
  if (added.fixCommand !== undefined) lines.push(`failed command: ${added.fixCommand}`);
  if (added.screen) lines.push("It printed:", ...added.screen.split("\n"));
  return lines;
}
