// `caro session <shell> <dir> <shell pid>`: one long-lived widget client per shell session, so a
// Ctrl-G does not pay for starting Node and loading the rater. The shell's `_caro_client` starts it
// in the background, inside the shell's own process group (so it may hold the terminal in raw mode
// like the one-shot client), and talks to it through a private folder whose layout is in
// contract.ts. This process writes "alive" on `rep` as it takes a request and every second while it
// works on it. A shell that hears nothing for 3 s from a stopped client (the daemon's own bound),
// 10 s from one it heard before, or 60 s from one never heard (Node loading on a busy machine) ends
// it, gives back the terminal and keeps the typed line. A request file is read exactly or refused,
// then removed. Every request runs src/shell/widget.ts's runWidget exactly as `caro widget` would, in the
// shell's cwd and with its current environment: the daemon socket is checked and the answer is
// rated here each time, as in the one-shot client.
//
// The folder is named <prefix><uid>-<shell pid>-<random>. On start this process removes the
// folders of its kind that outlived their shell, and ends the client of an earlier shell in the
// same process (`exec zsh` keeps the pid and starts afresh): one client per shell process.

import {
  constants,
  lstatSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { Socket } from "node:net";
import { basename, dirname, join } from "node:path";
import { ownProcessAlive, processAlive } from "../system/process-alive.js";
import { KeptConnection } from "../client/connection.js";
import { loadConfig } from "../config/load.js";
import { configFilePath } from "../config/paths.js";
import { clientEnv } from "../client/forwarded.js";
import { parseRequest, replyText, SESSION_FILES, SESSION_FOLDER_PREFIX, WIDGET_EXIT, wantsText } from "./contract.js";
import { MAX_HISTORY_LINES } from "./shell-context.js";
import { WIDGET_SHELL_NAMES, widgetShell } from "./shells.js";
import { runWidget } from "./widget.js";

/** How often the shell and the waiting process are checked for being still there. */
const SHELL_POLL_MS = 1000;
const WAITER_POLL_MS = 200;
/** How often a shell waiting for its reply hears that this process works on it. */
const HEARTBEAT_MS = 1000;

/** Ctrl-C, Ctrl-\ and Ctrl-Z at the prompt reach the whole process group: none may stop this process. */
const IGNORED_SIGNALS: NodeJS.Signals[] = ["SIGINT", "SIGQUIT", "SIGTSTP", "SIGTTIN", "SIGTTOU"];

const mine = (uid: number) => process.getuid === undefined || uid === process.getuid();

/** The folder and its FIFOs must be this user's alone: another user could read requests or answer them. */
export function sessionDirProblem(dir: string): string | null {
  try {
    const stats = lstatSync(dir);
    if (!stats.isDirectory() || !mine(stats.uid) || (stats.mode & 0o077) !== 0)
      return `${dir} is not a folder of this user's that only this user can open`;
    for (const fifo of [SESSION_FILES.requestFifo, SESSION_FILES.replyFifo]) {
      const path = join(dir, fifo);
      const entry = lstatSync(path);
      if (!entry.isFIFO() || !mine(entry.uid)) return `${path} is not a FIFO of this user's`;
    }
    return null;
  } catch (error) {
    return `${dir} cannot be checked (${(error as NodeJS.ErrnoException).code ?? String(error)})`;
  }
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

/** The pid in a session folder's pid file, if it is a session client of this user's serving that folder. */
function clientOf(dir: string): number | null {
  try {
    const pid = Number(readFileSync(join(dir, SESSION_FILES.pid), "utf8").trim());
    if (!Number.isInteger(pid) || pid < 2) return null;
    const words = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    if (!words.includes("session") || !words.includes(dir) || !mine(lstatSync(`/proc/${pid}`).uid)) return null;
    return pid;
  } catch {
    return null;
  }
}

/** Ends a session client: SIGCONT too, so a stopped one wakes to end and gives back the terminal if it held it. */
function endClient(pid: number): void {
  try {
    for (const signal of ["SIGTERM", "SIGCONT"] as const) process.kill(pid, signal);
  } catch {
    // Gone meanwhile.
  }
}

const REQUEST_FILE = new RegExp(`^${SESSION_FILES.request}\\.(\\d+)$`);
const SESSION_FOLDER = new RegExp(`^${SESSION_FOLDER_PREFIX}(\\d+)-(\\d+)-\\d+$`);

/** Removes a session folder, if it is one of this user's. */
function removeFolder(path: string): void {
  try {
    const stats = lstatSync(path);
    if (SESSION_FOLDER.test(basename(path)) && stats.isDirectory() && mine(stats.uid))
      rmSync(path, { recursive: true, force: true });
  } catch {
    // Gone meanwhile.
  }
}

/**
 * Ends the other session clients of this user's that serve the same shell process: those of an
 * earlier shell in it (`exec zsh` keeps the pid, and the new shell names a new folder, maybe under
 * another XDG_RUNTIME_DIR), and removes their folders. Found by their command lines, /proc's.
 */
function endEarlierClients(shellPid: number): void {
  let names: string[];
  try {
    names = readdirSync("/proc");
  } catch {
    return; // no /proc (macOS): the folder sweep below still finds those beside this one
  }
  for (const name of names) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const args = readFileSync(`/proc/${name}/cmdline`, "utf8").split("\0");
      if (args.at(-1) === "") args.pop();
      if (args.at(-4) !== "session" || args.at(-1) !== String(shellPid) || !mine(lstatSync(`/proc/${name}`).uid))
        continue;
      endClient(Number(name));
      removeFolder(args.at(-2) ?? "");
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
}

/** What tells one version of the config file from another, or its absence. */
function configStamp(): string {
  const path = configFilePath(process.env);
  const stat = statSync(path, { throwIfNoEntry: false });
  return stat ? `${path}:${stat.ino}:${stat.size}:${stat.mtimeMs}` : `${path}:none`;
}

/**
 * Clears what earlier sessions left: the clients (and folders) of an earlier shell in this same
 * process, and beside `dir` the folder of a shell that is gone (its client died before it could
 * remove it). Another live shell's folder is left alone, as is anything not this user's.
 */
export function sweepSessionFolders(dir: string, shellPid: number): void {
  endEarlierClients(shellPid);
  const own = SESSION_FOLDER.exec(basename(dir));
  if (!own) return;
  const parent = dirname(dir);
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return;
  }
  for (const name of names) {
    // The parent is often /tmp, with thousands of entries: look at the name before anything else.
    const found = SESSION_FOLDER.exec(name);
    if (!found || found[1] !== own[1]) continue;
    const path = join(parent, name);
    if (path === dir) continue;
    const pid = Number(found[2]);
    if (pid !== shellPid && processAlive(pid)) continue;
    const client = clientOf(path);
    if (client !== null) endClient(client);
    removeFolder(path);
  }
  // Requests in this folder whose shell stopped waiting before a client read them.
  try {
    for (const name of readdirSync(dir)) {
      const waiter = REQUEST_FILE.exec(name);
      if (waiter && !ownProcessAlive(Number(waiter[1]))) rmSync(join(dir, name), { force: true });
    }
  } catch {
    // The shell removed its folder meanwhile; the caller finds out.
  }
}

class Session {
  private readonly queue: number[] = [];
  private busy = false;
  private heartbeat: NodeJS.Timeout | undefined;
  private readonly stopping = new AbortController();
  /** The daemon connection, kept from one Ctrl-G to the next. */
  private readonly daemon = new KeptConnection();
  /** The `wants` file's text as last written. */
  private wanted: string | undefined;
  /** The config file as last read for it (path, inode, size, mtime): the poll reads it again only once it changes. */
  private configSeen = "";

  constructor(
    private readonly shell: string,
    private readonly dir: string,
    private readonly reply: number,
  ) {}

  enqueue(waiter: number): void {
    this.queue.push(waiter);
    // Heard at once, then every second until the queue is served: the shell's sign that this
    // process is neither stopped nor stuck.
    this.beat();
    this.heartbeat ??= setInterval(() => this.beat(), HEARTBEAT_MS);
    if (!this.busy) void this.drain();
  }

  stop(): void {
    this.stopping.abort();
    this.daemon.drop();
  }

  private beat(): void {
    try {
      writeSync(this.reply, "alive\n");
    } catch {
      // The FIFO is full (nobody reads it) or gone with the shell: nothing is waiting.
    }
  }

  private async drain(): Promise<void> {
    this.busy = true;
    try {
      for (let waiter = this.queue.shift(); waiter !== undefined; waiter = this.queue.shift()) await this.serve(waiter);
    } finally {
      this.busy = false;
      clearInterval(this.heartbeat);
      this.heartbeat = undefined;
    }
  }

  /** The request file's text, removed once read; null when there is none of this user's to read. */
  private take(waiter: number): string | { problem: string } | null {
    const file = join(this.dir, `${SESSION_FILES.request}.${waiter}`);
    try {
      const stats = lstatSync(file);
      if (!stats.isFile() || !mine(stats.uid)) return null;
      const data = readFileSync(file, "utf8");
      unlinkSync(file);
      // The shell writes it 0600 (it may hold an API key); the folder is private too, but a file
      // others could read is not what the shell wrote.
      if ((stats.mode & 0o077) !== 0)
        return { problem: `${file} could be read by other users (mode ${(stats.mode & 0o777).toString(8)})` };
      return data;
    } catch {
      return null;
    }
  }

  private async serve(waiter: number): Promise<void> {
    const data = this.take(waiter);
    if (data === null) return;
    // A shell that stopped waiting (Ctrl-C before the terminal was held) must not have its
    // terminal taken from under its prompt.
    if (!ownProcessAlive(waiter)) return;
    const problem = typeof data === "string" ? sessionDirProblem(this.dir) : data.problem;
    if (problem) return this.answer(waiter, WIDGET_EXIT.failed, `caro: refused the request: ${problem}`);
    const request = parseRequest(data as string);
    if (!request)
      return this.answer(
        waiter,
        WIDGET_EXIT.usage,
        "caro: the session client got a request it cannot read exactly: nothing was sent",
      );
    try {
      process.chdir(request.cwd);
    } catch (error) {
      return this.answer(
        waiter,
        WIDGET_EXIT.failed,
        `caro: cannot enter ${request.cwd} (${(error as NodeJS.ErrnoException).code})`,
      );
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
        { history: request.history, names: request.names },
      );
      this.answer(waiter, status, output);
    } catch (error) {
      this.answer(waiter, WIDGET_EXIT.failed, `caro: ${String(error)}`);
    } finally {
      clearInterval(watch);
      this.stopping.signal.removeEventListener("abort", stop);
      // This request's environment may name another config.
      this.tellWants();
    }
  }

  /**
   * Tells the shell how many history lines to send with its next request: as many as the config
   * (under the shell's environment, as the last request carried it) has the daemon use, so that
   * with the default (none) the shell does not even read its history. Written only when it changes.
   */
  tellWants(): void {
    this.configSeen = configStamp();
    let lines: number;
    try {
      lines = Math.min(loadConfig({}, process.env).settings["context.history"], MAX_HISTORY_LINES);
    } catch {
      return; // a config that does not load: the daemon says so, and the shell keeps what it had
    }
    const text = wantsText(lines);
    if (text === this.wanted) return;
    const path = join(this.dir, SESSION_FILES.wants);
    try {
      writeFileSync(`${path}.tmp`, text, { mode: 0o600 });
      renameSync(`${path}.tmp`, path);
      this.wanted = text;
    } catch {
      // The folder went away with the shell.
    }
  }

  /** tellWants, if the config file changed since it last read it: a stat a second, not a parse. */
  tellWantsIfEdited(): void {
    if (configStamp() !== this.configSeen) this.tellWants();
  }

  /** The reply file first, then its line on `rep`: the shell reads the file once it sees the line. */
  private answer(waiter: number, status: number, output: string): void {
    const path = join(this.dir, SESSION_FILES.reply);
    try {
      writeFileSync(`${path}.tmp`, replyText(status, output), { mode: 0o600 });
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

/** Whether the folder's pid file names this process: a shell that dropped it may have started another there. */
function stillMine(dir: string): boolean {
  try {
    return Number(readFileSync(join(dir, SESSION_FILES.pid), "utf8").trim()) === process.pid;
  } catch {
    return false;
  }
}

/** Runs until the shell is gone: SIGHUP, SIGTERM, or its pid no longer there. */
export async function session(argv: string[]): Promise<number> {
  const [shell, dir, pidText] = argv;
  const shellPid = Number(pidText);
  if (argv.length !== 3 || !widgetShell(shell) || !Number.isInteger(shellPid) || shellPid < 2)
    return usage(`usage: caro session <${WIDGET_SHELL_NAMES.join("|")}> <private folder> <shell pid>`);
  const problem = sessionDirProblem(dir);
  if (problem) return usage(`refusing the session folder: ${problem}`);
  for (const signal of IGNORED_SIGNALS) process.on(signal, () => undefined);
  // Read-write: opening never waits for the shell, and the FIFOs never read as closed while this
  // process is there; the shell opens them read-write too, so neither side ever blocks on an open.
  const flags = constants.O_RDWR | constants.O_NONBLOCK;
  const requests = new Socket({
    fd: openSync(join(dir, SESSION_FILES.requestFifo), flags),
    readable: true,
    writable: false,
  });
  const reply = openSync(join(dir, SESSION_FILES.replyFifo), flags);
  const served = new Session(shell, dir, reply);
  let pending = "";
  requests.setEncoding("utf8");
  requests.on("data", (chunk: string) => {
    pending += chunk;
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) if (/^\d+$/.test(line)) served.enqueue(Number(line));
  });
  sweepSessionFolders(dir, shellPid);
  // Load what a request needs now, not on the first Ctrl-G.
  const [{ bashParser }] = await Promise.all([import("../safety/parser.js"), import("../safety/rate.js")]);
  served.tellWants();
  await bashParser();
  return new Promise<number>((resolve) => {
    const end = () => {
      clearInterval(poll);
      served.stop();
      requests.destroy();
      if (stillMine(dir)) rmSync(dir, { recursive: true, force: true });
      resolve(0);
      // A request still running holds the terminal; it was cancelled and gives it back first.
      setTimeout(() => process.exit(0), 200).unref();
    };
    // Each poll also reads the config again: a change to `context.history` reaches the next Ctrl-G.
    const poll = setInterval(() => {
      if (!ownProcessAlive(shellPid)) return end();
      served.tellWantsIfEdited();
    }, SHELL_POLL_MS);
    process.once("SIGHUP", end);
    process.once("SIGTERM", end);
  });
}
