// Whether a draft can be offered at all: a command caro will take, that parses in the user's shell.
// Its risk is another question, for safety/rate.ts.

import { execFile } from "node:child_process";
import type { Shell } from "../prompt/context.js";
import { commandProblem } from "../safety/command-check.js";
import { withTree } from "../safety/parser.js";
import type { Draft } from "./draft.js";

export type SyntaxVerdict =
  | { ok: true; checkedBy: string }
  | { ok: false; reason: string }
  | { ok: true; checkedBy: null };

function fishCheck(command: string): Promise<SyntaxVerdict> {
  // fish's grammar is its own; only fish itself can judge it. Without fish installed we cannot.
  return new Promise((resolve) => {
    execFile("fish", ["--no-config", "--no-execute", "-c", command], { timeout: 2000 }, (error, _out, stderr) => {
      if ((error as NodeJS.ErrnoException | null)?.code === "ENOENT") resolve({ ok: true, checkedBy: null });
      // fish 3.6 reports parse errors on stderr yet exits 0 under --no-execute: judge by both.
      else if (!error && stderr.trim() === "") resolve({ ok: true, checkedBy: "fish" });
      else {
        const why = stderr.split("\n")[0].replace(/^fish: /, "") || "fish rejects it";
        resolve({ ok: false, reason: `does not parse as fish: ${why}` });
      }
    });
  });
}

/**
 * Does the command parse in the target shell? zsh and sh are judged by the bash grammar, which
 * covers what models write for them.
 */
export async function checkSyntax(command: string, shell: Shell): Promise<SyntaxVerdict> {
  if (shell === "fish") return fishCheck(command);
  return withTree(command, (tree): SyntaxVerdict => {
    if (!tree.rootNode.hasError) return { ok: true, checkedBy: "tree-sitter-bash" };
    const bad = tree.rootNode.descendantsOfType(["ERROR", "MISSING"])[0] ?? tree.rootNode;
    return { ok: false, reason: `does not parse as ${shell} near column ${bad.startPosition.column + 1}` };
  });
}

/** Why a draft cannot be used, or null when it can. */
export async function draftProblem(draft: Draft, shell: Shell, maxCommandLength: number): Promise<string | null> {
  const problem = commandProblem(draft.command, maxCommandLength);
  if (problem) return problem;
  const syntax = await checkSyntax(draft.command, shell);
  return syntax.ok ? null : `${JSON.stringify(draft.command.slice(0, 60))} ${syntax.reason}`;
}
