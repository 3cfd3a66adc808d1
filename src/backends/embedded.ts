import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { basename, join } from "node:path";
import { MessageChannel, receiveMessageOnPort } from "node:worker_threads";
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
  type EstimateOutcome,
  type EstimateTask,
  type InferenceOutcome,
  type InferenceTask,
  type ModelOptions,
  type WorkerEvent,
} from "../worker/protocol.js";
import { oneLineRequest } from "./one-line.js";
import { type Backend, type GenerateRequest, type RawAnswer, SAMPLING } from "./types.js";

const WORKER_FILE = new URL("../worker/inference-worker.js", import.meta.url).href;

/** `work`'s outcome, or InterruptedError as soon as `signal` aborts; the work itself goes on. */
function unlessAborted<T>(work: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return work;
  if (signal.aborted) return Promise.reject(new InterruptedError());
  let onAbort = () => undefined as unknown;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(new InterruptedError());
    signal.addEventListener("abort", onAbort, { once: true });
  });
  return Promise.race([work, aborted]).finally(() => signal.removeEventListener("abort", onAbort));
}

/** What the owner of a copy (the daemon's BackendPool) is told, and asked, about it. */
export interface CopyHooks {
  /**
   * Called once before the copy is first loaded, with the RAM it will take: resolves once there is
   * room for it, or rejects (the request fails with that error, and the next one asks again).
   */
  admit?: (bytes: number, path: string) => Promise<void>;
}

/**
 * One copy of a model per worker, llama.cpp in a piscina pool, loaded by the first request and
 * kept between them. Only what loading depends on is fixed here (the model, its context, the
 * GPU, the workers): every request brings its own threads and prefix cache, so any number of
 * configs that differ only in those share this copy.
 */
export class ModelCopy {
  private pool: Piscina | undefined;
  private modelPath: string | undefined;
  private admitted: Promise<void> | undefined;
  /** Watches the machine's load while the model is loaded, when threads are left to caro. */
  private cpuLoad: CpuLoad | undefined;
  /** Times a worker loaded the model (not found it loaded): what a reload would show. */
  loads = 0;
  /** A worker has loaded it: its memory is in use now, not only promised. */
  resident = false;
  private closed = false;

  /** Its workers were started: it may hold llama.cpp, or be loading the model. */
  get started(): boolean {
    return this.pool !== undefined;
  }

  constructor(
    private readonly settings: Settings,
    private readonly hooks: CopyHooks = {},
  ) {}

  private modelOptions(path: string): ModelOptions {
    const s = this.settings;
    return {
      path,
      gpu: s["backends.embedded.gpu"],
      gpuLayers: s["backends.embedded.gpu_layers"],
      contextSize: s["backends.embedded.context_size"],
    };
  }

  private getPool(): Piscina {
    // Never met in the daemon, whose pool closes a copy only once no request holds it: a closed
    // copy stays closed rather than start workers that nobody would close.
    if (this.closed) throw new BackendError("this copy of the model was unloaded meanwhile: ask again");
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
    // Fetched again to the same place: the room admitted for it still holds.
    this.modelPath = undefined;
  }

  /** Asks the owner for room before the first load: every worker holds a copy of its own. */
  private admit(path: string): Promise<void> {
    const ask = this.hooks.admit;
    if (!ask) return Promise.resolve();
    this.admitted ??= (async () => {
      const task: EstimateTask = { type: "estimate", model: this.modelOptions(path) };
      const estimate: EstimateOutcome = await this.getPool().run(task);
      if (!estimate.ok)
        throw estimate.kind === "model"
          ? new ModelError(estimate.message)
          : new BackendError(`llama.cpp failed: ${estimate.message}`);
      await ask(estimate.bytes * this.settings["backends.embedded.workers"], path);
    })();
    this.admitted.catch(() => {
      this.admitted = undefined;
    });
    return this.admitted;
  }

  /**
   * One task in the worker: a request, or (warmOnly) the work before its first token, under
   * the settings of the config that asked (threads, prefix cache) and its environment.
   */
  async run(
    request: GenerateRequest,
    warmOnly: boolean,
    settings: Settings,
    env: Env,
  ): Promise<{ outcome: InferenceOutcome; line: boolean; roundTripMs: number; model: string }> {
    this.forgetVanishedModel();
    this.modelPath ??= await ensureModelFile(this.settings["backends.embedded.model"], {
      signal: request.signal,
      env,
      onProgress: (progress) => request.onEvent?.({ type: "download", ...progress }),
    });
    const path = this.modelPath;
    // Making room may wait for another model's requests to end: Ctrl-C must not.
    await unlessAborted(this.admit(path), request.signal);
    // Warming readies the same prompt and grammar a request will use, so its state is the one reused.
    const line = oneLineRequest(request.prompt, request.schema);
    const { port1, port2 } = new MessageChannel();
    const onEvent = (event: WorkerEvent) => {
      if (event.type === "loaded") {
        if (!event.cached) this.loads++;
        this.resident = true;
      }
      request.onEvent?.(line && event.type === "text" ? { type: "command", text: event.text } : event);
    };
    port1.on("message", onEvent);
    const cancel = () => port1.postMessage("cancel");
    request.signal?.addEventListener("abort", cancel, { once: true });
    // node-llama-cpp's own default is max(4, cores), which oversubscribes small machines badly.
    const most = settings["backends.embedded.threads"] || availableParallelism();
    if (settings["backends.embedded.threads"] === 0) this.cpuLoad ??= new CpuLoad();
    const task: InferenceTask = {
      type: "infer",
      model: this.modelOptions(path),
      prompt: line?.prompt ?? request.prompt,
      schema: request.schema,
      ...(line ? { gbnf: line.grammar } : {}),
      maxTokens: SAMPLING.maxTokens,
      threads: settings["backends.embedded.threads"] === 0 ? (this.cpuLoad?.threadsFor(most) ?? most) : most,
      temperature: request.temperature ?? SAMPLING.temperature,
      seed: request.seed,
      verbose: Boolean(request.verbose),
      prefixCacheDir: settings["backends.embedded.prefix_cache"] ? join(cacheHome(env), "caro", "prefix") : null,
      control: port2,
      warmOnly,
    };
    const sent = performance.now();
    try {
      const outcome: InferenceOutcome = await this.getPool().run(task, { transferList: [port2] as never });
      const roundTripMs = Math.round(performance.now() - sent);
      return { outcome, line: line !== null, roundTripMs, model: basename(path) };
    } finally {
      request.signal?.removeEventListener("abort", cancel);
      // The task's result comes on another channel than its events: ones still queued (a load just
      // before a failure) would be lost with the port, and the daemon's count of loads with them.
      for (let queued = receiveMessageOnPort(port1); queued; queued = receiveMessageOnPort(port1))
        onEvent(queued.message as WorkerEvent);
      port1.close();
    }
  }

  /**
   * Unloads the model and ends the workers. A cancelled request's llama.cpp work may still be
   * finishing in a worker, and terminating a worker mid-evaluation aborts the whole process: so
   * each worker first runs a close task that waits for its work and unloads its model.
   */
  async close(): Promise<void> {
    this.closed = true;
    this.cpuLoad?.stop();
    this.cpuLoad = undefined;
    this.resident = false;
    this.admitted = undefined;
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

/**
 * The embedded backend as one request (or one command) sees it: a copy of the model, its own or
 * shared, used under this config's settings.
 */
export class EmbeddedBackend implements Backend {
  readonly name = "embedded";
  private readonly copy: ModelCopy;
  /** Made its copy itself (a command of its own): closing it unloads the model. */
  private readonly owned: boolean;

  constructor(
    private readonly settings: Settings,
    private readonly env: Env = process.env,
    shared?: ModelCopy,
  ) {
    this.copy = shared ?? new ModelCopy(settings);
    this.owned = shared === undefined;
  }

  /**
   * Loads the model and readies the prompt's fixed part (from its saved state, or evaluated and
   * saved) and the schema's grammar, answering nothing: what a request would otherwise do first.
   * A request sent meanwhile waits for the same work in the worker, not for a second copy.
   */
  async warm(prompt: GenerateRequest["prompt"], schema: object): Promise<void> {
    const request = { prompt, schema, seed: 1, maxTextLength: 0 };
    const { outcome } = await this.copy.run(request, true, this.settings, this.env);
    if (!outcome.ok) throw new BackendError(`llama.cpp failed: ${outcome.message}`);
  }

  async generate(request: GenerateRequest): Promise<RawAnswer> {
    const { outcome, line, roundTripMs, model } = await this.copy.run(request, false, this.settings, this.env);
    if (!outcome.ok) {
      if (outcome.kind === "cancelled") throw new InterruptedError();
      if (outcome.kind === "model") throw new ModelError(outcome.message);
      if (outcome.kind === "too-long") throw new RequestTooLongError(outcome.message);
      throw new BackendError(`llama.cpp failed: ${outcome.message}`);
    }
    return {
      text: outcome.text,
      command: line ? outcome.text : undefined,
      model,
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

  /** Unloads the model when this backend made its copy; a shared copy is its owner's to close. */
  async close(): Promise<void> {
    if (this.owned) await this.copy.close();
  }
}
