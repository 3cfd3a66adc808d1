import type { Settings } from "../config/schema.js";
import { BackendError } from "../errors.js";
import { chatMessages } from "../prompt/chat.js";
import { checkTextLength, getJson, HttpFailure, lines, postStream, serverMessage } from "./http.js";
import { inertExcerpt } from "../text/inert.js";
import { streamByteLimit } from "./http.js";
import { type Backend, type GenerateRequest, type RawAnswer, SAMPLING } from "./types.js";

/** Is an Ollama server answering? A short GET, so `auto` can move on quickly when none is. */
export async function ollamaAnswers(host: string, timeoutMs = 300): Promise<boolean> {
  const version = (await getJson(`${host}/api/version`, timeoutMs)) as { version?: unknown } | null;
  return typeof version?.version === "string";
}

interface OllamaChunk {
  message?: { content?: string };
  done?: boolean;
  error?: string;
  prompt_eval_count?: number;
  eval_count?: number;
  total_duration?: number;
  load_duration?: number;
}

/** Ollama's /api/chat, streamed, with the answer held to the JSON schema (Ollama's structured outputs). */
export class OllamaBackend implements Backend {
  readonly name = "ollama";
  private readonly host: string;
  private readonly model: string;
  private readonly timeoutMs: number;

  constructor(
    settings: Settings,
    private readonly configPath: string,
  ) {
    this.host = settings["backends.ollama.host"];
    this.model = settings["backends.ollama.model"];
    this.timeoutMs = settings["backends.ollama.timeout"] * 1000;
  }

  private describeFailure(error: unknown): Error {
    if (!(error instanceof HttpFailure)) return error as Error;
    const timeout = `raise [backends.ollama] timeout in ${this.configPath}`;
    switch (error.kind) {
      case "refused":
        return new BackendError(`Ollama is not running at ${this.host}: start it with "ollama serve"`);
      case "network":
        return new BackendError(
          `cannot reach Ollama at ${this.host} (${error.message}): check [backends.ollama] host or $OLLAMA_HOST`,
        );
      case "dropped":
        return new BackendError(
          `Ollama at ${this.host} closed the connection ${error.message}: see its log, then ask again`,
        );
      case "timeout":
        return new BackendError(`Ollama did not answer within ${this.timeoutMs / 1000} s: ${timeout}`);
      case "slow":
        return new BackendError(
          `Ollama started answering but did not finish within another ${this.timeoutMs / 1000} s: ${timeout}`,
        );
      case "too-long":
        return new BackendError(
          `Ollama's answer ran past ${error.message}, longer than any command caro takes, so caro stopped reading it ` +
            `(max_command_length in ${this.configPath} sets the limit)`,
        );
    }
    const message = serverMessage(error.body);
    if (error.status === 404 || /model .*not found/i.test(message))
      return new BackendError(`Ollama has no model "${this.model}": run "ollama pull ${this.model}"`);
    return new BackendError(`Ollama answered HTTP ${error.status}: ${message}`);
  }

  async generate(request: GenerateRequest): Promise<RawAnswer> {
    const started = performance.now();
    let firstToken: number | null = null;
    let text = "";
    let final: OllamaChunk | undefined;
    const body = {
      model: this.model,
      messages: chatMessages(request.prompt),
      format: request.schema,
      stream: true,
      options: {
        temperature: request.temperature ?? SAMPLING.temperature,
        seed: request.seed,
        num_predict: SAMPLING.maxTokens,
      },
    };
    request.onEvent?.({ type: "generating" });
    try {
      const maxText = request.maxTextLength;
      const stream = postStream(`${this.host}/api/chat`, body, {
        signal: request.signal,
        timeoutMs: this.timeoutMs,
        maxBytes: streamByteLimit(maxText),
      });
      for await (const line of lines(stream)) {
        let chunk: OllamaChunk;
        try {
          chunk = JSON.parse(line) as OllamaChunk;
        } catch {
          throw new BackendError(`Ollama sent a reply caro cannot read: ${JSON.stringify(inertExcerpt(line, 80))}`);
        }
        if (chunk.error)
          throw new BackendError(`Ollama failed: ${inertExcerpt(String(chunk.error)) || "(no details)"}`);
        const piece = chunk.message?.content ?? "";
        if (piece) {
          firstToken ??= performance.now() - started;
          text += piece;
          checkTextLength(text, maxText);
          request.onEvent?.({ type: "text", text: piece });
        }
        if (chunk.done) final = chunk;
      }
    } catch (error) {
      throw this.describeFailure(error);
    }
    if (!final) throw new BackendError("Ollama closed the connection before finishing its answer");
    return {
      text,
      model: this.model,
      gpu: null,
      timings: {
        first_token_ms: firstToken === null ? null : Math.round(firstToken),
        generate_ms: Math.round(performance.now() - started),
        prompt_tokens: final.prompt_eval_count ?? null,
        generated_tokens: final.eval_count ?? null,
      },
    };
  }

  /** The server, the model's name and its digest (a model pulled again under its name is another). */
  async answerer(): Promise<string | null> {
    const tags = (await getJson(`${this.host}/api/tags`, 1000)) as {
      models?: { name?: unknown; digest?: unknown }[];
    } | null;
    if (!tags) return null;
    const names = [this.model, `${this.model}:latest`];
    const digest = tags.models?.find((m) => names.includes(String(m?.name)))?.digest;
    return JSON.stringify([this.host, this.model, typeof digest === "string" ? digest : ""]);
  }

  async close(): Promise<void> {}
}
