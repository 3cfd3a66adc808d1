import type { LoadedConfig } from "../config/load.js";
import { BackendError } from "../errors.js";
import { buildPrompt } from "../prompt/build.js";
import { detectContext, type Shell } from "../prompt/context.js";
import { answerSchema, parseAnswer, type Answer } from "../prompt/answer.js";
import { rateCommand, type Risk } from "../safety/rate.js";
import { checkSyntax } from "../safety/syntax.js";
import { commandProblem } from "../safety/command-check.js";
import { BackendPool } from "./pool.js";
import { selectBackend } from "./select.js";
import { maxTextLengthFor, type Backend, type BackendEvent, type PassedOver, type RawAnswer } from "./types.js";

export interface RequestOptions {
  request: string;
  shell: Shell;
  config: LoadedConfig;
  explain: boolean;
  verbose: boolean;
  /** Where the user is: goes into the prompt, and decides how risky `rm -rf *` is. */
  cwd: string;
  signal?: AbortSignal;
  onEvent?: (event: BackendEvent) => void;
  /** Backends to reuse (the daemon's); without one, each request makes its own and closes it. */
  pool?: BackendPool;
}

/** What `caro --json` prints. */
export interface CaroAnswer {
  command: string;
  explanation: string;
  risk: Risk;
  reasons: string[];
  backend: string;
  model: string;
  gpu: string | false | null;
  timings: Record<string, number | null>;
  /** Under auto: the backends tried first, and why each could not serve. */
  passed_over: PassedOver[];
  /** Embedded: where the evaluated system prompt came from (memory, disk, evaluated, off); null for servers. */
  prefix_cache: string | null;
  /** This answer came from the daemon's cache of identical requests. */
  cached: boolean;
}

const ATTEMPTS = 2;

/** Why an answer cannot be used, or null when it can. */
async function problemWith(answer: Answer, shell: Shell, maxLength: number): Promise<string | null> {
  const problem = commandProblem(answer.command, maxLength);
  if (problem) return problem;
  const syntax = await checkSyntax(answer.command, shell);
  return syntax.ok ? null : `${JSON.stringify(answer.command.slice(0, 60))} ${syntax.reason}`;
}

async function attempt(backend: Backend, options: RequestOptions): Promise<{ answer: Answer; raw: RawAnswer; attempts: number }> {
  const prompt = buildPrompt(detectContext(options.shell, options.cwd), options.request);
  const schema = answerSchema(options.explain, options.config.settings.max_command_length);
  let problem = "";
  for (let i = 0; i < ATTEMPTS; i++) {
    const raw = await backend.generate({
      prompt,
      schema,
      seed: i + 1,
      signal: options.signal,
      onEvent: options.onEvent,
      verbose: options.verbose,
      maxTextLength: maxTextLengthFor(options.config.settings.max_command_length),
    });
    let answer: Answer;
    try {
      answer = parseAnswer(raw.text);
    } catch (error) {
      problem = (error as Error).message;
      continue;
    }
    const found = await problemWith(answer, options.shell, options.config.settings.max_command_length);
    if (found === null) return { answer, raw, attempts: i + 1 };
    problem = found;
  }
  throw new BackendError(`the model gave no usable command in ${ATTEMPTS} tries: ${problem}; rephrase the request or try a larger model`);
}

/** One request, start to finish: prompt, backend, parse, check, retry once, rate. */
export async function answerRequest(options: RequestOptions): Promise<CaroAnswer> {
  const started = performance.now();
  const pool = options.pool ?? new BackendPool();
  try {
    const { backend, passedOver } = await selectBackend(options.config, pool);
    options.onEvent?.({ type: "selected", backend: backend.name, passedOver });
    const { answer, raw, attempts } = await attempt(backend, options);
    const rating = await rateCommand(answer.command, options.shell, options.cwd);
    return {
      command: answer.command,
      explanation: answer.explanation,
      risk: rating.risk,
      reasons: rating.reasons,
      backend: backend.name,
      model: raw.model,
      gpu: raw.gpu,
      timings: { total_ms: Math.round(performance.now() - started), attempts, ...raw.timings },
      passed_over: passedOver,
      prefix_cache: raw.prefix ?? null,
      cached: false,
    };
  } finally {
    if (!options.pool) await pool.closeAll();
  }
}
