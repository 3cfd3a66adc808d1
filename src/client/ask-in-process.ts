// `--no-daemon`: the same pipeline the daemon runs, in this process, with backends that end with it.

import { answerRequest } from "../answer/pipeline.js";
import type { Asker } from "../answer/types.js";
import { loadRequestConfig } from "../config/load.js";

export const askInProcess: Asker = async (request, options = {}) => {
  // This process's own environment, whole: the request's env is the part forwarded to a daemon.
  const config = loadRequestConfig(request.flags, process.env);
  for (const text of config.warnings) options.onEvent?.({ type: "warning", text });
  const answer = await answerRequest(request, { config, signal: options.signal, onEvent: options.onEvent });
  return { answer, level: config.settings["safety.level"] };
};
