// stdout carries the command alone, so `$(caro …)` and the shell widgets get exactly that;
// everything meant for the person goes to stderr. Much of it quotes a model or a server (an
// explanation, an error body, a model's name), so it is made inert before it reaches a terminal.

import { writeErr } from "./closed-output.js";
import { inert } from "../text/inert.js";

export function say(line: string): void {
  writeErr(`caro: ${inert(line)}\n`);
}

export function warn(line: string): void {
  writeErr(`caro: warning: ${inert(line)}\n`);
}

/** Findings about this machine under a rating (`caro check`, `caro explain`): one indented line each. */
export function warningLines(warnings: string[]): string {
  return warnings.map((warning) => `  warning: ${inert(warning)}\n`).join("");
}
