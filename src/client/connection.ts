// The client's half of the daemon socket. Imported by the shell widget's client on every
// keystroke, so it loads nothing but node built-ins and the frame codec.

import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { CaroError } from "../errors.js";
import { logPath, socketPath } from "../daemon/paths.js";
import { encodeFrame, FrameReader, type ClientMessage, type DaemonMessage } from "../daemon/protocol.js";
import { daemonVersion } from "../daemon/version.js";

const CARO_BIN = fileURLToPath(new URL("../../bin/caro.js", import.meta.url));
const START_TIMEOUT_MS = 15_000;

/** One socket to the daemon, read as a queue of whole messages. */
export class DaemonConnection {
  private readonly reader = new FrameReader();
  private readonly messages: DaemonMessage[] = [];
  private wake: (() => void) | null = null;
  private closed = false;

  constructor(private readonly socket: Socket) {
    socket.on("data", (chunk) => {
      try {
        this.messages.push(...(this.reader.push(chunk) as DaemonMessage[]));
      } catch {
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

  /** The next message, or null once the daemon has closed the connection. */
  async next(): Promise<DaemonMessage | null> {
    while (this.messages.length === 0) {
      if (this.closed) return null;
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = null;
    }
    return this.messages.shift()!;
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

/** Starts `caro daemon run` detached from this process and its terminal, logging to daemon.log. */
export function startDaemon(): ChildProcess {
  const log = logPath();
  mkdirSync(dirname(log), { recursive: true });
  const fd = openSync(log, "a");
  const child = spawn(process.execPath, [CARO_BIN, "daemon", "run"], { detached: true, stdio: ["ignore", fd, fd] });
  child.unref();
  closeSync(fd);
  return child;
}

function lastLogLine(): string {
  try {
    return readFileSync(logPath(), "utf8").trim().split("\n").at(-1) ?? "";
  } catch {
    return "";
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A connection to a daemon of this caro's version: starts one when none answers, and replaces
 * one of another version (which exits when it hears a different hello).
 */
export async function connectToDaemon(options: { start?: boolean } = {}): Promise<DaemonConnection> {
  const start = options.start ?? true;
  const path = socketPath();
  const deadline = Date.now() + START_TIMEOUT_MS;
  let started: ChildProcess | null = null;
  while (Date.now() < deadline) {
    const socket = await connectOnce(path);
    if (socket) {
      const connection = new DaemonConnection(socket);
      connection.send({ t: "hello", v: daemonVersion() });
      const reply = await connection.next();
      if (reply?.t === "hello" && reply.accepted) return connection;
      connection.close();
      // An old daemon is on its way out; a new one starts once its socket is gone.
      started = null;
      await sleep(50);
      continue;
    }
    if (!start) throw new CaroError("the caro daemon is not running", 1);
    if (!started) started = startDaemon();
    // Exit code 0: it stepped aside for another daemon starting at the same moment; keep trying.
    else if (started.exitCode !== null && started.exitCode !== 0)
      throw new CaroError(`the caro daemon could not start (${lastLogLine() || `exit ${started.exitCode}`}): see ${logPath()}`, 1);
    await sleep(30);
  }
  throw new CaroError(`the caro daemon did not start within ${START_TIMEOUT_MS / 1000} s: see ${logPath()}`, 1);
}
