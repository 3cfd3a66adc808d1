// `--no-daemon`: the same pipeline the daemon runs, in this process, with backends that end with it.
// This process shows the answer, so it rates it, as a client rates what a daemon found.

import { answerRequest } from "../answer/pipeline.js";
import { rateAnswer } from "../answer/rating.js";
import type { Asker } from "../answer/types.js";
import { loadRequestConfig } from "../config/load.js";

export const askInProcess: Asker = async (request, options = {}) => {
  // This process's own environment, whole: the request's env is the part forwarded to a daemon.
  const config = loadRequestConfig(request.flags, process.env);
  for (const text of config.warnings) options.onEvent?.({ type: "warning", text });
  const found = await answerRequest(request, { config, signal: options.signal, onEvent: options.onEvent });
  const rateStart = performance.now();
  const rated = await rateAnswer(found, request, config.settings["safety.level"]);
  rated.answer.timings = { ...rated.answer.timings, rate_ms: Math.round(performance.now() - rateStart) };
  return rated;
};
