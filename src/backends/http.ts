// What the Ollama and OpenAI-compatible backends share: one streaming POST with a deadline, a size
// cap and cooperative cancel, over connections kept open between requests; a capped GET; readers
// for the two wire formats (NDJSON and SSE); and making a server's words safe to quote.

import { Agent as HttpAgent, type IncomingMessage, request as httpRequest } from "node:http";
import type { Socket } from "node:net";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { BackendError, InterruptedError } from "../errors.js";
import { inertExcerpt } from "../text/inert.js";

/**
 * A failure to reach or hear from a server, sorted so each backend can word its own advice.
 * refused: nothing listens; network: the host cannot be reached; timeout: no first byte in time;
 * slow: the answer began but did not end in time; dropped: the server hung up; too-long: the answer
 * ran past what caro reads; status: an HTTP error status.
 */
export class HttpFailure extends BackendError {
  constructor(
    readonly kind: "refused" | "network" | "timeout" | "slow" | "dropped" | "too-long" | "status",
    message: string,
    readonly status = 0,
    readonly body = "",
  ) {
    super(message);
  }
}

function networkFailure(error: unknown): HttpFailure {
  const { code, message } = error as { code?: string; message?: string };
  if (code === "ECONNREFUSED") return new HttpFailure("refused", "connection refused");
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return new HttpFailure("network", "host name does not resolve");
  // Something accepted the connection and then hung up before sending a response.
  if (code === "ECONNRESET") return new HttpFailure("dropped", "before answering");
  return new HttpFailure("network", inertExcerpt(message ?? String(error)));
}

/** Most of an error body worth reading: enough for any server's message, never a flood. */
const ERROR_BODY_BYTES = 64 * 1024;
/** Most of a GET (a model list, a version) worth reading. */
const GET_BYTES = 1024 * 1024;

/** Reads a body up to `maxBytes`; past that it stops, closes the connection, and says so. */
async function readCapped(
  body: AsyncIterable<Uint8Array>,
  maxBytes: number,
): Promise<{ text: string; complete: boolean }> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body) {
    chunks.push(chunk);
    size += chunk.length;
    // Leaving the loop cancels the body, which closes the connection.
    if (size > maxBytes) return { text: Buffer.concat(chunks).subarray(0, maxBytes).toString("utf8"), complete: false };
  }
  return { text: Buffer.concat(chunks).toString("utf8"), complete: true };
}

/**
 * Connections kept open from one request to the next: against a server on this machine, a new
 * connection and fetch's stream machinery cost about as much as the answer (measured with an
 * instantly answering server: 4.5 ms a request with fetch, 3 ms with a kept node:http connection).
 * One agent a server (origin), so its idle connections are its own to look at.
 */
const AGENTS = new Map<string, HttpAgent>();

function agentFor(url: URL): HttpAgent {
  let agent = AGENTS.get(url.origin);
  if (!agent) {
    agent = url.protocol === "https:" ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
    AGENTS.set(url.origin, agent);
  }
  return agent;
}

/**
 * Servers seen to keep a connection for the next request. llama.cpp's llama-server closes it right
 * after each streamed reply, though its headers say Keep-Alive: its close may still be on the way
 * when the next request goes out (the pipeline's second try follows at once), and a request sent
 * into a closing connection must be sent again. So until a server has kept one open SETTLE_MS
 * past a reply, a connection it freed less than SETTLE_MS ago is not reused.
 */
const KEEPING = new Set<string>();
const SETTLE_MS = 100;
/** When each kept connection was last read to its end. */
const freedAt = new WeakMap<Socket, number>();

/** A connection read to its end: goes back to its agent; still open SETTLE_MS later, its server keeps them. */
function freed(url: URL, socket: Socket): void {
  freedAt.set(socket, performance.now());
  if (KEEPING.has(url.origin)) return;
  setTimeout(() => socket.destroyed || KEEPING.add(url.origin), SETTLE_MS).unref();
}

/** What the kept connections did in this process, for tests and measurements. */
export const connectionCounts = { opened: 0, reused: 0, resent: 0 };

/** Closes the idle connections a server may be closing itself, unless it is known to keep them. */
function dropUnsettled(url: URL, agent: HttpAgent): void {
  if (KEEPING.has(url.origin)) return;
  const now = performance.now();
  for (const socket of Object.values(agent.freeSockets).flat()) {
    if (socket && now - (freedAt.get(socket) ?? 0) < SETTLE_MS) socket.destroy();
  }
}

/** POSTs `payload` and resolves with the response once its headers arrive. */
async function post(url: URL, payload: string, headers: Record<string, string>, signal: AbortSignal) {
  const agent = agentFor(url);
  for (let attempt = 1; ; attempt++) {
    dropUnsettled(url, agent);
    const send = url.protocol === "https:" ? httpsRequest : httpRequest;
    const request = send(url, {
      method: "POST",
      headers: { "content-type": "application/json", "content-length": Buffer.byteLength(payload), ...headers },
      agent,
      signal,
    });
    let socket: Socket | undefined;
    request.once("socket", (assigned) => {
      socket = assigned;
      connectionCounts[request.reusedSocket ? "reused" : "opened"]++;
    });
    try {
      const response = await new Promise<IncomingMessage>((resolve, reject) => {
        request.once("response", resolve);
        request.once("error", reject);
        request.end(payload);
      });
      if (request.reusedSocket) KEEPING.add(url.origin);
      return { response, socket };
    } catch (error) {
      // A kept connection the server closed while idle fails before any answer: once more, afresh.
      const reset = (error as { code?: string }).code === "ECONNRESET";
      if (attempt === 1 && reset && request.reusedSocket && !signal.aborted) {
        KEEPING.delete(url.origin);
        connectionCounts.resent++;
        continue;
      }
      throw error;
    }
  }
}

export interface StreamOptions {
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Longest wait for the response to begin, and then again for the rest of it. */
  timeoutMs: number;
  /** Most bytes of body to read before giving up on a server that does not stop. */
  maxBytes: number;
  /**
   * The caller has what it came for (an SSE stream's [DONE]) and reads on only so the connection
   * can be kept: once this aborts, reading ends without an error and the connection is closed.
   */
  enough?: AbortSignal;
}

/**
 * POSTs JSON and yields the response body's text as it arrives, decoded across chunk
 * boundaries (a UTF-8 character split between two chunks comes out whole). Whatever ends the
 * read early (an error, a cap, the caller leaving its loop, `enough`) aborts the request, so a
 * server that streams forever is cut off rather than read into memory; read to its end, the
 * connection is kept for the next request.
 */
export async function* postStream(url: string, body: unknown, options: StreamOptions): AsyncGenerator<string> {
  const controller = new AbortController();
  // Which wait ran out: the one for the first byte, or the one for the rest of the answer.
  let expired: "first" | "rest" | null = null;
  let timer: NodeJS.Timeout | undefined;
  const wait = (phase: "first" | "rest") => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      expired = phase;
      controller.abort();
    }, options.timeoutMs);
  };
  const cancel = () => controller.abort();
  options.signal?.addEventListener("abort", cancel, { once: true });
  options.enough?.addEventListener("abort", cancel, { once: true });
  let started = false;
  const failure = (error: unknown): Error => {
    if (options.signal?.aborted) return new InterruptedError();
    if (expired === "first") return new HttpFailure("timeout", "timed out");
    if (expired === "rest") return new HttpFailure("slow", "did not finish in time");
    if (error instanceof HttpFailure) return error;
    return started ? new HttpFailure("dropped", "mid-answer") : networkFailure(error);
  };
  wait("first");
  let finished = false;
  let response: IncomingMessage | undefined;
  let socket: Socket | undefined;
  let target: URL;
  try {
    try {
      target = new URL(url);
      ({ response, socket } = await post(target, JSON.stringify(body), options.headers ?? {}, controller.signal));
    } catch (error) {
      throw failure(error);
    }
    started = true;
    wait("rest");
    const status = response.statusCode ?? 0;
    if (status < 200 || status > 299) {
      const { text } = await readCapped(response, ERROR_BODY_BYTES).catch(() => ({ text: "" }));
      throw new HttpFailure("status", `HTTP ${status}`, status, text);
    }
    const decoder = new TextDecoder();
    let size = 0;
    try {
      for await (const chunk of response as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > options.maxBytes) throw new HttpFailure("too-long", formatBytes(options.maxBytes));
        const text = decoder.decode(chunk, { stream: true });
        if (text) yield text;
      }
    } catch (error) {
      if (options.enough?.aborted && !options.signal?.aborted) return;
      throw failure(error);
    }
    const rest = decoder.decode();
    if (rest) yield rest;
    finished = true;
    if (socket) freed(target, socket);
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener("abort", cancel);
    options.enough?.removeEventListener("abort", cancel);
    // Read to its end, the connection goes back for the next request; cut short, it is closed.
    if (!finished) {
      controller.abort();
      response?.destroy();
    }
  }
}

function formatBytes(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${Math.round(bytes / (1024 * 1024))} MB` : `${Math.round(bytes / 1024)} KB`;
}

/** Most raw bytes worth reading for `maxTextLength` characters of model text, wire format included. */
export function streamByteLimit(maxTextLength: number): number {
  // Each token travels in its own JSON event of a few hundred bytes; 512 per character of text
  // leaves room for a model that sends one character a token, and 1 MB for servers' chatter.
  return Math.max(1024 * 1024, maxTextLength * 512);
}

/** Throws once model text runs past the cap, so a runaway answer stops being read. */
export function checkTextLength(text: string, maxTextLength: number): void {
  if (text.length > maxTextLength) throw new HttpFailure("too-long", `${maxTextLength} characters`);
}

/** Every line of streamed text, empty ones included; a line split across chunks comes out whole. */
async function* splitLines(chunks: AsyncIterable<string>): AsyncGenerator<string> {
  let buffer = "";
  for await (const chunk of chunks) {
    buffer += chunk;
    for (let newline = buffer.indexOf("\n"); newline !== -1; newline = buffer.indexOf("\n")) {
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

/** A short, capped GET: its status and body, or an HttpFailure when nothing answers in time. */
export async function getCapped(
  url: string,
  timeoutMs: number,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    // node:http, as the POSTs: fetch's first use loads and compiles undici, about 60 ms of a
    // daemon's start. A connection of its own (agent: false), closed after the answer: a GET is
    // rare (detection, the model list) and never meets a kept connection's server closing it.
    const target = new URL(url);
    const send = target.protocol === "https:" ? httpsRequest : httpRequest;
    const response = await new Promise<IncomingMessage>((resolve, reject) => {
      const request = send(target, { method: "GET", headers, agent: false, signal });
      request.once("response", resolve);
      request.once("error", reject);
      request.end();
    });
    const { text, complete } = await readCapped(response, GET_BYTES);
    if (!complete) throw new HttpFailure("too-long", formatBytes(GET_BYTES));
    return { status: response.statusCode ?? 0, body: text };
  } catch (error) {
    if (error instanceof HttpFailure) throw error;
    if (signal.aborted) throw new HttpFailure("timeout", "timed out");
    throw networkFailure(error);
  }
}

/** A short GET for detection and discovery; null when nothing answers in time. */
export async function getJson(url: string, timeoutMs: number, headers: Record<string, string> = {}): Promise<unknown> {
  try {
    const { status, body } = await getCapped(url, timeoutMs, headers);
    return status >= 200 && status < 300 ? JSON.parse(body) : null;
  } catch {
    return null;
  }
}

/** The error text a server put in its body, in Ollama's, OpenAI's or FastAPI's shape, or the body itself; inert. */
export function serverMessage(body: string): string {
  let message = body;
  try {
    const parsed = JSON.parse(body) as {
      error?: string | { message?: string };
      message?: string;
      detail?: string;
    };
    if (typeof parsed.error === "string") message = parsed.error;
    else if (typeof parsed.error?.message === "string") message = parsed.error.message;
    else if (typeof parsed.message === "string") message = parsed.message;
    else if (typeof parsed.detail === "string") message = parsed.detail;
  } catch {
    // Not JSON: quote it as is.
  }
  return inertExcerpt(message) || "(no details)";
}
