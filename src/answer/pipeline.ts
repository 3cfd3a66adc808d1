// One answer, start to finish: build the prompt, pick a backend, generate, read the draft, check
// it (retrying once), rate it. The daemon and `--no-daemon` both answer through answerRequest.

import type { LoadedConfig } from "../config/load.js";
import { BackendError } from "../errors.js";
import { buildPrompt } from "../prompt/build.js";
import { detectContext } from "../prompt/context.js";
import { rateCommand } from "../safety/rate.js";
import { BackendPool } from "../backends/pool.js";
import { selectBackend } from "../backends/select.js";
import type { Backend, BackendEvent, RawAnswer } from "../backends/types.js";
import { draftProblem } from "./check.js";
import { draftSchema, maxTextLengthFor, parseDraft, type Draft } from "./draft.js";
import type { Answer, UserRequest } from "./types.js";

export interface AnswerOptions {
  /** The config the request runs under: the asking client's, read afresh. */
  config: LoadedConfig;
  signal?: AbortSignal;
  onEvent?: (event: BackendEvent) => void;
  /** Backends to reuse (the daemon's); without one, each request makes its own and closes it. */
  pool?: BackendPool;
}

const ATTEMPTS = 2;

async function generateDraft(
  backend: Backend,
  request: UserRequest,
  options: AnswerOptions,
): Promise<{ draft: Draft; raw: RawAnswer; attempts: number; phases: Record<string, number> }> {
  let lap = performance.now();
  const phases = { prompt_ms: 0, parse_ms: 0 };
  const since = () => {
    const now = performance.now();
    const ms = now - lap;
    lap = now;
    return ms;
  };
  const maxCommandLength = options.config.settings.max_command_length;
  const prompt = buildPrompt(detectContext(request.shell, request.cwd), request.request);
  const schema = draftSchema(Boolean(request.flags.explain), maxCommandLength);
  phases.prompt_ms = Math.round(since());
  let problem = "";
  for (let i = 0; i < ATTEMPTS; i++) {
    since();
    const raw = await backend.generate({
      prompt,
      schema,
      seed: i + 1,
      signal: options.signal,
      onEvent: options.onEvent,
      verbose: Boolean(request.flags.verbose),
      maxTextLength: maxTextLengthFor(maxCommandLength),
    });
    since();
    let draft: Draft;
    try {
      draft = parseDraft(raw.text);
    } catch (error) {
      problem = (error as Error).message;
      continue;
    }
    const found = await draftProblem(draft, request.shell, maxCommandLength);
    phases.parse_ms += Math.round(since());
    if (found === null) return { draft, raw, attempts: i + 1, phases };
    problem = found;
  }
  throw new BackendError(
    `the model gave no usable command in ${ATTEMPTS} tries: ${problem}; rephrase the request or try a larger model`,
  );
}

/** The checked, rated answer to one request. */
export async function answerRequest(request: UserRequest, options: AnswerOptions): Promise<Answer> {
  const started = performance.now();
  const pool = options.pool ?? new BackendPool();
  try {
    const { backend, passedOver } = await selectBackend(options.config, pool);
    const selectMs = Math.round(performance.now() - started);
    options.onEvent?.({ type: "selected", backend: backend.name, passedOver });
    const { draft, raw, attempts, phases } = await generateDraft(backend, request, options);
    const rateStart = performance.now();
    const rating = await rateCommand(draft.command, request.shell, request.cwd);
    const rateMs = Math.round(performance.now() - rateStart);
    return {
      command: draft.command,
      explanation: draft.explanation,
      risk: rating.risk,
      reasons: rating.reasons,
      backend: backend.name,
      model: raw.model,
      gpu: raw.gpu,
      timings: {
        total_ms: Math.round(performance.now() - started),
        attempts,
        select_ms: selectMs,
        ...phases,
        ...raw.timings,
        rate_ms: rateMs,
      },
      passed_over: passedOver,
      prefix_cache: raw.prefix ?? null,
      cached: false,
    };
  } finally {
    if (!options.pool) await pool.closeAll();
  }
}
