import { readFileSync } from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { encodeFrame, FrameReader } from "../../src/wire/protocol.js";
import { daemonVersion } from "../../src/wire/version.js";
import { caro, makeHome, sleep } from "./caro.js";

export function daemonFiles(home: string) {
  const dir = join(home, "run", "caro");
  return {
    dir,
    socket: join(dir, "daemon.sock"),
    pid: join(dir, "daemon.pid"),
    log: join(home, ".local", "state", "caro", "daemon.log"),
  };
}

export function daemonPid(home: string): number {
  return Number(readFileSync(daemonFiles(home).pid, "utf8").trim());
}

export function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

/** A home with a running daemon. */
export async function startedDaemon(config: string) {
  const { env, home, configPath } = makeHome(config);
  const started = await caro(["daemon", "start"], { env });
  if (started.exitCode !== 0) throw new Error(`caro daemon start failed: ${String(started.stderr)}`);
  return { env, home, configPath, files: daemonFiles(home), pid: daemonPid(home) };
}

/** A raw socket client, to speak the protocol directly and cancel at exact moments. */
export class RawClient {
  private readonly reader = new FrameReader();
  readonly messages: Record<string, unknown>[] = [];
  closed = false;
  private constructor(readonly socket: Socket) {
    socket.on("data", (chunk) => this.messages.push(...(this.reader.push(chunk) as Record<string, unknown>[])));
    socket.on("close", () => (this.closed = true));
    socket.on("error", () => undefined);
  }

  static open(path: string): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(path, () => resolve(new RawClient(socket)));
      socket.once("error", reject);
    });
  }

  /** Opens a connection and says hello with this build's version. */
  static async helloed(path: string): Promise<RawClient> {
    const client = await RawClient.open(path);
    const { daemonVersion } = await import("../../src/wire/version.js");
    client.send({ t: "hello", v: daemonVersion() });
    const hello = await client.until((m) => m.t === "hello");
    if (!hello?.accepted) throw new Error("the daemon refused the hello");
    return client;
  }

  send(message: unknown) {
    this.socket.write(encodeFrame(message as never));
  }

  async until(predicate: (m: Record<string, unknown>) => boolean, timeoutMs = 60_000) {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const found = this.messages.find(predicate);
      if (found) return found;
      if (this.closed) break;
      await sleep(5);
    }
    return this.messages.find(predicate) ?? null;
  }

  async waitClosed(timeoutMs = 5000) {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < deadline) await sleep(10);
    return this.closed;
  }
}

/** The message that ends request `id`: its answer or its error. */
export const endOf = (id: number) => (m: Record<string, unknown>) =>
  (m.t === "answer" || m.t === "error") && m.id === id;

export const eventOf = (id: number, type: string) => (m: Record<string, unknown>) =>
  m.t === "event" && m.id === id && (m.event as { type: string }).type === type;

/**
 * A process listening where caro's daemon would, that accepts every client and answers every ask
 * with `answer` under a permissive level: what a hostile or broken daemon could send. Close it after.
 */
export async function fakeDaemon(dir: string, answer: Record<string, unknown>): Promise<Server> {
  const server = createServer((socket) => {
    const reader = new FrameReader();
    socket.on("data", (chunk) => {
      for (const m of reader.push(chunk) as { t: string; id?: number }[]) {
        if (m.t === "hello") socket.write(encodeFrame({ t: "hello", v: daemonVersion(), accepted: true, pid: 1 }));
        if (m.t === "ask") socket.write(encodeFrame({ t: "answer", id: m.id!, answer, level: "permissive" }));
      }
    });
    socket.on("error", () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(join(dir, "daemon.sock"), resolve));
  return server;
}

/** A whole answer as a daemon sends it, rated safe whatever the command: the client must rate it itself. */
export function lyingAnswer(command: string, explanation = "") {
  return {
    command,
    explanation,
    risk: "safe",
    reasons: [],
    backend: "ollama",
    model: "m",
    gpu: null,
    timings: {},
    passed_over: [],
    prefix_cache: null,
    cached: false,
  };
}
