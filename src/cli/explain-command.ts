// `caro explain -- '<command>'`: what a command does, part by part, in the model's words, and its
// risk in caro's own (the local rater's). The command is the user's: it comes back byte for byte.

import { writeOut } from "./closed-output.js";
import type { Asker, UserRequest } from "../answer/types.js";
import { askDaemon, clientEnv } from "../client/ask.js";
import { parseSetting } from "../config/schema.js";
import { InterruptedError, UsageError } from "../errors.js";
import { shellFromEnvironment, shellNamed } from "../prompt/shells.js";
import { inert } from "../text/inert.js";
import { parseStrict } from "./args.js";
import { COMMANDS } from "./commands.js";
import { warningLines } from "./output.js";
import { eventPrinter } from "./generate-command.js";
import { optionLines } from "./help.js";

const explainArgs = COMMANDS.explain.args;

const usage = "usage: caro explain [--json] -- '<command>'";

export const help = `caro explain: what a command does, part by part, and how risky it is

Usage
  caro explain [options] -- '<command>'

Options
${optionLines(explainArgs)}

Examples
  caro explain -- 'find . -name "*.log" -mtime +7 -delete'
  caro explain --json -- 'tar -xzf backup.tar.gz -C /tmp'

Prints a few short lines from the model, then the risk (safe, moderate, high or critical) and the
reasons for it, rated by caro itself, never by the model, then what would fail on this machine
(a program not installed, an option its manual page does not name). Nothing is run.
Exit 0 when explained, 1 when the model could not, 2 on a usage error.
`;

/** `caro explain`: the model's explanation and caro's own rating of a command; runs nothing. */
export async function runExplain(argv: string[], signal: AbortSignal): Promise<number> {
  const args = parseStrict(argv, explainArgs, "explain");
  const shell = args.shell === undefined ? shellFromEnvironment() : shellNamed(args.shell);
  if (args.backend !== undefined) parseSetting("backend", args.backend, "command line");
  // Exactly as given: its spaces are part of what is explained and rated.
  const command = args._.join(" ");
  if (command.trim() === "") throw new UsageError(`no command to explain: ${usage}`);
  const verbose = Boolean(args.verbose);
  const request: UserRequest = {
    words: command,
    intent: { kind: "explain" },
    shell,
    cwd: process.cwd(),
    env: clientEnv(),
    flags: { backend: args.backend, model: args.model, verbose },
  };
  const ask: Asker = args.daemon === false ? (await import("../client/ask-in-process.js")).askInProcess : askDaemon;
  const { answer } = await ask(request, { signal, onEvent: eventPrinter(verbose) });
  if (signal.aborted) throw new InterruptedError();
  // The explanation is the model's text: never let it steer the terminal, in JSON or not.
  const explanation = inert(answer.explanation);
  const warnings = (answer.warnings ?? []).map(inert);
  if (args.json) {
    const { risk, reasons } = answer;
    writeOut(`${JSON.stringify({ command: answer.command, explanation, risk, reasons, warnings })}\n`);
    return 0;
  }
  const reasons = answer.reasons.map((reason) => `  - ${inert(reason)}\n`).join("");
  writeOut(`${explanation}\nrisk ${answer.risk}\n${reasons}${warningLines(warnings)}`);
  return 0;
}
