// The types of one answer's path, from what the user asked to what caro prints. Types only: the
// daemon protocol and the thin client import them, and must load nothing.

import type { BackendEvent, PassedOver } from "../backends/types.js";
import type { SafetyLevel } from "../config/schema.js";
import type { Shell } from "../prompt/context.js";
import type { Risk } from "../safety/rate.js";

/** The command-line flags that change how a request is answered. */
export interface RequestFlags {
  backend?: string;
  model?: string;
  explain?: boolean;
  verbose?: boolean;
}

/**
 * What the user wants done with `request`. A small model is often wrong, so every way out of a
 * wrong answer is a kind of request: ask afresh, revise a command by a comment, fix a command
 * that failed, or explain one.
 */
export type Intent =
  /** `request` is plain words: answer with a command. */
  | { kind: "ask" }
  /** `request` is `command # words`: rewrite `command` as the words say. */
  | { kind: "refine"; command: string; words: string }
  /** `request` is a command line that just exited with `status`: propose a corrected command. */
  | { kind: "fix"; command: string; status: number }
  /** `request` is a command: explain it; the answer's command is `request`, exactly. */
  | { kind: "explain" };

/**
 * What the user's shell knows and caro cannot read for itself, sent by the Ctrl-G widget: each
 * piece goes to the model only as the `[context]` settings allow, and redacted as they say.
 */
export interface ShellContext {
  /** The last command lines, oldest first; `context.history` decides how many are used. */
  history?: string[];
  /** Names of the shell's functions and aliases: they run without a program on PATH. */
  names?: string[];
  /** For a fix: the terminal's last lines (a tmux pane), what the failed command printed. */
  screen?: string;
}

/** What the user asked, and where: the same object from the CLI or widget through the socket to the pipeline. */
export interface UserRequest {
  /** The words typed (for a fix, the failed command line; for explain, the command). */
  words: string;
  /** What to do with the request; absent means ask. */
  intent?: Intent;
  /**
   * Commands already shown for this same request (Ctrl-G again): the answer must be none of
   * these (compared without surrounding whitespace), and the daemon's cache never hands one back.
   * The daemon takes at most 32, of 64 KiB in all. A refine or fix never answers its own command.
   */
  shown?: string[];
  shell: Shell;
  /** Where the user is: goes into the prompt, and decides how risky `rm -rf *` is. */
  cwd: string;
  /** The variables the answer may depend on (config path, backend settings, PATH); see clientEnv. */
  env: Record<string, string>;
  flags: RequestFlags;
  /** What the shell adds about itself; absent from the plain command line. */
  context?: ShellContext;
}

/**
 * A checked answer, not yet rated: what the pipeline finds and the daemon sends. The process that
 * shows it rates it, once, under its own config (answer/rating.ts).
 */
export interface UnratedAnswer {
  command: string;
  explanation: string;
  backend: string;
  model: string;
  gpu: string | false | null;
  timings: Record<string, number | null>;
  /** Under auto: the backends tried first, and why each could not serve. */
  passed_over: PassedOver[];
  /** Embedded: where the evaluated system prompt came from (memory, disk, evaluated, off); null for servers. */
  prefix_cache: string | null;
  /** This answer came from the daemon's cache of identical requests. */
  cached: boolean;
  /**
   * What is wrong with the command on this machine, one line each ("`fd` is not installed
   * here"), found again after one more try; empty when nothing is. The command is shown anyway.
   */
  warnings: string[];
}

/** A checked, rated answer: what `caro --json` prints. */
export interface Answer extends UnratedAnswer {
  risk: Risk;
  reasons: string[];
}

export interface AskResult {
  answer: Answer;
  /** The safety level of the config of the process that rated and shows the answer. */
  level: SafetyLevel;
}

export interface AskOptions {
  /** Ctrl-C: ends every wait at once and cancels the request. */
  signal?: AbortSignal;
  onEvent?: (event: BackendEvent) => void;
}

/**
 * One way to get an answer: from the daemon (client/ask.ts) or in this process (`--no-daemon`,
 * client/ask-in-process.ts). Either way the pipeline in answer/pipeline.ts does the work.
 */
export type Asker = (request: UserRequest, options?: AskOptions) => Promise<AskResult>;
