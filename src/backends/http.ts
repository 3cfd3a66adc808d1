// What the Ollama and OpenAI-compatible backends share: one streaming POST with a first-byte
// timeout and cooperative cancel, and readers for the two wire formats (NDJSON and SSE).

import { InterruptedError } from "../errors.js";

/** A failure to reach or hear from a server, sorted so each backend can word its own advice. */
export class HttpFailure extends Error {
  constructor(
    readonly kind: "refused" | "timeout" | "network" | "status",
    message: string,
    readonly status = 0,
    readonly body = "",
  ) {
    super(message);
  }
}

export function networkFailure(error: unknown): HttpFailure {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  if (cause?.code === "ECONNREFUSED") return new HttpFailure("refused", "connection refused");
  if (cause?.code === "ENOTFOUND" || cause?.code === "EAI_AGAIN") return new HttpFailure("network", "host name does not resolve");
  return new HttpFailure("network", cause?.message ?? (error as Error).message);
}

export interface StreamOptions {
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Longest wait for the response, and then for each next chunk. */
  timeoutMs: number;
}

/**
 * POSTs JSON and yields the response body's text as it arrives, decoded across chunk
 * boundaries (a UTF-8 character split between two chunks comes out whole).
 */
export async function* postStream(url: string, body: unknown, options: StreamOptions): AsyncGenerator<string> {
  const controller = new AbortController();
  let timedOut = false;
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, options.timeoutMs);
  };
  const cancel = () => controller.abort();
  options.signal?.addEventListener("abort", cancel, { once: true });
  const failure = (error: unknown): Error => {
    if (options.signal?.aborted) return new InterruptedError();
    if (timedOut) return new HttpFailure("timeout", "timed out");
    return error instanceof HttpFailure ? error : networkFailure(error);
  };
  arm();
  try {
    let response: Response;
    try {
      response = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", ...options.headers },
        body: JSON.stringify(body),
        signal: controller.signal,
      });
    } catch (error) {
      throw failure(error);
    }
    if (!response.ok) {
      const text = await response.text().catch(() => "");
      throw new HttpFailure("status", `HTTP ${response.status}`, response.status, text);
    }
    if (!response.body) return;
    const decoder = new TextDecoder();
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        arm();
        const text = decoder.decode(chunk, { stream: true });
        if (text) yield text;
      }
    } catch (error) {
      throw failure(error);
    }
    const rest = decoder.decode();
    if (rest) yield rest;
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener("abort", cancel);
  }
}

/** Every line of streamed text, empty ones included; a line split across chunks comes out whole. */
async function* splitLines(chunks: AsyncIterable<string>): AsyncGenerator<string> {
  let buffer = "";
  for await (const chunk of chunks) {
    buffer += chunk;
    let newline: number;
    while ((newline = buffer.indexOf("\n")) !== -1) {
      yield buffer.slice(0, newline).replace(/\r$/, "");
      buffer = buffer.slice(newline + 1);
    }
  }
  if (buffer !== "") yield buffer;
}

/** NDJSON: the non-empty lines. */
export async function* lines(chunks: AsyncIterable<string>): AsyncGenerator<string> {
  for await (const line of splitLines(chunks)) if (line.trim() !== "") yield line;
}

/** Server-sent events: the joined `data:` lines of each event; an empty line ends an event. */
export async function* sseData(chunks: AsyncIterable<string>): AsyncGenerator<string> {
  let data: string[] = [];
  for await (const line of splitLines(chunks)) {
    if (line === "") {
      if (data.length) yield data.join("\n");
      data = [];
    } else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
  }
  if (data.length) yield data.join("\n");
}

/** A short GET for detection and discovery; null when nothing answers in time. */
export async function getJson(url: string, timeoutMs: number, headers: Record<string, string> = {}): Promise<unknown | null> {
  try {
    const response = await fetch(url, { headers, signal: AbortSignal.timeout(timeoutMs) });
    if (!response.ok) return null;
    return await response.json();
  } catch {
    return null;
  }
}

/** The error text a server put in its body, in Ollama's or OpenAI's shape, or the body itself. */
export function serverMessage(body: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: string | { message?: string }; message?: string };
    if (typeof parsed.error === "string") return parsed.error;
    if (parsed.error?.message) return parsed.error.message;
    if (parsed.message) return parsed.message;
  } catch {
    // Not JSON: quote it as is.
  }
  return body.trim().slice(0, 200) || "(no details)";
}
