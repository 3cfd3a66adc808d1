// The prompt for one request as every backend gets it: the machine's tool lines in the fixed part,
// the folder's context and the shell's (redacted where it must be) before the request, which goes
// as typed. Warming builds its prompt here too, so what they evaluate is what requests will reuse.

import type { Settings } from "../config/schema.js";
import { type AddedContext, addedContext } from "../grounding/context.js";
import { buildPrompt, type PromptRequest } from "../prompt/build.js";
import type { ChatPrompt } from "../prompt/chat.js";
import { detectContext, type PromptContext, type Shell } from "../prompt/context.js";
import type { UserRequest } from "./types.js";

export interface RequestPrompt {
  prompt: ChatPrompt;
  /** What caro added on its own, as sent. */
  added: AddedContext;
  /** The same prompt, telling the model why its command fails here: for the one more try. */
  telling: (failed: NonNullable<PromptRequest["failed"]>) => ChatPrompt;
}

/** The prompt for `request`, whose backend is on this machine (`local`) or not. */
export function requestPrompt(request: UserRequest, settings: Settings, local: boolean): RequestPrompt {
  const added = addedContext(request, settings, local);
  const machine: PromptContext = detectContext(request.shell, request.cwd);
  if (added.tools !== undefined) machine.tools = added.tools;
  const intent = request.intent?.kind === "fix" ? { ...request.intent, command: added.fixCommand! } : request.intent;
  const asked: PromptRequest = {
    words: request.words,
    intent,
    shown: request.shown,
    place: added.place,
    history: added.history,
    screen: added.screen,
  };
  return {
    prompt: buildPrompt(machine, asked),
    added,
    telling: (failed) => buildPrompt(machine, { ...asked, failed }),
  };
}

/**
 * What a first request from `shell` in `cwd` will share with every later one there: the fixed
 * part and the start of its message. Warming evaluates this, under the warming process's
 * environment (its PATH decides the tool lines, as the shell's will).
 */
export function warmPrompt(shell: Shell, cwd: string, env: Record<string, string | undefined>, settings: Settings) {
  const own = Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
  return requestPrompt({ words: "", shell, cwd, env: own, flags: {} }, settings, true).prompt;
}
