import { spawn } from "node:child_process";
import { openSync, writeSync } from "node:fs";
import { createInterface } from "node:readline";
import { ReadStream } from "node:tty";
import type { SafetyLevel } from "../config/schema.js";
import { CaroError, InterruptedError, NotRunError } from "../errors.js";
import type { Shell } from "../prompt/context.js";
import { verdictFor } from "../safety/policy.js";
import type { Rating } from "../safety/rate.js";
import { say, warn } from "./output.js";

/** Asks on the terminal itself (/dev/tty), so it works while stdin and stdout are redirected. Default: no. */
async function askOnTerminal(question: string, signal: AbortSignal): Promise<boolean | null> {
  let fd: number;
  try {
    fd = openSync("/dev/tty", "r+");
  } catch {
    return null; // no controlling terminal
  }
  writeSync(fd, question);
  // A tty handle, not a file stream: a file stream's read-ahead would block a thread, and so the
  // process's exit, until the next keypress.
  const input = new ReadStream(fd);
  const lines = createInterface({ input, terminal: false });
  try {
    const answer = await new Promise<string>((resolve, reject) => {
      lines.once("line", resolve);
      lines.once("close", () => resolve(""));
      signal.addEventListener("abort", () => reject(new InterruptedError()), { once: true });
    });
    return /^\s*y(es)?\s*$/i.test(answer);
  } finally {
    lines.close();
    input.destroy();
  }
}

function shellBinary(shell: Shell): string {
  // $SHELL when it is the shell asked for, so the user's own build runs it; otherwise by name on PATH.
  const fromEnv = process.env.SHELL;
  return fromEnv?.endsWith(`/${shell}`) ? fromEnv : shell;
}

/** Runs the command in the user's shell with the terminal attached; resolves to its exit code. */
function runInShell(command: string, shell: Shell): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(shellBinary(shell), ["-c", command], { stdio: "inherit" });
    // While the command runs, Ctrl-C is the command's: it gets the signal from the terminal itself.
    const ignore = () => undefined;
    process.on("SIGINT", ignore);
    child.on("error", (error) => {
      process.off("SIGINT", ignore);
      reject(new CaroError(`could not start ${shell}: ${error.message}`, 1));
    });
    child.on("exit", (code, signalName) => {
      process.off("SIGINT", ignore);
      resolve(code ?? 128 + (signalName === "SIGINT" ? 2 : signalName === "SIGTERM" ? 15 : 9));
    });
  });
}

export interface ExecuteOptions {
  command: string;
  rating: Rating;
  level: SafetyLevel;
  shell: Shell;
  /** --yes: answers the question in advance; never unblocks. */
  yes: boolean;
  signal: AbortSignal;
}

/** `caro -x`: applies the safety policy, asks where it must, runs the command, and returns its exit code. */
export async function execute(options: ExecuteOptions): Promise<number> {
  const { command, rating, level } = options;
  const verdict = verdictFor(rating.risk, level);
  const why = rating.reasons.length ? `: ${rating.reasons.join("; ")}` : "";
  if (verdict === "block")
    throw new NotRunError(
      `not run: the command is rated ${rating.risk}${why}; safety level ${level} blocks it (caro never runs it, even ` +
        `with --yes)`,
    );
  if (verdict === "warn") warn(`rated ${rating.risk}${why}`);
  if (verdict === "confirm" && !options.yes) {
    const answer = await askOnTerminal(
      `caro: rated ${rating.risk}${why}\ncaro: run \`${command}\`? [y/N] `,
      options.signal,
    );
    if (answer === null)
      throw new NotRunError(
        `not run: rated ${rating.risk}, which needs your yes, and there is no terminal to ask on; run it yourself or ` +
          `pass --yes`,
      );
    if (!answer) throw new NotRunError("not run: you said no");
  }
  // Ctrl-C at any moment before this point means no: nothing runs after an interrupt.
  if (options.signal.aborted) throw new InterruptedError();
  say(`running: ${command}`);
  return runInShell(command, options.shell);
}
