// Any server that speaks the OpenAI chat-completions API (vLLM, llama-server, LM Studio, …). Its
// backend keeps the name users configure and type, `vllm` (`[backends.vllm]`, `--backend vllm`).

import { setTimeout as sleep } from "node:timers/promises";
import type { Settings } from "../config/schema.js";
import { BackendError, InterruptedError, RequestTooLongError } from "../errors.js";
import { chatMessages } from "../prompt/chat.js";
import { checkTextLength, getCapped, HttpFailure, postStream, serverMessage, sseData } from "./http.js";
import { inertExcerpt } from "../text/inert.js";
import { streamByteLimit } from "./http.js";
import { type Backend, type GenerateRequest, type RawAnswer, SAMPLING } from "./types.js";

/** vLLM is one of many servers that speak this API: name it only as an example. */
const START_ONE = 'start one, e.g. "vllm serve <model>" or "llama-server -m <file.gguf>"';
const FIX_URL = "fix [backends.vllm] url";
const BASE_URL = "to the server's base URL (caro adds /v1/…)";
const SET_KEY = "set [backends.vllm] api_key or $CARO_VLLM_API_KEY";
/** After [DONE], how long the body may take to end before the connection is given up rather than kept. */
const TAIL_MS = 100;
/** While a server loads its model (HTTP 503), the first pause before asking again, and the longest. */
const FIRST_PAUSE_MS = 250;
const LONGEST_PAUSE_MS = 2000;
/** How long the answer cache waits to learn which models a server lists. */
const IDENTITY_TIMEOUT_MS = 1000;

interface ChatChunk {
  choices?: { delta?: { content?: string | null } }[];
  usage?: { prompt_tokens?: number; completion_tokens?: number } | null;
  model?: unknown;
  error?: { message?: string; type?: string; code?: unknown };
}

/** The server's base URL: LM Studio and the OpenAI SDKs show it with `/v1`, which caro adds itself. */
function openaiBaseUrl(url: string): string {
  return url.replace(/\/+$/, "").replace(/\/v1$/, "");
}

function authHeaders(apiKey: string): Record<string, string> {
  return apiKey ? { authorization: `Bearer ${apiKey}` } : {};
}

/** A model id caro may print: a non-empty string that would put no control character on the terminal. */
function printable(id: unknown): id is string {
  return typeof id === "string" && id !== "" && inertExcerpt(id, Infinity) === id;
}

/**
 * GET /v1/models: the ids it lists, or null when the answer is not a model list. Ids that would
 * put control characters on the terminal are left out: caro prints the id it uses.
 */
async function listModels(url: string, headers: Record<string, string>, timeoutMs: number): Promise<string[] | null> {
  const { status, body } = await getCapped(`${url}/v1/models`, timeoutMs, headers);
  if (status < 200 || status >= 300) throw new HttpFailure("status", `HTTP ${status}`, status, body);
  let list: { data?: { id?: unknown }[] } | null;
  try {
    list = JSON.parse(body) as typeof list;
  } catch {
    return null;
  }
  if (!Array.isArray(list?.data)) return null;
  return list.data.map((m) => m?.id).filter(printable);
}

/** The HTTP status of a failure, or 0 when it is not one. */
function statusOf(error: unknown): number {
  return error instanceof HttpFailure && error.kind === "status" ? error.status : 0;
}

/** An OpenAI-style error body's fields, wherever the server put them (`{error: {…}}` or at the top). */
function errorFields(body: string): { message: string; type: string; code: string } {
  let parsed: { error?: unknown; message?: unknown; type?: unknown; code?: unknown } = {};
  try {
    parsed = JSON.parse(body) as typeof parsed;
  } catch {
    // Not JSON: only the message, below.
  }
  const inner = (typeof parsed?.error === "object" && parsed.error !== null ? parsed.error : parsed) as Record<
    string,
    unknown
  >;
  return { message: serverMessage(body), type: String(inner?.type ?? ""), code: String(inner?.code ?? "") };
}

/**
 * Does this failure say the request does not fit the model's context? llama-server: HTTP 400
 * exceed_context_size_error; OpenAI: context_length_exceeded; vLLM: "maximum context length".
 */
function contextOverflow(error: unknown): boolean {
  const status = statusOf(error);
  if (status < 400 || status >= 500) return false;
  const { message, type, code } = errorFields((error as HttpFailure).body);
  return (
    type === "exceed_context_size_error" ||
    code === "context_length_exceeded" ||
    /maximum context length|exceeds the available context|larger than the max context|context length exceeded/i.test(
      message,
    )
  );
}

/**
 * Is the server there but not ready: loading its model (llama-server answers every path with 503
 * "Loading model" until it has), or out of room for another request. Asked again, it answers.
 */
function unavailable(error: unknown): boolean {
  return statusOf(error) === 503;
}

export type ServerProbe =
  | { url: string; models: string[]; loading?: string }
  | { url: string; problem: string; fix?: string };

/**
 * Can the configured OpenAI-compatible server answer? A short GET /v1/models, so `auto` can move
 * on quickly when none does, and so `caro doctor` sees what `auto` sees. A server loading its
 * model will answer: `loading` holds what it said. Fixes name `configPath`.
 */
export async function probeOpenaiServer(settings: Settings, configPath: string, timeoutMs = 300): Promise<ServerProbe> {
  const url = openaiBaseUrl(settings["backends.vllm.url"]);
  const setUrl = `set [backends.vllm] url in ${configPath} ${BASE_URL}`;
  try {
    const models = await listModels(url, authHeaders(settings["backends.vllm.api_key"]), timeoutMs);
    if (models === null) {
      return { url, problem: `the server at ${url} does not list models at /v1/models`, fix: setUrl };
    }
    if (models.length === 0 && !settings["backends.vllm.model"]) {
      const fix = `load a model in it, or set [backends.vllm] model in ${configPath}`;
      return { url, problem: `the OpenAI-compatible server at ${url} lists no model`, fix };
    }
    return { url, models };
  } catch (error) {
    const status = statusOf(error);
    const message = status ? serverMessage((error as HttpFailure).body) : "";
    if (status === 503) return { url, models: [], loading: message };
    if (status === 401 || status === 403) {
      const problem = `the OpenAI-compatible server at ${url} refused the API key (HTTP ${status}: ${message})`;
      return { url, problem, fix: `set [backends.vllm] api_key in ${configPath}, or $CARO_VLLM_API_KEY` };
    }
    if (status === 404) {
      return { url, problem: `no OpenAI-compatible API at ${url}: HTTP 404 at /v1/models (${message})`, fix: setUrl };
    }
    if (status) {
      return { url, problem: `the server at ${url} answered HTTP ${status} at /v1/models (${message})`, fix: setUrl };
    }
    const fix = `${START_ONE}, or set [backends.vllm] url in ${configPath} to where one runs`;
    return { url, problem: `no OpenAI-compatible server answers at ${url}`, fix };
  }
}

/**
 * Does this failure say the model asked for is not there (unloaded, renamed, replaced)? A 404
 * that does not speak of a model is a wrong path, not a missing model.
 */
function modelMissing(error: unknown): boolean {
  const status = statusOf(error);
  if (status < 400 || status >= 500) return false;
  const { message, code } = errorFields((error as HttpFailure).body);
  if (code === "model_not_found") return true;
  if (status === 404) return /model/i.test(message);
  return /model.*(not found|does not exist|not loaded)/i.test(message);
}

/** A 404 that is not about a model: nothing at that path, so the url is not the server's base. */
function wrongPath(error: unknown): boolean {
  return statusOf(error) === 404 && !modelMissing(error);
}

/**
 * vLLM, or any OpenAI-compatible server: /v1/chat/completions, streamed over SSE, with a JSON-schema response format.
 */
export class OpenaiBackend implements Backend {
  readonly name = "vllm";
  private readonly url: string;
  /** The model the config names; empty: ask the server. */
  private readonly configuredModel: string;
  /** The server's first listed model, kept between requests until the server stops knowing it. */
  private discoveredModel: string | null = null;
  private readonly timeoutMs: number;
  private readonly headers: Record<string, string>;

  constructor(
    settings: Settings,
    private readonly configPath: string,
  ) {
    this.url = openaiBaseUrl(settings["backends.vllm.url"]);
    this.configuredModel = settings["backends.vllm.model"];
    this.timeoutMs = settings["backends.vllm.timeout"] * 1000;
    this.headers = authHeaders(settings["backends.vllm.api_key"]);
  }

  private get server(): string {
    return `the OpenAI-compatible server at ${this.url}`;
  }

  private describeFailure(error: unknown, model: string): Error {
    if (!(error instanceof HttpFailure)) return error as Error;
    const timeout = `raise [backends.vllm] timeout in ${this.configPath}`;
    switch (error.kind) {
      case "refused":
        return new BackendError(
          `no OpenAI-compatible server is running at ${this.url}: ${START_ONE}, or ${FIX_URL} in ${this.configPath}`,
        );
      case "network":
        return new BackendError(
          `cannot reach ${this.server} (${error.message}): check [backends.vllm] url in ${this.configPath}`,
        );
      case "dropped":
        return new BackendError(`${this.server} closed the connection ${error.message}: see its log, then ask again`);
      case "timeout":
        return new BackendError(`${this.server} did not answer within ${this.timeoutMs / 1000} s: ${timeout}`);
      case "slow":
        return new BackendError(
          `${this.server} started answering but did not finish within another ${this.timeoutMs / 1000} s: ${timeout}`,
        );
      case "too-long":
        return new BackendError(
          `the answer from ${this.server} ran past ${error.message}, longer than any command caro takes, ` +
            `so caro stopped reading it (max_command_length in ${this.configPath} sets the limit)`,
        );
    }
    const message = serverMessage(error.body);
    if (error.status === 401 || error.status === 403)
      return new BackendError(`${this.server} refused the API key (HTTP ${error.status}): ${SET_KEY}`);
    if (contextOverflow(error))
      return new RequestTooLongError(
        `the request is too long for the model at ${this.url} (HTTP ${error.status}: ${message}): ` +
          "shorten the request, or raise the server's context (llama-server -c, vllm serve --max-model-len)",
      );
    if (modelMissing(error))
      return new BackendError(
        `${this.server} has no model "${model}" (HTTP ${error.status}: ${message}): ` +
          `set [backends.vllm] model in ${this.configPath} to an id GET /v1/models lists, or to "" for its first`,
      );
    if (wrongPath(error))
      return new BackendError(
        `no OpenAI-compatible API answers at ${this.url} (HTTP 404: ${message}): ` +
          `set [backends.vllm] url in ${this.configPath} ${BASE_URL}`,
      );
    return new BackendError(`${this.server} answered HTTP ${error.status}: ${message}`);
  }

  /** What a server that stayed unavailable (HTTP 503) for the whole timeout said, and what to do. */
  private stillUnavailable(error: HttpFailure): BackendError {
    const message = serverMessage(error.body);
    const waited = `after ${this.timeoutMs / 1000} s (HTTP 503: ${message})`;
    if (/load/i.test(message))
      return new BackendError(
        `${this.server} is still loading its model ${waited}: wait until it has loaded, then ask again ` +
          `(caro waits up to [backends.vllm] timeout in ${this.configPath})`,
      );
    return new BackendError(`${this.server} is still unavailable ${waited}: see its log, then ask again`);
  }

  /** The model id to send: the configured one, else the one found before, else the server's first listed. */
  private async servedModelId(): Promise<string> {
    if (this.configuredModel) return this.configuredModel;
    if (this.discoveredModel) return this.discoveredModel;
    let models: string[] | null;
    try {
      models = await listModels(this.url, this.headers, this.timeoutMs);
    } catch (error) {
      // A refused key, a path that is not the API and a server still loading each say so;
      // any other status means no list to read.
      const status = statusOf(error);
      if (!status || [401, 403, 404, 503].includes(status)) throw error;
      models = null;
    }
    const id = models?.[0];
    if (!id) {
      const fix = `set [backends.vllm] model in ${this.configPath}`;
      throw new BackendError(`${this.server} lists no model at /v1/models: ${fix}`);
    }
    this.discoveredModel = id;
    return id;
  }

  /**
   * Which server and model would answer now, for the answer cache: the url and the models the
   * server lists, asked afresh (it may have restarted with another since). Null when it lists none
   * now. A discovered id the list no longer has is forgotten, so the request asks for one it has.
   */
  async answerer(): Promise<string | null> {
    let models: string[] | null;
    try {
      models = await listModels(this.url, this.headers, Math.min(this.timeoutMs, IDENTITY_TIMEOUT_MS));
    } catch {
      return null;
    }
    if (models === null) return null;
    if (this.discoveredModel !== null && !models.includes(this.discoveredModel)) this.discoveredModel = null;
    return JSON.stringify([this.url, this.configuredModel, models]);
  }

  private async stream(request: GenerateRequest, model: string, withSchema: boolean, started: number) {
    const body: Record<string, unknown> = {
      model,
      messages: chatMessages(request.prompt),
      stream: true,
      stream_options: { include_usage: true },
      temperature: request.temperature ?? SAMPLING.temperature,
      seed: request.seed,
      max_tokens: SAMPLING.maxTokens,
    };
    if (withSchema)
      body.response_format = {
        type: "json_schema",
        json_schema: { name: "caro_answer", schema: request.schema, strict: true },
      };
    const maxText = request.maxTextLength;
    let text = "";
    let firstToken: number | null = null;
    let usage: ChatChunk["usage"] = null;
    /** The model the server says answered, from the first chunk that names one. */
    let answered: string | null = null;
    let done = false;
    // Past [DONE] the body is read on to its end, so the connection can be kept; a server that
    // does not end it soon after is cut off instead, without failing the answer.
    const enough = new AbortController();
    let tail: NodeJS.Timeout | undefined;
    const events = sseData(
      postStream(`${this.url}/v1/chat/completions`, body, {
        headers: this.headers,
        signal: request.signal,
        timeoutMs: this.timeoutMs,
        maxBytes: streamByteLimit(maxText),
        enough: enough.signal,
      }),
    );
    try {
      for await (const data of events) {
        if (done) continue;
        if (data === "[DONE]") {
          done = true;
          tail = setTimeout(() => enough.abort(), TAIL_MS);
          continue;
        }
        let chunk: ChatChunk;
        try {
          chunk = JSON.parse(data) as ChatChunk;
        } catch {
          throw new BackendError(
            `${this.server} sent a stream caro cannot read: ${JSON.stringify(inertExcerpt(data, 80))}`,
          );
        }
        if (chunk.error) {
          // llama-server reports some failures in the stream, in the same shape as an error body.
          const failure = new HttpFailure("status", "in the stream", 400, JSON.stringify({ error: chunk.error }));
          if (contextOverflow(failure)) throw failure;
          throw new BackendError(
            `${this.server} failed: ${inertExcerpt(String(chunk.error.message ?? "")) || "unknown error"}`,
          );
        }
        answered ??= printable(chunk.model) ? chunk.model : null;
        const piece = chunk.choices?.[0]?.delta?.content ?? "";
        if (piece) {
          firstToken ??= performance.now() - started;
          text += piece;
          checkTextLength(text, maxText);
          request.onEvent?.({ type: "text", text: piece });
        }
        if (chunk.usage) usage = chunk.usage;
      }
    } catch (error) {
      // The answer was whole: what went wrong after it costs the connection, not the answer.
      if (!done || error instanceof InterruptedError) throw error;
    } finally {
      clearTimeout(tail);
    }
    if (!done) throw new BackendError(`${this.server} closed the stream before [DONE]`);
    return { text, firstToken, usage, model: answered ?? model };
  }

  /** One model's answer, asked again without the schema when the server refuses it. */
  private async ask(request: GenerateRequest, model: string, started: number) {
    try {
      return await this.stream(request, model, true, started);
    } catch (error) {
      // Older servers refuse json_schema response formats: ask again without one and parse the
      // prose. Not for a request too long for the context, or a missing model: asking again
      // without the schema would only make the server read the same prompt twice.
      if (statusOf(error) !== 400 || contextOverflow(error) || modelMissing(error)) throw error;
      return await this.stream(request, model, false, started);
    }
  }

  /** One try: the model to ask, its answer, and once more after the server changed models. */
  private async answerOnce(request: GenerateRequest, started: number) {
    let model = this.configuredModel;
    try {
      model = await this.servedModelId();
      try {
        return await this.ask(request, model, started);
      } catch (error) {
        // The server changed models since caro asked which it has: ask again, once, with the new one.
        if (this.configuredModel || !modelMissing(error)) throw error;
        this.discoveredModel = null;
        const fresh = await this.servedModelId();
        if (fresh === model) throw error;
        model = fresh;
        return await this.ask(request, model, started);
      }
    } catch (error) {
      throw unavailable(error) ? error : this.describeFailure(error, model);
    }
  }

  async generate(request: GenerateRequest): Promise<RawAnswer> {
    const started = performance.now();
    request.onEvent?.({ type: "generating" });
    let result: Awaited<ReturnType<OpenaiBackend["answerOnce"]>>;
    // A server loading its model answers 503 until it has: ask again, pausing longer each time,
    // for as long as the timeout allows.
    for (let pause = FIRST_PAUSE_MS; ; pause = Math.min(2 * pause, LONGEST_PAUSE_MS)) {
      try {
        result = await this.answerOnce(request, started);
        break;
      } catch (error) {
        if (!unavailable(error)) throw error;
        const left = this.timeoutMs - (performance.now() - started);
        if (left <= 0) throw this.stillUnavailable(error as HttpFailure);
        if (pause === FIRST_PAUSE_MS) {
          const said = serverMessage((error as HttpFailure).body);
          const wait = `asking again for up to ${this.timeoutMs / 1000} s`;
          const text = `${this.server} is not ready (HTTP 503: ${said}): ${wait}`;
          request.onEvent?.({ type: "waiting", text });
        }
        await sleep(Math.min(pause, left), undefined, { signal: request.signal }).catch(() => {
          throw new InterruptedError();
        });
      }
    }
    // The server named another model than the one asked for (llama-server answers any name with
    // its own): the list has changed, so the next request looks again.
    if (!this.configuredModel && result.model !== this.discoveredModel) this.discoveredModel = null;
    return {
      text: result.text,
      model: result.model,
      gpu: null,
      timings: {
        first_token_ms: result.firstToken === null ? null : Math.round(result.firstToken),
        generate_ms: Math.round(performance.now() - started),
        prompt_tokens: result.usage?.prompt_tokens ?? null,
        generated_tokens: result.usage?.completion_tokens ?? null,
      },
    };
  }

  async close(): Promise<void> {}
}
