import type { CaroAnswer } from "../backends/answer-request.js";
import type { BackendEvent } from "../backends/types.js";
import { CaroError, InterruptedError } from "../errors.js";
import { logPath } from "../daemon/paths.js";
import type { AskFlags } from "../daemon/protocol.js";
import { connectToDaemon } from "./connection.js";

export interface AskPayload {
  request: string;
  shell: string;
  cwd: string;
  env: Record<string, string>;
  flags: AskFlags;
}

export interface AskResult {
  answer: CaroAnswer;
  /** The safety level of the config the request was answered under. */
  level: string;
}

export interface AskOptions {
  signal?: AbortSignal;
  onEvent?: (event: BackendEvent | { type: "warning"; text: string }) => void;
}

// What the daemon needs of the client's environment to answer as if it ran here.
const FORWARDED = /^(CARO_|OLLAMA_|HF_|XDG_|LC_)|^(HOME|USER|SHELL|PATH|LANG)$/;

export function clientEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => FORWARDED.test(e[0]) && e[1] !== undefined));
}

/** Asks the daemon (starting it if needed); Ctrl-C through `signal` cancels the request there. */
export async function askDaemon(payload: AskPayload, options: AskOptions = {}): Promise<AskResult> {
  const connection = await connectToDaemon();
  // Ctrl-C while the daemon started: the abort event has fired already, so no cancel would follow the ask.
  if (options.signal?.aborted) {
    connection.close();
    throw new InterruptedError();
  }
  const id = 1;
  connection.send({ t: "ask", id, ...payload });
  const cancel = () => connection.send({ t: "cancel", id });
  options.signal?.addEventListener("abort", cancel, { once: true });
  try {
    for (;;) {
      // Once cancelled, wait only briefly for the daemon to confirm.
      const message = options.signal?.aborted
        ? await Promise.race([connection.next(), new Promise<null>((resolve) => setTimeout(() => resolve(null), 500))])
        : await connection.next();
      if (message === null) {
        if (options.signal?.aborted) throw new InterruptedError();
        throw new CaroError(`the caro daemon stopped before answering (see ${logPath()}); try again`, 1);
      }
      if (message.t === "event" && message.id === id) options.onEvent?.(message.event as never);
      else if (message.t === "answer" && message.id === id) return { answer: message.answer as unknown as CaroAnswer, level: message.level };
      else if (message.t === "error") throw message.exitCode === 130 ? new InterruptedError() : new CaroError(message.message, message.exitCode);
    }
  } finally {
    options.signal?.removeEventListener("abort", cancel);
    connection.close();
  }
}
