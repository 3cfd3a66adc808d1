import type { IncomingMessage, ServerResponse } from "node:http";
import { ollamaConfig, vllmConfig } from "./caro.js";
import { serve, type TestServer } from "./http.js";

// Stand-ins for Ollama and OpenAI-compatible servers (vLLM), on 127.0.0.1 at a random port.
// They speak the real wire formats, byte for byte, so caro's clients are tested as they will run.

export interface ChatRequest {
  model: string;
  messages: { role: string; content: string }[];
  [key: string]: unknown;
}

export interface StandinOptions {
  /** The assistant's whole reply for a request; by default a JSON answer from `commands`. */
  reply?: (request: ChatRequest) => string;
  /** Known answers by request text (the words after "request: "). */
  commands?: Record<string, string>;
  /**
   * Answers served in turn, one per chat, whatever was asked: a command (sent as the JSON the
   * schema asks for) or `{ text }`, the assistant's whole reply as is. The last one repeats.
   */
  turns?: (string | { text: string })[];
  /** Models the server has; others get its "not found" error. */
  models?: string[];
  /** Answer every chat with this status and body instead. */
  fail?: { status: number; body: string };
  /** Wait this long before the first byte. */
  firstByteDelayMs?: number;
  /** Send the body in pieces of this many bytes (1 splits every UTF-8 character and JSON string). */
  chunkBytes?: number;
  /** Wait between pieces. */
  chunkDelayMs?: number;
  /** Send this instead of a well-formed body. */
  malformed?: string;
  /** Ollama: answer with one JSON object, as with "stream": false, whatever was asked. */
  single?: boolean;
  /**
   * Never finish: "text" streams model text without end; "chatter" streams bytes that carry no
   * model text (one endless line for Ollama, SSE comments for OpenAI). Stops at ENDLESS_STOP bytes.
   */
  endless?: "text" | "chatter";
  /** Hang up after sending this many bytes of the body. */
  dropAfterBytes?: number;
  /** Hang up as soon as the request has arrived, before any response. */
  hangUp?: boolean;
  /** Listen on this address of the machine instead of 127.0.0.1. */
  host?: string;
}

/** Where an endless stand-in gives up, so a client that never stops reading fails its test rather than the machine. */
export const ENDLESS_STOP = 100 * 1024 * 1024;

export interface Standin extends TestServer {
  chats: ChatRequest[];
  /** Connections that carried a chat: one for many chats where the client keeps its connection. */
  readonly chatConnections: number;
  /** Connections closed by the client before the reply ended (a cancel). */
  aborted: number;
  /** Body bytes handed to the socket, over every reply. */
  sentBytes: number;
}

interface State {
  chats: ChatRequest[];
  chatSockets: WeakSet<object>;
  chatConnections: number;
  aborted: number;
  sentBytes: number;
}

export function requestText(request: ChatRequest): string {
  const last = request.messages.at(-1)?.content ?? "";
  // A second try after a failed check adds why, last: the request is the same one.
  const asked = /request: ([\s\S]*)$/.exec(last)?.[1] ?? last;
  return asked.replace(/\nFails here: .*$/, "");
}

/** The last user message of a chat: the part of the prompt that carries the request. */
export function lastUserMessage(request: ChatRequest): string {
  return request.messages.at(-1)?.content ?? "";
}

/** The JSON schema a chat asked its answer to follow (Ollama's format, or OpenAI's response_format). */
function schemaOf(request: ChatRequest): { required?: string[] } | undefined {
  return (request.format ??
    (request.response_format as { json_schema?: { schema?: unknown } } | undefined)?.json_schema?.schema) as
    | { required?: string[] }
    | undefined;
}

/** The reply for `command` in the shape the schema asks: with an explanation when one is required. */
function answerJson(request: ChatRequest, command: string): string {
  const required = schemaOf(request)?.required ?? [];
  if (required.includes("explanation") && !required.includes("command"))
    return JSON.stringify({ explanation: `runs ${command.split(" ")[0]}` });
  return JSON.stringify(
    required.includes("explanation") ? { command, explanation: `runs ${command.split(" ")[0]}` } : { command },
  );
}

/** Serves `turns` one per chat, then the last again. */
function replyInTurn(turns: (string | { text: string })[]) {
  let next = 0;
  return (request: ChatRequest) => {
    const turn = turns[Math.min(next++, turns.length - 1)];
    return typeof turn === "string" ? answerJson(request, turn) : turn.text;
  };
}

function defaultReply(options: StandinOptions) {
  if (options.turns?.length) return replyInTurn(options.turns);
  return (request: ChatRequest) => {
    const text = requestText(request);
    const command = options.commands?.[text] ?? `echo ${JSON.stringify(text)}`;
    // Asked for an explanation (the schema requires one): give one.
    return answerJson(request, command);
  };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Writes bytes, waiting while the client is behind, so `sentBytes` counts what it could have read. */
async function write(res: ServerResponse, bytes: Buffer, state: State): Promise<void> {
  state.sentBytes += bytes.length;
  if (res.write(bytes)) return;
  await new Promise<void>((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}

/** Writes a body in pieces, so the client sees it split where the test wants; or drops it part way. */
async function sendPieces(res: ServerResponse, body: string, options: StandinOptions, state: State): Promise<void> {
  let bytes = Buffer.from(body, "utf8");
  const drop = options.dropAfterBytes !== undefined;
  if (drop) bytes = bytes.subarray(0, options.dropAfterBytes);
  const size = options.chunkBytes ?? bytes.length;
  const closed = () => res.destroyed || res.writableEnded;
  for (let i = 0; i < bytes.length && !closed(); i += size) {
    await write(res, bytes.subarray(i, i + size), state);
    if (options.chunkDelayMs) await sleep(options.chunkDelayMs);
    else await new Promise((resolve) => setImmediate(resolve));
  }
  // Hanging up mid-body (the socket flushes what was written, then closes): the chunked encoding
  // never ends, as when a server crashes.
  if (drop) res.socket?.end();
  else if (!closed()) res.end();
}

/** Streams `piece` again and again, as fast as the client reads, until it hangs up (or ENDLESS_STOP). */
async function sendForever(res: ServerResponse, piece: string, state: State): Promise<void> {
  const bytes = Buffer.from(piece, "utf8");
  let sent = 0;
  while (!res.destroyed && !res.writableEnded && sent < ENDLESS_STOP) {
    await write(res, bytes, state);
    sent += bytes.length;
  }
  if (!res.destroyed) res.end();
}

/** Counts a reply the client gave up on (a cancel), whenever it happens. */
function countAborts(res: ServerResponse, state: State): void {
  res.on("close", () => {
    if (!res.writableFinished) state.aborted++;
  });
}

function withState(server: TestServer, state: State): Standin {
  return Object.defineProperties(server, {
    chats: { value: state.chats },
    chatConnections: { get: () => state.chatConnections },
    aborted: { get: () => state.aborted },
    sentBytes: { get: () => state.sentBytes },
  }) as Standin;
}

/**
 * What both servers do with a chat before answering it: record it, count a cancel, wait if asked,
 * and answer with the canned failure. Returns the request, or null once the reply is settled.
 */
async function acceptChat(
  req: IncomingMessage,
  res: ServerResponse,
  options: StandinOptions,
  state: State,
): Promise<ChatRequest | null> {
  const request = JSON.parse(await readBody(req)) as ChatRequest;
  state.chats.push(request);
  if (!state.chatSockets.has(req.socket)) {
    state.chatSockets.add(req.socket);
    state.chatConnections++;
  }
  if (options.hangUp) {
    req.socket.destroy();
    return null;
  }
  countAborts(res, state);
  if (options.firstByteDelayMs) await sleep(options.firstByteDelayMs);
  if (res.destroyed) return null;
  if (options.fail) {
    res.writeHead(options.fail.status, { "content-type": "application/json" }).end(options.fail.body);
    return null;
  }
  return request;
}

/** Splits a reply into token-like pieces, the way a model streams it. */
function tokens(text: string): string[] {
  return text.match(/.{1,4}/gsu) ?? [];
}

export async function ollamaStandin(options: StandinOptions = {}): Promise<Standin> {
  const state: State = { chats: [], chatSockets: new WeakSet(), chatConnections: 0, aborted: 0, sentBytes: 0 };
  // Options are read at each request, the reply too: a test may change them between requests.
  const fallback = defaultReply(options);
  const server = await serve(async (req, res) => {
    if (req.method === "GET" && req.url === "/api/version")
      return void res.writeHead(200, { "content-type": "application/json" }).end('{"version":"0.5.7"}');
    if (req.method === "GET" && req.url === "/api/tags")
      return void res
        .writeHead(200, { "content-type": "application/json" })
        .end(
          JSON.stringify({ models: (options.models ?? ["qwen2.5-coder:1.5b"]).map((name) => ({ name, model: name })) }),
        );
    if (req.method !== "POST" || req.url !== "/api/chat")
      return void res.writeHead(404, { "content-type": "text/plain" }).end("404 page not found");
    const request = await acceptChat(req, res, options, state);
    if (!request) return;
    const models = options.models ?? ["qwen2.5-coder:1.5b"];
    if (!models.includes(request.model))
      return void res
        .writeHead(404, { "content-type": "application/json" })
        .end(JSON.stringify({ error: `model "${request.model}" not found, try pulling it first` }));
    const created = new Date().toISOString();
    const message = (content: string) => ({
      model: request.model,
      created_at: created,
      message: { role: "assistant", content },
    });
    const text = (options.reply ?? fallback)(request);
    const stats = {
      total_duration: 812345678,
      load_duration: 12345678,
      prompt_eval_count: 412,
      prompt_eval_duration: 300000000,
      eval_count: tokens(text).length,
      eval_duration: 500000000,
    };
    let body: string;
    if (options.malformed !== undefined) body = options.malformed;
    else if (request.stream === false || options.single)
      body = JSON.stringify({ ...message(text), done_reason: "stop", done: true, ...stats });
    else {
      const last = { ...message(""), done_reason: "stop", done: true, ...stats };
      const lines = [...tokens(text).map((t) => ({ ...message(t), done: false })), last];
      body = lines.map((line) => `${JSON.stringify(line)}\n`).join("");
    }
    res.writeHead(200, {
      "content-type":
        request.stream === false || options.single ? "application/json; charset=utf-8" : "application/x-ndjson",
    });
    if (options.endless === "text") {
      const chunk = {
        model: request.model,
        created_at: created,
        message: { role: "assistant", content: "echo ".repeat(200) },
        done: false,
      };
      return sendForever(res, `${JSON.stringify(chunk)}\n`, state);
    }
    if (options.endless === "chatter") {
      await write(res, Buffer.from(`{"model":"${request.model}","message":{"role":"assistant","content":"`), state);
      return sendForever(res, " ".repeat(4096), state);
    }
    await sendPieces(res, body, options, state);
  }, options.host);
  return withState(server, state);
}

export interface OpenaiStandinOptions extends StandinOptions {
  apiKey?: string;
  rejectSchema?: boolean;
  /**
   * The server to behave as. "vllm" (the default): keeps its connections, names the model asked
   * for in each chunk, and answers 404 for a model it does not serve. "llama-server", as llama.cpp's
   * tools/server and its cpp-httplib behave: closes the connection right after each streamed reply
   * (its headers say Keep-Alive all the same) and after every error; serves one model, takes any
   * model name, and names its own (the first of `models`) in each chunk; answers every path with
   * 503 "Loading model" while loading, and an unknown path with 404 "File Not Found".
   */
  like?: "vllm" | "llama-server";
  /** The context in tokens (4 characters of the chat a token): a longer prompt gets the server's HTTP 400. */
  contextSize?: number;
  /** Answer every request with llama-server's 503 "Loading model" for this long after the first arrives. */
  loadingMs?: number;
  /** Send [DONE], then hold the body open this long before ending it. */
  holdAfterDoneMs?: number;
}

export interface OpenaiStandin extends Standin {
  /** Requests answered 503 while loading. */
  readonly unavailable: number;
}

export async function openaiStandin(options: OpenaiStandinOptions = {}): Promise<OpenaiStandin> {
  const state: State = { chats: [], chatSockets: new WeakSet(), chatConnections: 0, aborted: 0, sentBytes: 0 };
  const reply = options.reply ?? defaultReply(options);
  const models = options.models ?? ["Qwen/Qwen2.5-Coder-1.5B-Instruct"];
  const llama = options.like === "llama-server";
  let loadedAt = 0;
  let unavailable = 0;
  const json = (res: ServerResponse, status: number, value: unknown) => {
    // cpp-httplib sends "Connection: close" with every status from 400 up, and closes.
    const close = llama && status >= 400 ? { connection: "close" } : {};
    res.writeHead(status, { "content-type": "application/json; charset=utf-8", ...close }).end(JSON.stringify(value));
  };
  // llama-server's errors: {"error": {"code", "message", "type"}} (format_error_response).
  const llamaError = (res: ServerResponse, code: number, type: string, message: string, extra = {}) =>
    json(res, code, { error: { code, message, type, ...extra } });
  const server = await serve(async (req, res) => {
    loadedAt ||= Date.now() + (options.loadingMs ?? 0);
    if (llama && Date.now() < loadedAt) {
      unavailable++;
      req.resume();
      return llamaError(res, 503, "unavailable_error", "Loading model");
    }
    if (options.apiKey && req.headers.authorization !== `Bearer ${options.apiKey}`)
      return llama
        ? llamaError(res, 401, "authentication_error", "Invalid API Key")
        : json(res, 401, { error: { message: "Unauthorized", type: "invalid_request_error" } });
    if (req.method === "GET" && req.url === "/v1/models")
      return json(res, 200, {
        object: "list",
        data: (llama ? models.slice(0, 1) : models).map((id) => ({
          id,
          object: "model",
          created: 1700000000,
          owned_by: llama ? "llamacpp" : "vllm",
        })),
      });
    if (req.method !== "POST" || req.url !== "/v1/chat/completions")
      return llama
        ? llamaError(res, 404, "not_found_error", "File Not Found")
        : json(res, 404, { detail: "Not Found" });
    const request = await acceptChat(req, res, options, state);
    if (!request) return;
    if (options.rejectSchema && request.response_format)
      return json(res, 400, {
        object: "error",
        message: "response_format json_schema is not supported",
        type: "BadRequestError",
        param: null,
        code: 400,
      });
    const promptTokens = Math.ceil(request.messages.reduce((n, m) => n + m.content.length, 0) / 4);
    if (options.contextSize !== undefined && promptTokens >= options.contextSize) {
      const ctx = options.contextSize;
      // llama-server: server-context.cpp's send_error with ERROR_TYPE_EXCEED_CONTEXT_SIZE; vLLM: its BadRequestError.
      return llama
        ? llamaError(
            res,
            400,
            "exceed_context_size_error",
            `request (${promptTokens} tokens) exceeds the available context size (${ctx} tokens), try increasing it`,
            { n_prompt_tokens: promptTokens, n_ctx: ctx },
          )
        : json(res, 400, {
            object: "error",
            message:
              `This model's maximum context length is ${ctx} tokens. ` +
              `However, you requested ${promptTokens + 512} tokens ` +
              `(${promptTokens} in the messages, 512 in the completion). ` +
              "Please reduce the length of the messages or completion.",
            type: "BadRequestError",
            param: null,
            code: 400,
          });
    }
    if (!llama && !models.includes(request.model))
      return json(res, 404, {
        object: "error",
        message: `The model \`${request.model}\` does not exist.`,
        type: "NotFoundError",
        param: null,
        code: 404,
      });
    const text = request.response_format ? reply(request) : `Sure, here it is: ${reply(request)}`;
    const model = llama ? models[0] : request.model;
    const base = { id: "chatcmpl-caro", object: "chat.completion.chunk", created: 1700000000, model };
    const event = (value: unknown) => `data: ${JSON.stringify(value)}\n\n`;
    const body =
      options.malformed ??
      event({
        ...base,
        choices: [{ index: 0, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null }],
      }) +
        tokens(text)
          .map((t) =>
            event({ ...base, choices: [{ index: 0, delta: { content: t }, logprobs: null, finish_reason: null }] }),
          )
          .join("") +
        event({ ...base, choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: "stop" }] }) +
        event({
          ...base,
          choices: [],
          usage: {
            prompt_tokens: 412,
            total_tokens: 412 + tokens(text).length,
            completion_tokens: tokens(text).length,
          },
        }) +
        "data: [DONE]\n\n";
    // cpp-httplib advertises Keep-Alive on a streamed reply, then closes once it ends.
    const keepAlive = llama ? { "keep-alive": "timeout=5, max=100" } : {};
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      ...keepAlive,
    });
    if (options.endless === "text") {
      const choice = { index: 0, delta: { content: "echo ".repeat(200) }, logprobs: null, finish_reason: null };
      return sendForever(res, event({ ...base, choices: [choice] }), state);
    }
    if (options.endless === "chatter") return sendForever(res, ": keep-alive\n\n", state);
    if (options.holdAfterDoneMs) {
      await write(res, Buffer.from(body), state);
      await sleep(options.holdAfterDoneMs);
      if (!res.destroyed) res.end();
      return;
    }
    await sendPieces(res, body, options, state);
    if (llama) res.socket?.end();
  });
  return Object.defineProperty(withState(server, state), "unavailable", { get: () => unavailable }) as OpenaiStandin;
}

/** Both server kinds, each with the config that sends caro's requests to it. */
export const SERVERS = {
  ollama: { start: ollamaStandin, config: ollamaConfig },
  vllm: { start: openaiStandin, config: vllmConfig },
} as const;
