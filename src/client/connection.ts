// The client's half of the daemon socket. Imported by the shell widget's client on every
// keystroke, so it loads nothing but node built-ins and the frame codec.

import type { ChildProcess } from "node:child_process";
import { closeSync, fchmodSync, fstatSync, mkdirSync, openSync, readFileSync, readSync } from "node:fs";
import { createRequire } from "node:module";
import { connect, type Socket } from "node:net";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { CaroError, DaemonNotRunningError, DaemonUnresponsiveError, InterruptedError } from "../errors.js";
import { checkRuntimeDir, checkSocket, logPath, pidPath, runtimeDir, socketPath } from "../wire/paths.js";
import { encodeFrame, FrameReader, type ClientMessage, type DaemonMessage } from "../wire/protocol.js";
import { compareVersions, daemonVersion } from "../wire/version.js";

const CARO_BIN = fileURLToPath(new URL("../../bin/caro.js", import.meta.url));
const START_TIMEOUT_MS = 15_000;
/** A daemon answers its hello at once, even while a model loads; longer means it is stopped or wedged. */
export const HELLO_TIMEOUT_MS = 3000;

/** The promise's outcome, or InterruptedError as soon as `signal` aborts, whichever comes first. */
function unlessAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(new InterruptedError());
  let onAbort = (): void => undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(new InterruptedError());
    signal.addEventListener("abort", onAbort, { once: true });
  });
  // The listener goes with the wait: a long stream of messages must not pile them up on the signal.
  return Promise.race([promise, aborted]).finally(() => signal.removeEventListener("abort", onAbort));
}

const sleep = (ms: number, signal?: AbortSignal) =>
  unlessAborted(new Promise<void>((resolve) => setTimeout(resolve, ms)), signal);

/** One socket to the daemon, read as a queue of whole messages. */
export class DaemonConnection {
  private readonly reader = new FrameReader<DaemonMessage>();
  private readonly messages: DaemonMessage[] = [];
  private wake: (() => void) | null = null;
  private closed = false;
  /** Why the stream became unreadable, when it did: a frame over the size limit or one that does not decode. */
  broken: string | null = null;

  constructor(private readonly socket: Socket) {
    socket.on("data", (chunk) => {
      try {
        this.messages.push(...this.reader.push(chunk));
      } catch (error) {
        this.broken = (error as Error).message;
        socket.destroy();
      }
      this.wake?.();
    });
    socket.on("close", () => {
      this.closed = true;
      this.wake?.();
    });
    socket.on("error", () => undefined);
  }

  send(message: ClientMessage): void {
    if (!this.socket.destroyed) this.socket.write(encodeFrame(message));
  }

  /** The next message, or null once the daemon has closed the connection; InterruptedError once `signal` aborts. */
  async next(signal?: AbortSignal): Promise<DaemonMessage | null> {
    while (this.messages.length === 0) {
      if (this.closed) return null;
      if (signal?.aborted) throw new InterruptedError();
      await unlessAborted(new Promise<void>((resolve) => (this.wake = resolve)), signal);
      this.wake = null;
    }
    return this.messages.shift()!;
  }

  /** Still open and readable: a kept connection is used again only while it is. */
  get usable(): boolean {
    return !this.closed && this.broken === null && !this.socket.destroyed;
  }

  close(): void {
    this.socket.destroy();
  }
}

function connectOnce(path: string): Promise<Socket | null> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once("connect", () => resolve(socket));
    socket.once("error", () => resolve(null));
  });
}

/**
 * Starts `caro daemon run` detached from this process and its terminal, logging to daemon.log (0600);
 * `runArgs` go after `run` (--warm <shell>).
 */
export function startDaemon(runArgs: string[] = []): ChildProcess {
  const log = logPath();
  mkdirSync(dirname(log), { recursive: true, mode: 0o700 });
  const fd = openSync(log, "a", 0o600);
  // A log left by an older caro may be readable by others: it holds requests and paths.
  fchmodSync(fd, 0o600);
  // Loaded here, not by every request: 1 ms of a one-shot `caro`'s start that only a start needs.
  const { spawn } = createRequire(import.meta.url)("node:child_process") as typeof import("node:child_process");
  const child = spawn(process.execPath, [...DAEMON_NODE_FLAGS, CARO_BIN, "daemon", "run", ...runArgs], {
    detached: true,
    env: daemonEnv(),
    stdio: ["ignore", fd, fd],
  });
  child.unref();
  closeSync(fd);
  return child;
}

/**
 * A young generation of 1 MB semi-spaces for the daemon's main thread, as its workers have: its
 * garbage is small and short-lived, and V8's default lets the resident size swing by 10 to 15 MB
 * with when it last collected (measured with npm run soak: 146-161 MB over 16000 requests, then
 * 126-132 MB, and 20 MB less throughout).
 */
const DAEMON_NODE_FLAGS = ["--max-semi-space-size=1"];

/**
 * The daemon's environment: this one, with glibc told to hand large freed blocks back to the
 * system. Otherwise its dynamic threshold keeps the model load's temporary buffers in the heap
 * for good (measured: 43 MB of the daemon's resident size with the 1.5B model).
 */
function daemonEnv(): NodeJS.ProcessEnv {
  return { MALLOC_MMAP_THRESHOLD_: String(128 * 1024), ...process.env };
}

/** How much of the log's end to read for its last line: a line is far shorter (daemon/log.ts). */
const LOG_TAIL_BYTES = 8192;

/**
 * Why the daemon that just failed to start said it failed: its last message, not the hint after
 * it. Read from the log's end only: the log may hold up to a megabyte of earlier days.
 */
export function lastLogLine(path = logPath()): string {
  let fd: number | undefined;
  try {
    fd = openSync(path, "r");
    const size = fstatSync(fd).size;
    const tail = Buffer.alloc(Math.min(size, LOG_TAIL_BYTES));
    const read = readSync(fd, tail, 0, tail.length, size - tail.length);
    const lines = tail.subarray(0, read).toString("utf8").trim().split("\n");
    // The first line of the tail may be cut: it counts only when the tail is the whole file.
    if (size > tail.length) lines.shift();
    return lines.filter((line) => !/run again with --verbose/.test(line)).at(-1) ?? "";
  } catch {
    return "";
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** What a client says of a daemon that took its hello but did not answer it. */
export function unresponsive(): DaemonUnresponsiveError {
  return new DaemonUnresponsiveError(
    `the caro daemon${daemonPid()} accepted the connection but did not answer within ${HELLO_TIMEOUT_MS / 1000} s ` +
      "(stopped or stuck): run caro daemon restart",
  );
}

/** The daemon's answer to our hello, or null when it gives none within HELLO_TIMEOUT_MS. */
async function hello(connection: DaemonConnection, signal?: AbortSignal): Promise<DaemonMessage | null | "silent"> {
  connection.send({ t: "hello", v: daemonVersion() });
  const timeout = new Promise<"silent">((resolve) => setTimeout(resolve, HELLO_TIMEOUT_MS, "silent").unref());
  return Promise.race([connection.next(signal), timeout]);
}

function daemonPid(): string {
  try {
    return ` (pid ${readFileSync(pidPath(), "utf8").trim()})`;
  } catch {
    return "";
  }
}

export interface ConnectOptions {
  /** Start a daemon when none answers (default true). */
  start?: boolean;
  /** Ctrl-C: every wait ends at once with InterruptedError. */
  signal?: AbortSignal;
}

/**
 * A connection to a daemon that speaks this caro's protocol: starts one when none answers, and
 * replaces an older one (which exits when it hears a newer hello). The runtime folder and the
 * socket are checked before anything is sent: another user must not be able to stand behind them.
 */
export async function connectToDaemon(options: ConnectOptions = {}): Promise<DaemonConnection> {
  const { start = true, signal } = options;
  const path = socketPath();
  const deadline = Date.now() + START_TIMEOUT_MS;
  let started: ChildProcess | null = null;
  while (Date.now() < deadline) {
    if (signal?.aborted) throw new InterruptedError();
    checkRuntimeDir(runtimeDir());
    checkSocket(path);
    const socket = await unlessAborted(connectOnce(path), signal);
    if (socket) {
      const connection = new DaemonConnection(socket);
      let reply: Awaited<ReturnType<typeof hello>>;
      try {
        reply = await hello(connection, signal);
      } catch (error) {
        connection.close();
        throw error;
      }
      if (reply === "silent") {
        connection.close();
        throw unresponsive();
      }
      if (reply?.t === "hello" && reply.accepted) return connection;
      connection.close();
      if (reply?.t === "hello" && compareVersions(reply.v, daemonVersion()) > 0)
        throw new CaroError(
          `a newer caro (${reply.v.split("/")[1]}) runs this user's daemon and cannot serve this caro ` +
            `(${daemonVersion().split("/")[1]}): upgrade this one, or stop the other with its caro daemon stop`,
          1,
        );
      // An older daemon is on its way out; a new one starts once its socket is gone.
      started = null;
      await sleep(50, signal);
      continue;
    }
    if (!start) throw new DaemonNotRunningError();
    if (!started) started = startDaemon();
    // Exit code 0: it stepped aside for another daemon starting at the same moment; keep trying.
    else if (started.exitCode !== null && started.exitCode !== 0)
      throw new CaroError(
        `the caro daemon could not start: ${lastLogLine().replace(/^caro: /, "") || `exit ${started.exitCode}`} ` +
          `(log: ${logPath()})`,
        1,
      );
    await sleep(30, signal);
  }
  throw new CaroError(`the caro daemon did not start within ${START_TIMEOUT_MS / 1000} s: see ${logPath()}`, 1);
}

/** A connection and a request id not yet used on it; `fresh` when it was made (and its hello answered) just now. */
export interface OpenConnection {
  connection: DaemonConnection;
  id: number;
  fresh: boolean;
}

/**
 * One connection kept from request to request (the session client's), so a Ctrl-G after the first
 * skips connecting and the hello's round trip. It is given up after any trouble, and made afresh
 * when the shell's environment moves the socket; the runtime folder and the socket are checked
 * before each request all the same.
 */
export class KeptConnection {
  private connection: DaemonConnection | null = null;
  private path = "";
  private lastId = 0;

  async open(signal?: AbortSignal): Promise<OpenConnection> {
    const path = socketPath();
    if (this.connection?.usable && path === this.path) {
      checkRuntimeDir(runtimeDir());
      checkSocket(path);
      return { connection: this.connection, id: ++this.lastId, fresh: false };
    }
    this.drop();
    this.connection = await connectToDaemon({ signal });
    this.path = path;
    this.lastId = 1;
    return { connection: this.connection, id: 1, fresh: true };
  }

  drop(): void {
    this.connection?.close();
    this.connection = null;
  }
}
