import type { Settings } from "../config/schema.js";
import { BackendError } from "../errors.js";
import { chatMessages } from "../prompt/build.js";
import { HttpFailure, networkFailure, postStream, serverMessage, sseData } from "./http.js";
import type { Backend, GenerateRequest, RawAnswer } from "./types.js";

const TEMPERATURE = 0.2;
const MAX_TOKENS = 512;

interface ChatChunk {
  choices?: { delta?: { content?: string | null } }[];
  usage?: { prompt_tokens?: number; completion_tokens?: number } | null;
  model?: string;
  error?: { message?: string };
}

/** vLLM, or any OpenAI-compatible server: /v1/chat/completions, streamed over SSE, with a JSON-schema response format. */
export class VllmBackend implements Backend {
  readonly name = "vllm";
  private readonly url: string;
  private model: string;
  private readonly timeoutMs: number;
  private readonly headers: Record<string, string>;

  constructor(
    settings: Settings,
    private readonly configPath: string,
  ) {
    this.url = settings["backends.vllm.url"];
    this.model = settings["backends.vllm.model"];
    this.timeoutMs = settings["backends.vllm.timeout"] * 1000;
    const key = settings["backends.vllm.api_key"];
    this.headers = key ? { authorization: `Bearer ${key}` } : {};
  }

  private explain(error: unknown): Error {
    if (!(error instanceof HttpFailure)) return error as Error;
    if (error.kind === "refused" || error.kind === "network")
      return new BackendError(`no server at ${this.url}: start one with "vllm serve ${this.model || "<model>"}"`);
    if (error.kind === "timeout")
      return new BackendError(`vLLM did not answer within ${this.timeoutMs / 1000} s: raise [backends.vllm] timeout in ${this.configPath}`);
    if (error.status === 401 || error.status === 403)
      return new BackendError(`the server at ${this.url} refused the API key (HTTP ${error.status}): set [backends.vllm] api_key or $CARO_VLLM_API_KEY`);
    return new BackendError(`the server at ${this.url} answered HTTP ${error.status}: ${serverMessage(error.body)}`);
  }

  /** With no model configured, the server's first listed model. */
  private async resolveModel(): Promise<string> {
    if (this.model) return this.model;
    let response: Response;
    try {
      response = await fetch(`${this.url}/v1/models`, { headers: this.headers, signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (error) {
      throw (error as Error).name === "TimeoutError" ? new HttpFailure("timeout", "timed out") : networkFailure(error);
    }
    if (response.status === 401 || response.status === 403) throw new HttpFailure("status", `HTTP ${response.status}`, response.status, await response.text());
    const list = response.ok ? ((await response.json().catch(() => null)) as { data?: { id?: string }[] } | null) : null;
    const id = list?.data?.[0]?.id;
    if (!id) throw new BackendError(`the server at ${this.url} lists no model at /v1/models: set [backends.vllm] model in ${this.configPath}`);
    this.model = id;
    return id;
  }

  private async stream(request: GenerateRequest, withSchema: boolean, started: number) {
    const body: Record<string, unknown> = {
      model: this.model,
      messages: chatMessages(request.prompt),
      stream: true,
      stream_options: { include_usage: true },
      temperature: TEMPERATURE,
      seed: request.seed,
      max_tokens: MAX_TOKENS,
    };
    if (withSchema) body.response_format = { type: "json_schema", json_schema: { name: "caro_answer", schema: request.schema, strict: true } };
    let text = "";
    let firstToken: number | null = null;
    let usage: ChatChunk["usage"] = null;
    let done = false;
    for await (const data of sseData(postStream(`${this.url}/v1/chat/completions`, body, { headers: this.headers, signal: request.signal, timeoutMs: this.timeoutMs }))) {
      if (data === "[DONE]") {
        done = true;
        break;
      }
      let chunk: ChatChunk;
      try {
        chunk = JSON.parse(data) as ChatChunk;
      } catch {
        throw new BackendError(`the server at ${this.url} sent a stream caro cannot read: ${JSON.stringify(data.slice(0, 80))}`);
      }
      if (chunk.error) throw new BackendError(`the server at ${this.url} failed: ${chunk.error.message ?? "unknown error"}`);
      const piece = chunk.choices?.[0]?.delta?.content ?? "";
      if (piece) {
        firstToken ??= performance.now() - started;
        text += piece;
        request.onEvent?.({ type: "text", text: piece });
      }
      if (chunk.usage) usage = chunk.usage;
    }
    if (!done) throw new BackendError(`the server at ${this.url} closed the stream before [DONE]`);
    return { text, firstToken, usage };
  }

  async generate(request: GenerateRequest): Promise<RawAnswer> {
    const started = performance.now();
    request.onEvent?.({ type: "generating" });
    let result;
    try {
      await this.resolveModel();
      try {
        result = await this.stream(request, true, started);
      } catch (error) {
        // Older servers refuse json_schema response formats: ask again without one and parse the prose.
        if (!(error instanceof HttpFailure && error.status === 400)) throw error;
        result = await this.stream(request, false, started);
      }
    } catch (error) {
      throw this.explain(error);
    }
    return {
      text: result.text,
      model: this.model,
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
