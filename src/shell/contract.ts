// The contract between the widget's shell code (shell/) and caro's processes, written once: how
// `caro widget` ends, and the session folder through which a shell talks to its session client
// (session.ts). `caro init` writes these names and numbers into every script (contractInShell).
//
// The session folder, 0700, made by the shell:
//   req      FIFO: the shell writes a line "<waiter pid>" once request.<waiter pid> is written
//   rep      FIFO: the client writes a line as it takes a request and every second while it works
//            on it, and the line "<waiter pid>" once `reply` holds the answer
//   request.<waiter pid>   0600, NUL-terminated fields: cwd, then four counted groups (a count,
//            then that many fields): the shell's last command lines, oldest first (none unless
//            `wants` asks for them); the names of its functions and aliases; the widget's
//            arguments; the forwarded variables as NAME=value (src/client/forwarded.ts), last
//   wants    the history lines the shell should send, as the config reads now: written by the
//            client as it starts, after each request and when the config changes; until it is
//            there, the shell uses what the config said when `caro init` ran
//   scratch  where a shell writes a builtin's output to read it back without forking (bash)
//   reply    NUL-terminated fields: exit status, output (what `caro widget` would print)
//   pid      the client's pid, written by the shell
//   tty      the terminal's modes (`stty -g`) as the line editor had them, to give back to a
//            terminal left raw by a client the shell had to end
// The waiter is the shell process that waits for the reply (the widget's command substitution).

import { isForwarded } from "../client/forwarded.js";

/** `caro widget`'s exit statuses, and what it prints with each: the shell acts on them. */
export const WIDGET_EXIT = {
  /** "<message>\n<new buffer>": an answer (the message may be empty). */
  answered: 0,
  /** "<message>": no answer; the buffer stays as typed. */
  failed: 1,
  /** "<message>": the widget's arguments, or the request file, could not be read. */
  usage: 2,
  /** Nothing: an empty line, and no failed command to fix. */
  nothingToDo: 3,
  /** "<message>\n<buffer>": no answer, but the keys typed while caro thought go back in. */
  typedKeysOnly: 4,
  /** "caro: cancelled": Ctrl-C, or the shell stopped waiting. */
  cancelled: 130,
} as const;

/** The session folder's name starts so: <prefix><uid>-<shell pid>-<random>. */
export const SESSION_FOLDER_PREFIX = "caro-session-";

/** The session folder's entries. */
export const SESSION_FILES = {
  requestFifo: "req",
  replyFifo: "rep",
  /** Followed by ".<waiter pid>". */
  request: "request",
  reply: "reply",
  pid: "pid",
  tty: "tty",
  wants: "wants",
  scratch: "scratch",
} as const;

/** The contract in the scripts' terms: placeholder (without its @s) to value. */
export const contractInShell: Record<string, string> = {
  CARO_EXIT_ANSWERED: String(WIDGET_EXIT.answered),
  CARO_EXIT_NOTHING_TO_DO: String(WIDGET_EXIT.nothingToDo),
  CARO_EXIT_TYPED_KEYS_ONLY: String(WIDGET_EXIT.typedKeysOnly),
  CARO_SESSION_PREFIX: SESSION_FOLDER_PREFIX,
  CARO_REQUEST_FIFO: SESSION_FILES.requestFifo,
  CARO_REPLY_FIFO: SESSION_FILES.replyFifo,
  CARO_REQUEST_FILE: SESSION_FILES.request,
  CARO_REPLY_FILE: SESSION_FILES.reply,
  CARO_PID_FILE: SESSION_FILES.pid,
  CARO_TTY_FILE: SESSION_FILES.tty,
  CARO_WANTS_FILE: SESSION_FILES.wants,
  CARO_SCRATCH_FILE: SESSION_FILES.scratch,
};

export interface SessionRequest {
  cwd: string;
  argv: string[];
  env: Record<string, string>;
  /** The shell's last command lines, oldest first. */
  history: string[];
  /** The shell's function and alias names. */
  names: string[];
}

const COUNT = /^\d{1,5}$/;

/**
 * The request file's fields, or null unless it is exactly one whole request: an absolute cwd, the
 * four counted groups and no field more, and only forwarded variables, each once. A field that
 * held a separator (the shells drop NULs; this is the second line of defence) would shift the ones
 * after it. In the arguments no shift parses, since only the variables follow them, each checked.
 * And no shift anywhere can add a variable: they come last, so it would take the shell's own count
 * of them to be read as one, and a count is no NAME=value.
 */
export function parseRequest(data: string): SessionRequest | null {
  const fields = data.split("\0");
  // Every field ends in a NUL, so the last piece is empty.
  if (fields.pop() !== "") return null;
  const cwd = fields[0];
  if (!cwd?.startsWith("/")) return null;
  let at = 1;
  const group = (): string[] | null => {
    const count = fields[at];
    if (count === undefined || !COUNT.test(count) || at + 1 + Number(count) > fields.length) return null;
    const taken = fields.slice(at + 1, at + 1 + Number(count));
    at += 1 + Number(count);
    return taken;
  };
  const history = group();
  const names = group();
  const argv = group();
  const assignments = group();
  if (!history || !names || !argv || !assignments || at !== fields.length) return null;
  const env: Record<string, string> = {};
  for (const entry of assignments) {
    const eq = entry.indexOf("=");
    const name = entry.slice(0, eq);
    if (eq <= 0 || !isForwarded(name) || Object.hasOwn(env, name)) return null;
    env[name] = entry.slice(eq + 1);
  }
  return { cwd, argv, env, history, names };
}

/** The `wants` file's text: the history lines the shell should send. */
export function wantsText(historyLines: number): string {
  return `${historyLines}\n`;
}

/** The reply file's text. A shell variable cannot hold a NUL; the one-shot client's output loses them too. */
export function replyText(status: number, output: string): string {
  return `${status}\0${output.replaceAll("\0", "")}\0`;
}
