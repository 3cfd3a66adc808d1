// One answer, start to finish: build the prompt, pick a backend, generate, read the draft, check
// it (retrying). The daemon and `--no-daemon` both answer through answerRequest; the process that
// shows the answer rates it (answer/rating.ts).
// A small model is often wrong, so a request may be for another candidate (commands already
// shown), a revision, a fix, or an explanation: each is answered here, and each command answered
// is checked and rated like any other.

import type { LoadedConfig } from "../config/load.js";
import { BackendError } from "../errors.js";
import { contextLines, destinationOf } from "../grounding/context.js";
import { BROKEN_TEXT_REASON, type Grounding, groundingFindings, holdsBrokenText } from "../grounding/checks.js";
import type { PromptRequest } from "../prompt/build.js";
import type { ChatPrompt } from "../prompt/chat.js";
import { BackendPool } from "../backends/pool.js";
import { selectBackend } from "../backends/select.js";
import { type Backend, type BackendEvent, type RawAnswer, SAMPLING } from "../backends/types.js";
import { draftProblem } from "./check.js";
import {
  draftSchema,
  explanationSchema,
  MAX_COMMAND_EXPLANATION_LENGTH,
  maxTextLengthFor,
  draftOf,
  parseExplanation,
  type Draft,
} from "./draft.js";
import { requestPrompt } from "./request-prompt.js";
import type { UnratedAnswer, UserRequest } from "./types.js";

export interface AnswerOptions {
  /** The config the request runs under: the asking client's, read afresh. */
  config: LoadedConfig;
  signal?: AbortSignal;
  onEvent?: (event: BackendEvent) => void;
  /** Backends to reuse (the daemon's); without one, each request makes its own and closes it. */
  pool?: BackendPool;
  /** The daemon's answers to earlier identical requests, asked once the backend that would answer is known. */
  cache?: { lookup(backend: Backend): Promise<UnratedAnswer | undefined> };
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
  /** Reading the drafts, over every attempt. */
  parseMs: number;
  /** Checking them against the machine, over every attempt. */
  checkMs: number;
  /** What is still wrong with the draft on this machine after the one more try; empty when nothing. */
  warnings: string[];
  /** A check failed and the model was asked once more. */
  checkRetry: boolean;
}

/** Stands for a draft that repeats a command to avoid. */
const REPEAT = "repeat";

/** The usable draft in a backend's reply, or why there is none: REPEAT, or what is wrong with it. */
async function draftOrProblem(
  raw: RawAnswer,
  request: UserRequest,
  avoided: string[],
  maxCommandLength: number,
): Promise<Draft | string> {
  let draft: Draft;
  try {
    draft = draftOf(raw);
  } catch (error) {
    return (error as Error).message;
  }
  if (avoided.some((command) => sameCommand(command, draft.command))) return REPEAT;
  return (await draftProblem(draft, request.shell, maxCommandLength)) ?? draft;
}

/** How a request's answers are checked against the machine it came from; null when checks are off. */
function groundingOf(request: UserRequest, options: AnswerOptions): Grounding | null {
  if (!options.config.settings["context.checks"]) return null;
  return {
    shell: request.shell,
    cwd: request.cwd,
    env: { ...request.env, PATH: request.env.PATH ?? process.env.PATH },
    names: request.context?.names,
  };
}

/**
 * What is wrong with a command on this machine: broken text (in it or its explanation), missing programs, unknown
 * options.
 */
async function findingsOf(command: string, explanation: string, grounding: Grounding | null): Promise<string[]> {
  if (holdsBrokenText(command) || holdsBrokenText(explanation)) return [BROKEN_TEXT_REASON];
  if (grounding === null) return [];
  return (await groundingFindings(command, grounding)).map((finding) => finding.reason);
}

/**
 * Asks for a usable draft, retrying unusable ones (ATTEMPTS in all), and checks it against the
 * machine. A draft that fails a check is asked for once more, the model told why in the last
 * message (the fixed prefix stays byte for byte); if that one fails too, it is the answer, with
 * warnings. Broken text is never an answer: twice, and the request fails.
 */
async function generateDraft(
  backend: Backend,
  firstPrompt: ChatPrompt,
  request: UserRequest,
  options: AnswerOptions,
  promptTelling: (failed: NonNullable<PromptRequest["failed"]>) => ChatPrompt,
): Promise<Generated> {
  const maxCommandLength = options.config.settings.max_command_length;
  const schema = draftSchema(Boolean(request.flags.explain), maxCommandLength);
  const avoided = avoidedCommands(request);
  const grounding = groundingOf(request, options);
  let attempts = avoided.length > 0 ? ATTEMPTS_AVOIDING : ATTEMPTS;
  const shownCount = request.shown?.length ?? 0;
  let prompt = firstPrompt;
  let problem = "";
  let repeats = 0;
  let parseMs = 0;
  let checkMs = 0;
  let retried = false;
  let broken = 0;
  /** The draft that failed a check, kept to be the answer if nothing better comes. */
  let failedCheck: { draft: Draft; raw: RawAnswer; warnings: string[] } | undefined;
  const result = (found: { draft: Draft; raw: RawAnswer; warnings: string[] }, tries: number): Generated => ({
    ...found,
    attempts: tries,
    parseMs: Math.round(parseMs),
    checkMs: Math.round(checkMs),
    checkRetry: retried,
  });
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
    const found = await draftOrProblem(raw, request, avoided, maxCommandLength);
    const checkStart = performance.now();
    parseMs += checkStart - parseStart;
    const findings = typeof found === "string" ? [] : await findingsOf(found.command, found.explanation, grounding);
    checkMs += performance.now() - checkStart;
    if (typeof found !== "string" && findings.length === 0) return result({ draft: found, raw, warnings: [] }, i + 1);
    if (found === REPEAT) {
      repeats++;
      // Told why its command fails here, the model gave it again: that one is the answer, with warnings.
      if (failedCheck) return result(failedCheck, i + 1);
      continue;
    }
    if (typeof found === "string") {
      problem = found;
      continue;
    }
    if (findings[0] === BROKEN_TEXT_REASON) {
      problem = BROKEN_TEXT_REASON;
      if (++broken === 2) break;
    } else {
      // Asked once more, the model could do no better: this one is the answer, with warnings.
      if (failedCheck) return result({ draft: found, raw, warnings: findings }, i + 1);
      failedCheck = { draft: found, raw, warnings: findings };
      avoided.push(found.command);
    }
    // The one more try after a failed check comes on top of the tries for unusable drafts.
    if (!retried) attempts++;
    retried = true;
    options.onEvent?.({ type: "recheck", reasons: findings });
    prompt = promptTelling({ command: found.command, reasons: findings });
  }
  if (failedCheck) return result(failedCheck, attempts);
  if (broken === 2)
    throw new BackendError(
      "the model wrote broken characters (U+FFFD) twice, not a command; try again, or try a larger model",
    );
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
      if (holdsBrokenText(explanation)) throw new BackendError(BROKEN_TEXT_REASON);
      return { explanation, raw, attempts: i + 1, parseMs: Math.round(performance.now() - parseStart) };
    } catch (error) {
      problem = (error as Error).message;
    }
  }
  throw new BackendError(`the model gave no explanation in ${ATTEMPTS} tries: ${problem}; try a larger model`);
}

/** The checked answer to one request, unrated: the process that shows it rates it. */
export async function answerRequest(request: UserRequest, options: AnswerOptions): Promise<UnratedAnswer> {
  const started = performance.now();
  const pool = options.pool ?? new BackendPool();
  let release: () => void = () => undefined;
  const { settings } = options.config;
  try {
    const { backend, passedOver, ...held } = await selectBackend(options.config, pool);
    release = held.release;
    const selectMs = Math.round(performance.now() - started);
    options.onEvent?.({ type: "selected", backend: backend.name, passedOver });
    const remembered = await options.cache?.lookup(backend);
    if (remembered) {
      const timings = { total_ms: Math.round(performance.now() - started), select_ms: selectMs };
      return { ...remembered, passed_over: passedOver, cached: true, timings };
    }
    const promptStart = performance.now();
    // What caro adds on its own is redacted as the destination requires; the request goes as typed.
    const destination = destinationOf(backend.name, settings);
    const { prompt, added, telling } = requestPrompt(request, settings, destination.local);
    const promptMs = Math.round(performance.now() - promptStart);
    options.onEvent?.({ type: "context", to: destination.to, redacting: added.redacting, lines: contextLines(added) });
    // Explain answers for the user's own command, exactly as given: only the words are the model's.
    const { command, explanation, raw, attempts, parseMs, checkMs, warnings, checkRetry } =
      request.intent?.kind === "explain"
        ? await explainRequest(backend, prompt, request, options)
        : await generateDraft(backend, prompt, request, options, telling).then(({ draft, ...rest }) => ({
            ...draft,
            ...rest,
          }));
    return {
      command,
      explanation,
      backend: backend.name,
      model: raw.model,
      gpu: raw.gpu,
      timings: {
        total_ms: Math.round(performance.now() - started),
        attempts,
        check_retries: checkRetry ? 1 : 0,
        select_ms: selectMs,
        prompt_ms: promptMs,
        parse_ms: parseMs,
        check_ms: checkMs,
        ...raw.timings,
      },
      passed_over: passedOver,
      prefix_cache: raw.prefix ?? null,
      cached: false,
      warnings,
    };
  } finally {
    release();
    if (!options.pool) await pool.closeAll();
  }
}

/** Explains the user's own command, and reports what is wrong with it here, as `caro check` does. */
async function explainRequest(backend: Backend, prompt: ChatPrompt, request: UserRequest, options: AnswerOptions) {
  const generated = await generateExplanation(backend, prompt, request, options);
  const checkStart = performance.now();
  const grounding = groundingOf(request, options);
  const findings = grounding ? await groundingFindings(request.words, grounding) : [];
  return {
    command: request.words,
    ...generated,
    checkMs: Math.round(performance.now() - checkStart),
    warnings: findings.map((finding) => finding.reason),
    checkRetry: false,
  };
}
