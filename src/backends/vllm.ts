import type { Settings } from "../config/schema.js";
import { BackendError } from "../errors.js";
import { chatMessages } from "../prompt/build.js";
import { checkTextLength, getCapped, HttpFailure, postStream, serverMessage, sseData } from "./http.js";
import { inertExcerpt } from "../text/inert.js";
import { streamByteLimit } from "./http.js";
import { type Backend, type GenerateRequest, type RawAnswer, SAMPLING } from "./types.js";

/** vLLM is one of many servers that speak this API: name it only as an example. */
const START_ONE = 'start one, e.g. "vllm serve <model>" or "llama-server -m <file.gguf>"';
const FIX_URL = "fix [backends.vllm] url";

interface ChatChunk {
  choices?: { delta?: { content?: string | null } }[];
  usage?: { prompt_tokens?: number; completion_tokens?: number } | null;
  model?: string;
  error?: { message?: string };
}

/** The server's base URL: LM Studio and the OpenAI SDKs show it with `/v1`, which caro adds itself. */
function openaiBaseUrl(url: string): string {
  return url.replace(/\/+$/, "").replace(/\/v1$/, "");
}

function authHeaders(apiKey: string): Record<string, string> {
  return apiKey ? { authorization: `Bearer ${apiKey}` } : {};
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
  const printable = (id: unknown): id is string =>
    typeof id === "string" && id !== "" && inertExcerpt(id, Infinity) === id;
  return list.data.map((m) => m?.id).filter(printable);
}

export type ServerProbe = { url: string; models: string[] } | { url: string; problem: string; fix?: string };

/**
 * Can the configured OpenAI-compatible server answer? A short GET /v1/models, so `auto` can move
 * on quickly when none does, and so `caro doctor` sees what `auto` sees.
 */
export async function probeOpenaiServer(settings: Settings, timeoutMs = 300): Promise<ServerProbe> {
  const url = openaiBaseUrl(settings["backends.vllm.url"]);
  try {
    const models = await listModels(url, authHeaders(settings["backends.vllm.api_key"]), timeoutMs);
    if (models === null) {
      return { url, problem: `the server at ${url} does not list models at /v1/models`, fix: FIX_URL };
    }
    if (models.length === 0 && !settings["backends.vllm.model"]) {
      const fix = "load a model in it, or set [backends.vllm] model";
      return { url, problem: `the OpenAI-compatible server at ${url} lists no model`, fix };
    }
    return { url, models };
  } catch (error) {
    const status = error instanceof HttpFailure && error.kind === "status" ? error.status : 0;
    if (status === 401 || status === 403) {
      const problem = `the OpenAI-compatible server at ${url} refused the API key (HTTP ${status})`;
      return { url, problem, fix: "set [backends.vllm] api_key or $CARO_VLLM_API_KEY" };
    }
    if (status) {
      return { url, problem: `the server at ${url} answered HTTP ${status} at /v1/models`, fix: FIX_URL };
    }
    return { url, problem: `no OpenAI-compatible server answers at ${url}`, fix: `${START_ONE}, or ${FIX_URL}` };
  }
}

/** Does this failure say the model asked for is not there (unloaded, renamed, replaced)? */
function modelMissing(error: unknown): boolean {
  if (!(error instanceof HttpFailure) || error.kind !== "status") return false;
  if (error.status === 404) return true;
  const says = /model.*(not found|does not exist|not loaded)|model_not_found/i;
  return error.status >= 400 && error.status < 500 && says.test(error.body);
}

/** vLLM, or any OpenAI-compatible server: /v1/chat/completions, streamed over SSE, with a JSON-schema response format. */
export class VllmBackend implements Backend {
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
    if (error.status === 401 || error.status === 403) {
      return new BackendError(
        `${this.server} refused the API key (HTTP ${error.status}): set [backends.vllm] api_key or $CARO_VLLM_API_KEY`,
      );
    }
    const message = serverMessage(error.body);
    if (modelMissing(error) && /model/i.test(message))
      return new BackendError(
        `${this.server} has no model "${model}" (HTTP ${error.status}: ${message}): ` +
          `set [backends.vllm] model in ${this.configPath} to an id GET /v1/models lists, or to "" for its first`,
      );
    return new BackendError(`${this.server} answered HTTP ${error.status}: ${message}`);
  }

  /** The model id to send: the configured one, else the one found before, else the server's first listed. */
  private async servedModelId(): Promise<string> {
    if (this.configuredModel) return this.configuredModel;
    if (this.discoveredModel) return this.discoveredModel;
    let models: string[] | null;
    try {
      models = await listModels(this.url, this.headers, this.timeoutMs);
    } catch (error) {
      // A refused key is worth its own message; any other status means no list to read.
      const refusedKey = error instanceof HttpFailure && (error.status === 401 || error.status === 403);
      if (!(error instanceof HttpFailure && error.kind === "status") || refusedKey) throw error;
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
    let done = false;
    const events = sseData(
      postStream(`${this.url}/v1/chat/completions`, body, {
        headers: this.headers,
        signal: request.signal,
        timeoutMs: this.timeoutMs,
        maxBytes: streamByteLimit(maxText),
      }),
    );
    for await (const data of events) {
      if (data === "[DONE]") {
        done = true;
        break;
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
        throw new BackendError(
          `${this.server} failed: ${inertExcerpt(String(chunk.error.message ?? "")) || "unknown error"}`,
        );
      }
      const piece = chunk.choices?.[0]?.delta?.content ?? "";
      if (piece) {
        firstToken ??= performance.now() - started;
        text += piece;
        checkTextLength(text, maxText);
        request.onEvent?.({ type: "text", text: piece });
      }
      if (chunk.usage) usage = chunk.usage;
    }
    if (!done) throw new BackendError(`${this.server} closed the stream before [DONE]`);
    return { text, firstToken, usage };
  }

  /** One model's answer, asked again without the schema when the server refuses it. */
  private async ask(request: GenerateRequest, model: string, started: number) {
    try {
      return await this.stream(request, model, true, started);
    } catch (error) {
      // Older servers refuse json_schema response formats: ask again without one and parse the prose.
      if (!(error instanceof HttpFailure && error.status === 400) || modelMissing(error)) throw error;
      return await this.stream(request, model, false, started);
    }
  }

  async generate(request: GenerateRequest): Promise<RawAnswer> {
    const started = performance.now();
    request.onEvent?.({ type: "generating" });
    let model = this.configuredModel;
    let result: Awaited<ReturnType<VllmBackend["ask"]>>;
    try {
      model = await this.servedModelId();
      try {
        result = await this.ask(request, model, started);
      } catch (error) {
        // The server changed models since caro asked which it has: ask again, once, with the new one.
        if (this.configuredModel || !modelMissing(error)) throw error;
        this.discoveredModel = null;
        const fresh = await this.servedModelId();
        if (fresh === model) throw error;
        model = fresh;
        result = await this.ask(request, model, started);
      }
    } catch (error) {
      throw this.describeFailure(error, model);
    }
    return {
      text: result.text,
      model,
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
