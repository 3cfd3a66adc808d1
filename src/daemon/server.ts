// The long-lived caro daemon: owns the worker pool (the model stays loaded between requests) and
// answers clients over a Unix socket. Each request runs under the config, flags and environment
// of the client that sent it, read afresh, so an edited config needs no restart.

import { chmodSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { answerRequest } from "../answer/pipeline.js";
import type { UnratedAnswer } from "../answer/types.js";
import { EmbeddedBackend } from "../backends/embedded.js";
import { BackendPool } from "../backends/pool.js";
import { draftSchema } from "../answer/draft.js";
import { warmPrompt } from "../answer/request-prompt.js";
import type { Shell } from "../prompt/context.js";
import { localModelFile } from "../models/resolve.js";
import { loadConfig, loadRequestConfig } from "../config/load.js";
import type { Settings } from "../config/schema.js";
import { AnswerCache } from "./answer-cache.js";
import { fieldsOf, readAsk } from "./client-message.js";
import { CaroError } from "../errors.js";
import { DaemonLog, logExcerpt, stackFrames } from "./log.js";
import { pidPath, socketPath } from "../wire/paths.js";
import {
  encodeFrame,
  FrameReader,
  FrameTooLargeError,
  MAX_FRAME_BYTES,
  type AskMessage,
  type DaemonMessage,
  type DaemonStatus,
} from "../wire/protocol.js";
import { daemonVersion, helloVerdict } from "../wire/version.js";

// Created on the first line, once the daemon's environment (which names the log's path) is set.
let daemonLog: DaemonLog | undefined;

/** One line to the daemon's log (log.ts): text from outside caro only through logExcerpt. */
function log(line: string): void {
  daemonLog ??= new DaemonLog();
  daemonLog.write(line);
}

/** What a failed request's client is told: Ctrl-C is 130, a caro error keeps its code, anything else is 1. */
function errorReply(id: number, error: unknown, aborted: boolean): Extract<DaemonMessage, { t: "error" }> {
  if (aborted) return { t: "error", id, message: "interrupted", exitCode: 130 };
  const exitCode = error instanceof CaroError ? error.exitCode : 1;
  return { t: "error", id, message: (error as Error).message, exitCode };
}

export class Daemon {
  private readonly server: Server;
  private readonly backends = new BackendPool(process.env, log);
  private readonly answers = new AnswerCache();
  private readonly started = Date.now();
  private readonly active = new Map<string, AbortController>();
  private served = 0;
  private connections = 0;
  private lastActivity = Date.now();
  private last: Pick<UnratedAnswer, "backend" | "model" | "gpu"> | null = null;
  private idleTimer: NodeJS.Timeout | undefined;
  private closing = false;
  private readonly unloadMs: number;
  private readonly exitMs: number;

  constructor(private readonly env: NodeJS.ProcessEnv = process.env) {
    // A broken config must not keep the daemon from starting: each request reports it to its client.
    let settings: Settings;
    try {
      settings = loadConfig({}, env).settings;
    } catch (error) {
      log(`config: ${logExcerpt((error as Error).message, 300)}; idle timers use their defaults`);
      settings = loadConfig({}, { HOME: "/nonexistent", CARO_CONFIG: "/nonexistent/caro.toml" }).settings;
    }
    this.unloadMs = settings["daemon.idle_unload_minutes"] * 60_000;
    this.exitMs = settings["daemon.idle_exit_minutes"] * 60_000;
    this.server = createServer((socket) => this.serve(socket));
  }

  listen(): Promise<void> {
    const path = socketPath(this.env);
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(path, () => {
        chmodSync(path, 0o600);
        writeFileSync(pidPath(this.env), `${process.pid}\n`);
        log(`listening on ${path} (pid ${process.pid}, version ${daemonVersion()})`);
        this.scheduleIdleCheck();
        resolve();
      });
    });
  }

  private scheduleIdleCheck(): void {
    clearInterval(this.idleTimer);
    const every = Math.max(200, Math.min(30_000, this.unloadMs / 4, this.exitMs / 4));
    this.idleTimer = setInterval(() => void this.idleCheck(), every);
    this.idleTimer.unref();
  }

  private async idleCheck(): Promise<void> {
    if (this.active.size > 0 || this.closing) return;
    const idle = Date.now() - this.lastActivity;
    if (idle >= this.exitMs) {
      log(`idle for ${Math.round(idle / 1000)} s: exiting`);
      await this.shutdown();
    } else if (idle >= this.unloadMs && this.backends.size > 0) {
      log(`idle for ${Math.round(idle / 1000)} s: unloading models`);
      await this.backends.closeAll();
    }
  }

  private status(): DaemonStatus {
    return {
      pid: process.pid,
      version: daemonVersion(),
      uptime_s: Math.round((Date.now() - this.started) / 1000),
      backend: this.last?.backend ?? null,
      model: this.last?.model ?? null,
      gpu: this.last?.gpu ?? null,
      rss_mb: Math.round(process.memoryUsage().rss / 1e6),
      requests_served: this.served,
      requests_active: this.active.size,
      models_loaded: this.backends.size,
      model_loads: this.backends.loads,
      models_memory_mb: Math.round(this.backends.memory / 1e6),
    };
  }

  private serve(socket: Socket): void {
    const reader = new FrameReader();
    const mine = new Set<string>();
    // Request ids are the client's own; the connection number makes them unique here.
    const connection = ++this.connections;
    const key = (id: number) => `${connection}:${id}`;
    const send = (message: DaemonMessage) => {
      if (!socket.destroyed) socket.write(this.frameFor(message, key));
    };
    socket.on("data", (chunk) => {
      let messages: unknown[];
      try {
        messages = reader.push(chunk);
      } catch (error) {
        // A broken frame leaves the stream unreadable: say so and drop this connection only.
        const message =
          error instanceof FrameTooLargeError
            ? `the request is too large: ${error.size} bytes, over the ${MAX_FRAME_BYTES}-byte limit; shorten it`
            : (error as Error).message;
        send({ t: "error", id: null, message, exitCode: 2 });
        socket.end();
        return;
      }
      for (const message of messages) this.handle(message, send, socket, mine, key);
    });
    // A client that goes away cancels what it asked for.
    socket.on("close", () => {
      for (const k of mine) this.active.get(k)?.abort();
    });
    socket.on("error", () => undefined);
  }

  /**
   * The frame for a message, never one the client would refuse: an answer or event too large to
   * send becomes its request's error (and ends that request), so the client is told why.
   */
  private frameFor(message: DaemonMessage, key: (id: number) => string): Buffer {
    try {
      return encodeFrame(message);
    } catch (error) {
      if (!(error instanceof FrameTooLargeError)) throw error;
      const id = "id" in message && typeof message.id === "number" ? message.id : null;
      if (id !== null) this.active.get(key(id))?.abort(error);
      const what = message.t === "answer" ? "the answer" : message.t === "event" ? "a piece of the answer" : "a reply";
      const size = `${error.size} bytes, over the ${MAX_FRAME_BYTES}-byte limit`;
      log(`request ${id ?? "?"}: ${what} is ${size}: sent an error instead`);
      const text = `${what} is too large to send: ${size}; ask for something shorter`;
      return encodeFrame({ t: "error", id, message: text, exitCode: 1 });
    }
  }

  private handle(
    message: unknown,
    send: (m: DaemonMessage) => void,
    socket: Socket,
    mine: Set<string>,
    key: (id: number) => string,
  ): void {
    const m = fieldsOf(message);
    switch (m.t) {
      case "hello": {
        const verdict = helloVerdict(String(m.v), daemonVersion());
        send({ t: "hello", v: daemonVersion(), accepted: verdict === "accept", pid: process.pid });
        if (verdict === "replace") {
          log(`a newer caro (version ${logExcerpt(String(m.v), 40)}) asks: exiting so its daemon can start`);
          void this.shutdown({ abort: false });
        } else if (verdict === "refuse")
          log(`refused a client of an older protocol (version ${logExcerpt(String(m.v), 40)})`);
        return;
      }
      case "ask": {
        const ask = readAsk(m);
        if (typeof ask === "string") {
          const id = typeof m.id === "number" ? m.id : null;
          send({ t: "error", id, message: `bad request: ${ask}`, exitCode: 2 });
          return;
        }
        void this.ask(ask, send, mine, key);
        return;
      }
      case "cancel":
        if (typeof m.id === "number") this.active.get(key(m.id))?.abort();
        return;
      case "status":
        send({ t: "status", status: this.status() });
        return;
      case "stop":
        send({ t: "bye" });
        socket.end();
        void this.shutdown();
        return;
      default:
        send({ t: "error", id: null, message: `unknown message kind ${JSON.stringify(m.t ?? null)}`, exitCode: 2 });
    }
  }

  private async ask(
    ask: AskMessage,
    send: (m: DaemonMessage) => void,
    mine: Set<string>,
    key: (id: number) => string,
  ): Promise<void> {
    const controller = new AbortController();
    const k = key(ask.id);
    this.active.set(k, controller);
    mine.add(k);
    this.lastActivity = Date.now();
    const started = Date.now();
    try {
      if (this.closing) throw new CaroError("the caro daemon is shutting down: try again", 1);
      const configStart = performance.now();
      const config = loadRequestConfig(ask.flags, ask.env);
      const configMs = Math.round(performance.now() - configStart);
      for (const warning of config.warnings)
        send({ t: "event", id: ask.id, event: { type: "warning", text: warning } });
      const cache = this.answers.forRequest(ask, config);
      const answer = await answerRequest(ask, {
        config,
        signal: controller.signal,
        pool: this.backends,
        cache,
        onEvent: (event) => {
          // The worker reports a problem once (a prefix cache it cannot write): keep it in the log too.
          if (event.type === "warning") log(`warning: ${logExcerpt(event.text, 300)}`);
          send({ t: "event", id: ask.id, event });
        },
      });
      answer.timings = { config_ms: configMs, ...answer.timings };
      this.served++;
      // Sent as found: the client rates it under its own config (client/judge.ts).
      if (answer.cached) {
        send({ t: "answer", id: ask.id, answer });
        log(`answered request ${ask.id} in ${Date.now() - started} ms (from the answer cache)`);
        return;
      }
      this.last = answer;
      cache.keep(answer);
      send({ t: "answer", id: ask.id, answer });
      log(
        `answered request ${ask.id} in ${Date.now() - started} ms (${answer.backend}, ` +
          `${answer.timings.prompt_tokens ?? "?"} prompt + ${answer.timings.generated_tokens ?? "?"} generated ` +
          `tokens${answer.timings.threads ? `, ${answer.timings.threads} threads` : ""}` +
          // A failed check's one more try: the bench counts them (scripts/bench-grounding.mjs).
          `${answer.timings.check_retries ? `, ${answer.timings.check_retries} check retry` : ""})`,
      );
    } catch (error) {
      // Its client was already told why (frameFor): nothing more to send.
      if (controller.signal.reason instanceof FrameTooLargeError) return;
      const reply = errorReply(ask.id, error, controller.signal.aborted);
      // The message may quote the model's answer or the request: an excerpt, secrets masked.
      const where = error instanceof CaroError ? "" : ` [${stackFrames(error)}]`;
      log(`request ${ask.id} failed (exit ${reply.exitCode}): ${logExcerpt(reply.message)}${where}`);
      send(reply);
    } finally {
      this.active.delete(k);
      mine.delete(k);
      this.lastActivity = Date.now();
    }
  }

  /**
   * Loads the configured model and readies caro's prompt for `shell` in the daemon's folder, as
   * caro init's start asks, so the first Ctrl-G finds both. Only for the embedded backend with its
   * model already on disk: a shell starting never sets off a download. Requests arriving meanwhile
   * wait for the same load.
   */
  async warm(shell: Shell): Promise<void> {
    const started = Date.now();
    try {
      const config = loadConfig({}, this.env);
      const { settings } = config;
      if (settings.backend !== "embedded" && settings.backend !== "auto") return;
      if (localModelFile(settings["backends.embedded.model"], config.env) === null) return;
      const { backend, release } = this.backends.get("embedded", config);
      try {
        if (!(backend instanceof EmbeddedBackend)) return;
        // The folder the shell started in (the daemon's own): where its first Ctrl-G is likeliest.
        const prompt = warmPrompt(shell, process.cwd(), this.env, settings);
        await backend.warm(prompt, draftSchema(false, settings.max_command_length));
      } finally {
        release();
      }
      log(`warmed ${logExcerpt(settings["backends.embedded.model"], 200)} for ${shell} in ${Date.now() - started} ms`);
    } catch (error) {
      // The first request meets the same problem and tells its user; here it is only logged.
      log(`warming failed: ${logExcerpt((error as Error).message, 300)}`);
    }
  }

  /** Stops listening, lets (or makes) running requests end, unloads the models and exits. */
  async shutdown({ abort = true } = {}): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    clearInterval(this.idleTimer);
    this.server.close();
    rmSync(socketPath(this.env), { force: true });
    rmSync(pidPath(this.env), { force: true });
    if (abort) for (const controller of this.active.values()) controller.abort();
    while (this.active.size > 0) await new Promise((resolve) => setTimeout(resolve, 20));
    // Workers are idle now: terminating them cannot interrupt llama.cpp mid-evaluation.
    await this.backends.closeAll();
    log("stopped");
    process.exit(0);
  }
}
