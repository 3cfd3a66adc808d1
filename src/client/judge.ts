// The client's own judgement of an answer from the daemon. The socket's folder is checked to be
// this user's alone, yet what comes over it is still data: the command is checked here, and rated
// here, the only time it is rated, under the safety level of this process's own config.

import type { AskResult, UnratedAnswer, UserRequest } from "../answer/types.js";
import { BackendError } from "../errors.js";
import { commandProblem } from "../safety/command-check.js";

const text = (value: unknown): string => (typeof value === "string" ? value : "");

/**
 * The reply's fields, each of the type it claims; anything else a daemon sends (a rating of its
 * own, say) is dropped. The protocol types the reply, yet it is read as unknown: the daemon's word.
 */
function answerFrom(reply: unknown): UnratedAnswer {
  const r = (typeof reply === "object" && reply !== null ? reply : {}) as Record<string, unknown>;
  if (typeof r.command !== "string")
    throw new BackendError("the caro daemon's answer has no command: try again, or run caro daemon restart");
  const timings = typeof r.timings === "object" && r.timings !== null ? r.timings : {};
  return {
    command: r.command,
    explanation: text(r.explanation),
    backend: text(r.backend),
    model: text(r.model),
    gpu: typeof r.gpu === "string" || r.gpu === false ? r.gpu : null,
    timings: Object.fromEntries(Object.entries(timings).filter(([, v]) => typeof v === "number" || v === null)),
    passed_over: Array.isArray(r.passed_over)
      ? r.passed_over.map((p: { backend?: unknown; reason?: unknown }) => ({
          backend: text(p?.backend),
          reason: text(p?.reason),
        }))
      : [],
    prefix_cache: typeof r.prefix_cache === "string" ? r.prefix_cache : null,
    cached: r.cached === true,
    // The daemon's findings about this machine: shown as its words, made inert where printed.
    warnings: Array.isArray(r.warnings)
      ? r.warnings.filter((w): w is string => typeof w === "string").slice(0, 16)
      : [],
  };
}

/**
 * Loads the rater and the config (started as the request goes out, so it overlaps the wait) and
 * returns what turns the daemon's reply into a checked, locally rated answer.
 */
export async function judgeHere(request: UserRequest): Promise<(reply: unknown) => Promise<AskResult>> {
  const [{ rateAnswer }, { loadRequestConfig }, { bashParser }] = await Promise.all([
    import("../answer/rating.js"),
    import("../config/load.js"),
    import("../safety/parser.js"),
  ]);
  const warming = bashParser();
  const config = loadRequestConfig(request.flags, request.env);
  await warming;
  const explaining = request.intent?.kind === "explain";
  return async (reply) => {
    const answer = answerFrom(reply);
    // An explanation is of the user's own command: a daemon that swapped it would have the user
    // read another command's words and rating.
    if (explaining && answer.command !== request.words)
      throw new BackendError(
        "refused the answer: the caro daemon explained another command than the one asked; run caro daemon restart",
      );
    const problem = explaining ? null : commandProblem(answer.command, config.settings.max_command_length);
    if (problem) throw new BackendError(`refused the answer: ${problem}`);
    return rateAnswer(answer, request, config.settings["safety.level"]);
  };
}
