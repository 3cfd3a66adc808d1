// Asking the daemon: the Asker the CLI and the widget use unless told --no-daemon.

import type { Asker } from "../answer/types.js";
import { BackendError, CaroError, InterruptedError, UsageError } from "../errors.js";
import { logPath } from "../daemon/paths.js";
import {
  encodeFrame,
  FrameTooLargeError,
  MAX_FRAME_BYTES,
  type AskMessage,
  type DaemonMessage,
} from "../daemon/protocol.js";
import { connectToDaemon } from "./connection.js";
import { judgeHere } from "./judge.js";

// What the daemon needs of the client's environment to answer as if it ran here.
const FORWARDED = /^(CARO_|OLLAMA_|HF_|XDG_|LC_)|^(HOME|USER|SHELL|PATH|LANG)$/;

export function clientEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env).filter((e): e is [string, string] => FORWARDED.test(e[0]) && e[1] !== undefined),
  );
}

/** Once cancelled, how long to wait for the daemon to confirm before giving up on it. */
const CANCEL_GRACE_MS = 500;

/**
 * Asks the daemon (starting it if needed); Ctrl-C through `signal` ends every wait at once and
 * cancels the request there. The daemon's rating is not taken on trust: the command is checked
 * and rated here, under this process's own config.
 */
export const askDaemon: Asker = async (request, options = {}) => {
  const { signal } = options;
  // Started now, so loading the rater and the config overlaps the wait for the answer.
  const judging = judgeHere(request);
  judging.catch(() => undefined);
  const id = 1;
  const ask: AskMessage = { t: "ask", id, ...request };
  try {
    encodeFrame(ask);
  } catch (error) {
    if (error instanceof FrameTooLargeError)
      throw new UsageError(
        `the request is too large: ${error.size} bytes with its environment, over the ${MAX_FRAME_BYTES}-byte limit; shorten it`,
      );
    throw error;
  }
  // Since this process started (performance's time origin): node's own start and loading caro's modules.
  const clientStartMs = performance.now();
  const connection = await connectToDaemon({ signal });
  const sent = performance.now();
  connection.send(ask);
  const cancel = () => connection.send({ t: "cancel", id });
  signal?.addEventListener("abort", cancel, { once: true });
  try {
    for (;;) {
      let message: DaemonMessage | null;
      try {
        message = await connection.next(signal);
      } catch (error) {
        if (!(error instanceof InterruptedError)) throw error;
        // Give the daemon a moment to confirm the cancel, then leave regardless.
        await Promise.race([connection.next(), new Promise((resolve) => setTimeout(resolve, CANCEL_GRACE_MS))]);
        throw error;
      }
      if (message === null) {
        if (signal?.aborted) throw new InterruptedError();
        if (connection.broken)
          throw new BackendError(
            `the caro daemon sent a reply caro cannot read (${connection.broken}; the limit is ${MAX_FRAME_BYTES} bytes)`,
          );
        throw new CaroError(`the caro daemon stopped before answering (see ${logPath()}); try again`, 1);
      }
      if (message.t === "event" && message.id === id) options.onEvent?.(message.event);
      else if (message.t === "answer" && message.id === id) {
        const arrived = performance.now();
        const result = await (await judging)(message.answer);
        result.answer.timings = {
          client_start_ms: Math.round(clientStartMs),
          connect_ms: Math.round(sent - clientStartMs),
          // The daemon's reply, socket both ways included.
          daemon_ms: Math.round(arrived - sent),
          ...result.answer.timings,
          judge_ms: Math.round(performance.now() - arrived),
        };
        return result;
      } else if (message.t === "error")
        throw message.exitCode === 130 ? new InterruptedError() : new CaroError(message.message, message.exitCode);
    }
  } finally {
    signal?.removeEventListener("abort", cancel);
    connection.close();
  }
};
