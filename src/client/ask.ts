// Asking the daemon: the Asker the CLI and the widget use unless told --no-daemon.

import type { AskOptions, AskResult, UserRequest } from "../answer/types.js";
import { BackendError, CaroError, InterruptedError, UsageError } from "../errors.js";
import { logPath } from "../wire/paths.js";
import {
  encodeFrame,
  FrameTooLargeError,
  MAX_FRAME_BYTES,
  type AskMessage,
  type DaemonMessage,
} from "../wire/protocol.js";
import { connectToDaemon, HELLO_TIMEOUT_MS, type KeptConnection, unresponsive } from "./connection.js";
import { daemonVersion } from "../wire/version.js";
import { judgeHere } from "./judge.js";

// What the daemon needs of the client's environment to answer as if it ran here: forwarded.ts.
export { clientEnv } from "./forwarded.js";

/** Once cancelled, how long to wait for the daemon to confirm before giving up on it. */
const CANCEL_GRACE_MS = 500;

/**
 * Asks the daemon (starting it if needed); Ctrl-C through `signal` ends every wait at once and
 * cancels the request there. The daemon sends what it found, unrated: the command is checked and
 * rated here, under this process's own config (judge.ts). With `kept`, the connection is the one kept
 * from the last request, and is kept for the next.
 */
export async function askDaemon(
  request: UserRequest,
  options: AskOptions = {},
  kept?: KeptConnection,
): Promise<AskResult> {
  const { signal } = options;
  const ask: Omit<AskMessage, "id"> = { t: "ask", ...request };
  try {
    encodeFrame({ ...ask, id: 1 });
  } catch (error) {
    if (error instanceof FrameTooLargeError)
      throw new UsageError(
        `the request is too large: ${error.size} bytes with its environment, over the ${MAX_FRAME_BYTES}-byte limit; ` +
          `shorten it`,
      );
    throw error;
  }
  // Since this process started (performance's time origin): node's own start and loading caro's modules.
  const clientStartMs = performance.now();
  const { connection, id, fresh } = kept
    ? await kept.open(signal)
    : { connection: await connectToDaemon({ signal }), id: 1, fresh: true };
  const sent = performance.now();
  // A kept connection's daemon may have stopped or wedged since the last request: it answers a
  // hello at once, so a hello sent with the request tells, without waiting for it first.
  let heard = fresh;
  // Every wait below ends on Ctrl-C, or when the kept daemon stays silent.
  const waits = new AbortController();
  const stopWaiting = () => waits.abort();
  if (signal?.aborted) waits.abort();
  signal?.addEventListener("abort", stopWaiting, { once: true });
  const timer = fresh ? undefined : setTimeout(() => heard || waits.abort(), HELLO_TIMEOUT_MS);
  if (!fresh) connection.send({ t: "hello", v: daemonVersion() });
  connection.send({ ...ask, id });
  // Loading the rater, the config and the parser takes a one-shot `caro` some 15 ms, on this
  // thread: started once the request is on its way, it runs while the daemon works on it.
  const judging = judgeHere(request);
  judging.catch(() => undefined);
  const cancel = () => connection.send({ t: "cancel", id });
  signal?.addEventListener("abort", cancel, { once: true });
  // Kept only after a clean answer: anything else may leave the stream mid-request.
  let keep = false;
  try {
    for (;;) {
      let message: DaemonMessage | null;
      try {
        message = await connection.next(waits.signal);
      } catch (error) {
        if (!(error instanceof InterruptedError)) throw error;
        if (!signal?.aborted) throw unresponsive();
        // Give the daemon a moment to confirm the cancel, then leave regardless. The timer goes
        // with the wait: left running, it would hold the process that long after main returns.
        let grace: NodeJS.Timeout | undefined;
        const graceOver = new Promise((resolve) => (grace = setTimeout(resolve, CANCEL_GRACE_MS)));
        await Promise.race([connection.next(), graceOver]).finally(() => clearTimeout(grace));
        throw error;
      }
      if (message === null) {
        if (signal?.aborted) throw new InterruptedError();
        // The kept daemon went away between requests, before reading this one: ask a new one.
        if (kept && !heard) {
          kept.drop();
          keep = true;
          return await askDaemon(request, options, kept);
        }
        if (connection.broken)
          throw new BackendError(
            `the caro daemon sent a reply caro cannot read (${connection.broken}; the limit is ${MAX_FRAME_BYTES} ` +
              `bytes)`,
          );
        throw new CaroError(`the caro daemon stopped before answering (see ${logPath()}); try again`, 1);
      }
      heard = true;
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
        keep = true;
        return result;
      } else if (message.t === "error" && (message.id === id || message.id === null))
        throw message.exitCode === 130 ? new InterruptedError() : new CaroError(message.message, message.exitCode);
    }
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", cancel);
    signal?.removeEventListener("abort", stopWaiting);
    if (!kept) connection.close();
    else if (!keep) kept.drop();
  }
}
