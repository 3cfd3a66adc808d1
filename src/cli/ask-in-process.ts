import { answerRequest } from "../backends/answer-request.js";
import type { AskOptions, AskPayload, AskResult } from "../client/ask.js";
import { loadRequestConfig } from "../config/load.js";
import type { Shell } from "../prompt/context.js";

/** `--no-daemon`: the same request, answered in this process, with a pool that ends with it. */
export async function askInProcess(payload: AskPayload, options: AskOptions = {}): Promise<AskResult> {
  const config = loadRequestConfig(payload.flags, process.env);
  for (const text of config.warnings) options.onEvent?.({ type: "warning", text });
  const answer = await answerRequest({
    request: payload.request,
    shell: payload.shell as Shell,
    config,
    explain: Boolean(payload.flags.explain),
    verbose: Boolean(payload.flags.verbose),
    cwd: payload.cwd,
    signal: options.signal,
    onEvent: options.onEvent,
  });
  return { answer, level: config.settings["safety.level"] };
}
