import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { basename, join } from "node:path";
import { MessageChannel } from "node:worker_threads";
import { Piscina } from "piscina";
import { cacheHome, type Env } from "../config/paths.js";
import type { Settings } from "../config/schema.js";
import { BackendError, InterruptedError, ModelError, RequestTooLongError } from "../errors.js";
import { hfModelOf } from "../models/hf.js";
import { ensureModelFile } from "../models/resolve.js";
import { CpuLoad } from "../worker/cpu-load.js";
import {
  modelGoneMessage,
  type CloseTask,
  type InferenceOutcome,
  type InferenceTask,
  type ModelOptions,
  type WorkerEvent,
} from "../worker/protocol.js";
import { oneLineRequest } from "./one-line.js";
import { type Backend, type GenerateRequest, type RawAnswer, SAMPLING } from "./types.js";

const WORKER_FILE = new URL("../worker/inference-worker.js", import.meta.url).href;

/** llama.cpp in a piscina pool: each worker keeps its own copy of the model loaded between tasks. */
export class EmbeddedBackend implements Backend {
  readonly name = "embedded";
  private pool: Piscina | undefined;
  private modelPath: string | undefined;
  /** Watches the machine's load while the model is loaded, when threads are left to caro. */
  private cpuLoad: CpuLoad | undefined;

  constructor(
    private readonly settings: Settings,
    private readonly env: Env = process.env,
  ) {}

  private modelOptions(path: string): ModelOptions {
    const s = this.settings;
    return {
      path,
      gpu: s["backends.embedded.gpu"],
      gpuLayers: s["backends.embedded.gpu_layers"],
      // node-llama-cpp's own default is max(4, cores), which oversubscribes small machines badly.
      threads: s["backends.embedded.threads"] || availableParallelism(),
      adaptiveThreads: s["backends.embedded.threads"] === 0,
      contextSize: s["backends.embedded.context_size"],
    };
  }

  private getPool(): Piscina {
    const workers = this.settings["backends.embedded.workers"];
    this.pool ??= new Piscina({
      filename: WORKER_FILE,
      minThreads: workers,
      maxThreads: workers,
      concurrentTasksPerWorker: 1,
      idleTimeout: Number.MAX_SAFE_INTEGER,
      // The worker's JavaScript is small (llama.cpp's memory is native): a small young generation
      // keeps the daemon's resident size near the model's own (measured in npm run bench).
      resourceLimits: { maxYoungGenerationSizeMb: 4 },
    });
    return this.pool;
  }

  /** A file found earlier and gone now: a downloaded model is fetched again, a path of the user's is reported. */
  private forgetVanishedModel(): void {
    if (this.modelPath === undefined || existsSync(this.modelPath)) return;
    const spec = this.settings["backends.embedded.model"];
    if (!hfModelOf(spec)) throw new ModelError(modelGoneMessage(this.modelPath));
    this.modelPath = undefined;
  }

  /**
   * Loads the model and readies the prompt's fixed part (from its saved state, or evaluated and
   * saved) and the schema's grammar, answering nothing: what a request would otherwise do first.
   * A request sent meanwhile waits for the same work in the worker, not for a second copy.
   */
  async warm(prompt: GenerateRequest["prompt"], schema: object): Promise<void> {
    const { outcome } = await this.runTask({ prompt, schema, seed: 1, maxTextLength: 0 }, true);
    if (!outcome.ok) throw new BackendError(`llama.cpp failed: ${outcome.message}`);
  }

  async generate(request: GenerateRequest): Promise<RawAnswer> {
    const { outcome, line, roundTripMs } = await this.runTask(request, false);
    if (!outcome.ok) {
      if (outcome.kind === "cancelled") throw new InterruptedError();
      if (outcome.kind === "model") throw new ModelError(outcome.message);
      if (outcome.kind === "too-long") throw new RequestTooLongError(outcome.message);
      throw new BackendError(`llama.cpp failed: ${outcome.message}`);
    }
    return {
      text: outcome.text,
      command: line ? outcome.text : undefined,
      model: basename(this.modelPath ?? ""),
      gpu: outcome.gpu,
      prefix: outcome.prefix,
      timings: {
        ...outcome.timings,
        // The way to the worker and back: piscina's queue, the structured clone, the thread hop.
        handoff_ms: roundTripMs - (outcome.timings.worker_ms ?? 0),
        prompt_tokens: outcome.tokens.prompt,
        generated_tokens: outcome.tokens.generated,
      },
    };
  }

  /** One task in the worker: a request, or (warmOnly) the work before its first token. */
  private async runTask(
    request: GenerateRequest,
    warmOnly: boolean,
  ): Promise<{ outcome: InferenceOutcome; line: boolean; roundTripMs: number }> {
    this.forgetVanishedModel();
    this.modelPath ??= await ensureModelFile(this.settings["backends.embedded.model"], {
      signal: request.signal,
      env: this.env,
      onProgress: (progress) => request.onEvent?.({ type: "download", ...progress }),
    });
    if (request.signal?.aborted) throw new InterruptedError();
    // Warming readies the same prompt and grammar a request will use, so its state is the one reused.
    const line = oneLineRequest(request.prompt, request.schema);
    const { port1, port2 } = new MessageChannel();
    port1.on("message", (event: WorkerEvent) =>
      request.onEvent?.(line && event.type === "text" ? { type: "command", text: event.text } : event),
    );
    const cancel = () => port1.postMessage("cancel");
    request.signal?.addEventListener("abort", cancel, { once: true });
    const model = this.modelOptions(this.modelPath);
    if (model.adaptiveThreads) this.cpuLoad ??= new CpuLoad();
    const task: InferenceTask = {
      type: "infer",
      model,
      prompt: line?.prompt ?? request.prompt,
      schema: request.schema,
      ...(line ? { gbnf: line.grammar } : {}),
      maxTokens: SAMPLING.maxTokens,
      threads: this.cpuLoad?.threadsFor(model.threads) ?? model.threads,
      temperature: request.temperature ?? SAMPLING.temperature,
      seed: request.seed,
      verbose: Boolean(request.verbose),
      prefixCacheDir: this.settings["backends.embedded.prefix_cache"]
        ? join(cacheHome(this.env), "caro", "prefix")
        : null,
      control: port2,
      warmOnly,
    };
    const sent = performance.now();
    try {
      const outcome: InferenceOutcome = await this.getPool().run(task, { transferList: [port2] as never });
      return { outcome, line: line !== null, roundTripMs: Math.round(performance.now() - sent) };
    } finally {
      request.signal?.removeEventListener("abort", cancel);
      port1.close();
    }
  }

  /**
   * Unloads the model and ends the workers. A cancelled request's llama.cpp work may still be
   * finishing in a worker, and terminating a worker mid-evaluation aborts the whole process: so
   * each worker first runs a close task that waits for its work and unloads its model.
   */
  async close(): Promise<void> {
    this.cpuLoad?.stop();
    this.cpuLoad = undefined;
    const pool = this.pool;
    this.pool = undefined;
    if (!pool) return;
    const workers = pool.threads.length;
    const arrived = new SharedArrayBuffer(4);
    const task: CloseTask = { type: "close", arrived, workers };
    await Promise.all(Array.from({ length: workers }, () => pool.run(task).catch(() => undefined)));
    await pool.destroy();
  }
}
