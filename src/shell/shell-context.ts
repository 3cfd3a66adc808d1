// What the widget adds to a request about the shell it runs in (answer/types.ts's ShellContext):
// the history lines and the function and alias names the shell sent with its request, bounded
// here, and for a fix inside tmux, the pane's last lines. The daemon decides what of it reaches the
// model, under the [context] settings (grounding/context.ts); nothing here runs a user's command.

import { execFile } from "node:child_process";
import type { ShellContext } from "../answer/types.js";

/** The most history lines the config may ask for (`context.history`'s bound). */
export const MAX_HISTORY_LINES = 50;
/** Characters of one history line kept: the daemon cuts them shorter still. */
const MAX_HISTORY_LINE = 1000;
/** Names kept, and the longest: a name with a space, a control character or of this length is no command. */
const MAX_NAMES = 2000;
const NAME = /^[^\s\p{Cc}]{1,64}$/u;
/** The pane's lines asked of tmux (the visible ones and this many above), and the characters kept of their end. */
const PANE_LINES = 50;
const MAX_SCREEN = 4000;
/** tmux answers in milliseconds; a wedged server must not hold up a fix. */
const CAPTURE_TIMEOUT_MS = 1000;

/** The shell's history and names as the daemon takes them: bounded, in a request of bounded size. */
export function sentContext(history: readonly string[], names: readonly string[]): ShellContext {
  const context: ShellContext = {};
  const lines = history
    .filter((line) => line.trim() !== "")
    .slice(-MAX_HISTORY_LINES)
    .map((line) => [...line].slice(0, MAX_HISTORY_LINE).join(""));
  if (lines.length > 0) context.history = lines;
  const kept = [...new Set(names.filter((name) => NAME.test(name)))].slice(0, MAX_NAMES);
  if (kept.length > 0) context.names = kept;
  return context;
}

/**
 * The tmux pane's last lines, wrapped lines joined, when this process runs in one (TMUX and
 * TMUX_PANE, as tmux sets them for the shell); undefined elsewhere, or when tmux does not answer.
 */
export function paneText(env: NodeJS.ProcessEnv, signal?: AbortSignal): Promise<string | undefined> {
  const pane = env.TMUX_PANE;
  if (!env.TMUX || !pane || !/^%\d+$/.test(pane)) return Promise.resolve(undefined);
  const args = ["capture-pane", "-p", "-J", "-S", `-${PANE_LINES}`, "-t", pane];
  return new Promise((resolve) => {
    execFile("tmux", args, { env, timeout: CAPTURE_TIMEOUT_MS, signal, maxBuffer: 1 << 20 }, (error, stdout) => {
      if (error) return resolve(undefined);
      const text = stdout.replace(/\s+$/, "");
      resolve(text === "" ? undefined : [...text].slice(-MAX_SCREEN).join(""));
    });
  });
}
