// Rating an answer: done exactly once, by the process that shows it, under that process's own
// config. The daemon sends what it found unrated (its word is data, and a rating it made under
// another config would be one the user never set); `--no-daemon` rates what its pipeline found.

import type { SafetyLevel } from "../config/schema.js";
import { rateCommand } from "../safety/rate.js";
import type { AskResult, UnratedAnswer, UserRequest } from "./types.js";

/** The answer rated where the request was made (its shell and folder), with the level to show it under. */
export async function rateAnswer(
  found: UnratedAnswer,
  request: Pick<UserRequest, "shell" | "cwd">,
  level: SafetyLevel,
): Promise<AskResult> {
  const { risk, reasons } = await rateCommand(found.command, request.shell, request.cwd);
  // The rating right after the command and its explanation, where `caro --json` has always put it.
  const { command, explanation, ...rest } = found;
  return { answer: { command, explanation, risk, reasons, ...rest }, level };
}
