// `caro session <shell> <dir> <shell pid>`: one long-lived widget client per shell session, so a
// Ctrl-G does not pay for starting Node and loading the rater. The shell's `_caro_client` starts it
// in the background, inside the shell's own process group (so it may hold the terminal in raw mode
// like the one-shot client), and talks to it through a private folder (0700, made by the shell):
//   req      FIFO: the shell writes a line "<waiter pid>" once request.<waiter pid> is written
//   rep      FIFO: this process writes the same line once `reply` holds the answer
//   request.<waiter pid>   NUL-terminated fields: cwd, argc, argv..., then NAME=value entries
//   reply    NUL-terminated fields: exit status, output (what `caro widget` would print)
// The waiter is the shell process that waits for the reply (the widget's command substitution).
// Every request runs src/client/widget.ts's runWidget exactly as `caro widget` would, in the
// shell's cwd and with its current environment: the daemon socket is checked and the answer is
// rated here each time, as in the one-shot client.

import {
  constants,
  lstatSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { Socket } from "node:net";
import { join } from "node:path";
import { ownProcessAlive } from "../system/process-alive.js";
import { clientEnv } from "./ask.js";
import { KeptConnection } from "./connection.js";
import { runWidget } from "./widget.js";

/** How often the shell and the waiting process are checked for being still there. */
const SHELL_POLL_MS = 1000;
const WAITER_POLL_MS = 200;

/** Ctrl-C, Ctrl-\ and Ctrl-Z at the prompt reach the whole process group: none may stop this process. */
const IGNORED_SIGNALS: NodeJS.Signals[] = ["SIGINT", "SIGQUIT", "SIGTSTP", "SIGTTIN", "SIGTTOU"];

const mine = (uid: number) => process.getuid === undefined || uid === process.getuid();

/** The folder and its FIFOs must be this user's alone: another user could read requests or answer them. */
export function sessionDirProblem(dir: string): string | null {
  try {
    const stats = lstatSync(dir);
    if (!stats.isDirectory() || !mine(stats.uid) || (stats.mode & 0o077) !== 0)
      return `${dir} is not a folder of this user's that only this user can open`;
    for (const fifo of ["req", "rep"]) {
      const path = join(dir, fifo);
      const entry = lstatSync(path);
      if (!entry.isFIFO() || !mine(entry.uid)) return `${path} is not a FIFO of this user's`;
    }
    return null;
  } catch (error) {
    return `${dir} cannot be checked (${(error as NodeJS.ErrnoException).code ?? String(error)})`;
  }
}

export interface SessionRequest {
  cwd: string;
  argv: string[];
  env: Record<string, string>;
}

/** The request file's fields, or null when it is not a whole request. */
export function parseRequest(data: string): SessionRequest | null {
  const fields = data.split("\0");
  // Every field ends in a NUL, so the last piece is empty.
  if (fields.pop() !== "") return null;
  const [cwd, count, ...rest] = fields;
  // Digits only: Number() would read an empty or spaced count as a number.
  const argc = /^\d+$/.test(count ?? "") ? Number(count) : -1;
  if (!cwd || argc < 0 || argc > rest.length) return null;
  const env: Record<string, string> = {};
  for (const entry of rest.slice(argc)) {
    const eq = entry.indexOf("=");
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return { cwd, argv: rest.slice(0, argc), env };
}

/**
 * Makes this process's environment the shell's as far as caro reads it (the variables the one-shot
 * client forwards: CARO_*, XDG_*, PATH, …): set, changed or unset since the session started.
 */
function takeEnv(shellEnv: Record<string, string>): void {
  const wanted = clientEnv(shellEnv);
  for (const name of Object.keys(clientEnv(process.env))) if (!(name in wanted)) delete process.env[name];
  Object.assign(process.env, wanted);
}

class Session {
  private readonly queue: number[] = [];
  private busy = false;
  private readonly stopping = new AbortController();
  /** The daemon connection, kept from one Ctrl-G to the next. */
  private readonly daemon = new KeptConnection();

  constructor(
    private readonly shell: string,
    private readonly dir: string,
    private readonly reply: number,
  ) {}

  enqueue(waiter: number): void {
    this.queue.push(waiter);
    if (!this.busy) void this.drain();
  }

  stop(): void {
    this.stopping.abort();
    this.daemon.drop();
  }

  private async drain(): Promise<void> {
    this.busy = true;
    try {
      for (let waiter = this.queue.shift(); waiter !== undefined; waiter = this.queue.shift()) await this.serve(waiter);
    } finally {
      this.busy = false;
    }
  }

  private async serve(waiter: number): Promise<void> {
    const file = join(this.dir, `request.${waiter}`);
    let data: string;
    try {
      const stats = lstatSync(file);
      if (!stats.isFile() || !mine(stats.uid)) return;
      data = readFileSync(file, "utf8");
      unlinkSync(file);
    } catch {
      return;
    }
    // A shell that stopped waiting (Ctrl-C before the terminal was held) must not have its
    // terminal taken from under its prompt.
    if (!ownProcessAlive(waiter)) return;
    const problem = sessionDirProblem(this.dir);
    if (problem) return this.answer(waiter, 1, `caro: ${problem}`);
    const request = parseRequest(data);
    if (!request) return this.answer(waiter, 2, "caro: the session helper got a malformed request");
    try {
      process.chdir(request.cwd);
    } catch (error) {
      return this.answer(waiter, 1, `caro: cannot enter ${request.cwd} (${(error as NodeJS.ErrnoException).code})`);
    }
    takeEnv(request.env);
    const gone = new AbortController();
    const stop = () => gone.abort();
    this.stopping.signal.addEventListener("abort", stop, { once: true });
    const watch = setInterval(() => ownProcessAlive(waiter) || gone.abort(), WAITER_POLL_MS);
    let output = "";
    try {
      const status = await runWidget(
        [this.shell, ...request.argv],
        (text) => {
          output += text;
        },
        gone.signal,
        this.daemon,
      );
      this.answer(waiter, status, output);
    } catch (error) {
      this.answer(waiter, 1, `caro: ${String(error)}`);
    } finally {
      clearInterval(watch);
      this.stopping.signal.removeEventListener("abort", stop);
    }
  }

  /** The reply file first, then its line on `rep`: the shell reads the file once it sees the line. */
  private answer(waiter: number, status: number, output: string): void {
    const path = join(this.dir, "reply");
    try {
      // Text in a shell variable cannot hold a NUL; the one-shot client's output loses them too.
      writeFileSync(`${path}.tmp`, `${status}\0${output.replaceAll("\0", "")}\0`, { mode: 0o600 });
      renameSync(`${path}.tmp`, path);
      writeSync(this.reply, `${waiter}\n`);
    } catch {
      // The folder went away with the shell; nothing is waiting.
    }
  }
}

function usage(message: string): number {
  process.stderr.write(`caro: ${message}\n`);
  return 2;
}

/** Runs until the shell is gone: SIGHUP, SIGTERM, or its pid no longer there. */
export async function session(argv: string[]): Promise<number> {
  const [shell, dir, pidText] = argv;
  const shellPid = Number(pidText);
  if (argv.length !== 3 || !["zsh", "bash", "fish"].includes(shell) || !Number.isInteger(shellPid) || shellPid < 2)
    return usage("usage: caro session <zsh|bash|fish> <private folder> <shell pid>");
  const problem = sessionDirProblem(dir);
  if (problem) return usage(`refusing the session folder: ${problem}`);
  for (const signal of IGNORED_SIGNALS) process.on(signal, () => undefined);
  // Read-write: opening never waits for the shell, and the FIFOs never read as closed while this
  // process is there; the shell opens them read-write too, so neither side ever blocks on an open.
  const flags = constants.O_RDWR | constants.O_NONBLOCK;
  const requests = new Socket({ fd: openSync(join(dir, "req"), flags), readable: true, writable: false });
  const reply = openSync(join(dir, "rep"), flags);
  const served = new Session(shell, dir, reply);
  let pending = "";
  requests.setEncoding("utf8");
  requests.on("data", (chunk: string) => {
    pending += chunk;
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) if (/^\d+$/.test(line)) served.enqueue(Number(line));
  });
  // Load what a request needs now, not on the first Ctrl-G.
  const [{ bashParser }] = await Promise.all([
    import("../safety/parser.js"),
    import("../safety/rate.js"),
    import("../config/load.js"),
  ]);
  await bashParser();
  return new Promise<number>((resolve) => {
    const end = () => {
      clearInterval(poll);
      served.stop();
      requests.destroy();
      rmSync(dir, { recursive: true, force: true });
      resolve(0);
      // A request still running holds the terminal; it was cancelled and gives it back first.
      setTimeout(() => process.exit(0), 200).unref();
    };
    const poll = setInterval(() => ownProcessAlive(shellPid) || end(), SHELL_POLL_MS);
    process.once("SIGHUP", end);
    process.once("SIGTERM", end);
  });
}
