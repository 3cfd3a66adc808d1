// One answer, start to finish: build the prompt, pick a backend, generate, read the draft, check
// it (retrying), rate it. The daemon and `--no-daemon` both answer through answerRequest.
// A small model is often wrong, so a request may be for another candidate (commands already
// shown), a revision, a fix, or an explanation: each is answered here, and each command answered
// is checked and rated like any other.

import type { LoadedConfig } from "../config/load.js";
import { BackendError } from "../errors.js";
import { buildPrompt, type ChatPrompt } from "../prompt/build.js";
import { detectContext } from "../prompt/context.js";
import { rateCommand } from "../safety/rate.js";
import { BackendPool } from "../backends/pool.js";
import { selectBackend } from "../backends/select.js";
import { type Backend, type BackendEvent, type RawAnswer, SAMPLING } from "../backends/types.js";
import { draftProblem } from "./check.js";
import {
  draftSchema,
  explanationSchema,
  MAX_COMMAND_EXPLANATION_LENGTH,
  maxTextLengthFor,
  parseDraft,
  parseExplanation,
  type Draft,
} from "./draft.js";
import type { Answer, UserRequest } from "./types.js";

export interface AnswerOptions {
  /** The config the request runs under: the asking client's, read afresh. */
  config: LoadedConfig;
  signal?: AbortSignal;
  onEvent?: (event: BackendEvent) => void;
  /** Backends to reuse (the daemon's); without one, each request makes its own and closes it. */
  pool?: BackendPool;
}

/** Tries for a usable command; one more when commands must be avoided, as a repeat also costs a try. */
const ATTEMPTS = 2;
const ATTEMPTS_AVOIDING = 3;
/** How far each shown command, and each repeat of one, warms the sampling: enough to leave the likeliest answer. */
const WARMER_PER_SHOWN = 0.25;
const WARMER_PER_REPEAT = 0.3;
const HOTTEST = 1.2;

/** Compared as the user sees them: surrounding whitespace is not a difference. */
const sameCommand = (a: string, b: string) => a.trim() === b.trim();

/**
 * Commands the answer must not be: those already shown, and for a revision or a fix the command
 * it starts from (handing that back unchanged is no answer).
 */
function avoidedCommands(request: UserRequest): string[] {
  const avoided = [...(request.shown ?? [])];
  const intent = request.intent;
  if (intent?.kind === "refine" || intent?.kind === "fix") avoided.push(intent.command);
  return avoided.filter((command) => command.trim() !== "");
}

/**
 * The draw for one attempt. A plain request keeps the default sampling; another candidate gets a
 * seed and temperature of its own per count of shown commands (so each Ctrl-G draws differently on
 * every backend, even one that ignores seeds), and each repeat warms it further.
 */
function sampling(shownCount: number, attempt: number, repeats: number): { seed: number; temperature?: number } {
  const seed = shownCount * ATTEMPTS_AVOIDING + attempt + 1;
  if (shownCount === 0 && repeats === 0) return { seed };
  const warmer = SAMPLING.temperature + WARMER_PER_SHOWN * shownCount + WARMER_PER_REPEAT * repeats;
  return { seed, temperature: Math.round(Math.min(HOTTEST, warmer) * 100) / 100 };
}

interface Generated {
  draft: Draft;
  raw: RawAnswer;
  attempts: number;
  /** Reading and checking the drafts, over every attempt. */
  parseMs: number;
}

/** Stands for a draft that repeats a command to avoid. */
const REPEAT = "repeat";

/** The usable draft in a model's text, or why there is none: REPEAT, or what is wrong with it. */
async function draftOrProblem(
  text: string,
  request: UserRequest,
  avoided: string[],
  maxCommandLength: number,
): Promise<Draft | string> {
  let draft: Draft;
  try {
    draft = parseDraft(text);
  } catch (error) {
    return (error as Error).message;
  }
  if (avoided.some((command) => sameCommand(command, draft.command))) return REPEAT;
  return (await draftProblem(draft, request.shell, maxCommandLength)) ?? draft;
}

async function generateDraft(
  backend: Backend,
  prompt: ChatPrompt,
  request: UserRequest,
  options: AnswerOptions,
): Promise<Generated> {
  const maxCommandLength = options.config.settings.max_command_length;
  const schema = draftSchema(Boolean(request.flags.explain), maxCommandLength);
  const avoided = avoidedCommands(request);
  const attempts = avoided.length > 0 ? ATTEMPTS_AVOIDING : ATTEMPTS;
  const shownCount = request.shown?.length ?? 0;
  let problem = "";
  let repeats = 0;
  let parseMs = 0;
  for (let i = 0; i < attempts; i++) {
    const raw = await backend.generate({
      prompt,
      schema,
      ...sampling(shownCount, i, repeats),
      signal: options.signal,
      onEvent: options.onEvent,
      verbose: Boolean(request.flags.verbose),
      maxTextLength: maxTextLengthFor(maxCommandLength),
    });
    const parseStart = performance.now();
    const found = await draftOrProblem(raw.text, request, avoided, maxCommandLength);
    parseMs += performance.now() - parseStart;
    if (typeof found !== "string") return { draft: found, raw, attempts: i + 1, parseMs: Math.round(parseMs) };
    if (found === REPEAT) repeats++;
    else problem = found;
  }
  if (repeats === attempts)
    throw new BackendError(
      `the model gave no new command in ${attempts} tries; rephrase the request or try a larger model`,
    );
  throw new BackendError(
    `the model gave no usable command in ${attempts} tries: ${problem}; rephrase the request or try a larger model`,
  );
}

/** The model's explanation of the request's command, read from its JSON; a reply it cannot read is retried once. */
async function generateExplanation(
  backend: Backend,
  prompt: ChatPrompt,
  request: UserRequest,
  options: AnswerOptions,
): Promise<{ explanation: string; raw: RawAnswer; attempts: number; parseMs: number }> {
  let problem = "";
  for (let i = 0; i < ATTEMPTS; i++) {
    const raw = await backend.generate({
      prompt,
      schema: explanationSchema(),
      seed: i + 1,
      signal: options.signal,
      onEvent: options.onEvent,
      verbose: Boolean(request.flags.verbose),
      maxTextLength: MAX_COMMAND_EXPLANATION_LENGTH * 2 + 200,
    });
    const parseStart = performance.now();
    try {
      const explanation = parseExplanation(raw.text);
      return { explanation, raw, attempts: i + 1, parseMs: Math.round(performance.now() - parseStart) };
    } catch (error) {
      problem = (error as Error).message;
    }
  }
  throw new BackendError(`the model gave no explanation in ${ATTEMPTS} tries: ${problem}; try a larger model`);
}

/** The checked, rated answer to one request. */
export async function answerRequest(request: UserRequest, options: AnswerOptions): Promise<Answer> {
  const started = performance.now();
  const pool = options.pool ?? new BackendPool();
  let release: () => void = () => undefined;
  try {
    const { backend, passedOver, ...held } = await selectBackend(options.config, pool);
    release = held.release;
    const selectMs = Math.round(performance.now() - started);
    options.onEvent?.({ type: "selected", backend: backend.name, passedOver });
    const promptStart = performance.now();
    const prompt = buildPrompt(detectContext(request.shell, request.cwd), request);
    const promptMs = Math.round(performance.now() - promptStart);
    // Explain answers for the user's own command, exactly as given: only the words are the model's.
    const { command, explanation, raw, attempts, parseMs } =
      request.intent?.kind === "explain"
        ? { command: request.request, ...(await generateExplanation(backend, prompt, request, options)) }
        : await generateDraft(backend, prompt, request, options).then(({ draft, ...rest }) => ({ ...draft, ...rest }));
    const rateStart = performance.now();
    const rating = await rateCommand(command, request.shell, request.cwd);
    const rateMs = Math.round(performance.now() - rateStart);
    return {
      command,
      explanation,
      risk: rating.risk,
      reasons: rating.reasons,
      backend: backend.name,
      model: raw.model,
      gpu: raw.gpu,
      timings: {
        total_ms: Math.round(performance.now() - started),
        attempts,
        select_ms: selectMs,
        prompt_ms: promptMs,
        parse_ms: parseMs,
        ...raw.timings,
        rate_ms: rateMs,
      },
      passed_over: passedOver,
      prefix_cache: raw.prefix ?? null,
      cached: false,
    };
  } finally {
    release();
    if (!options.pool) await pool.closeAll();
  }
}
