// caro's commands and their options, in one place: the parser (args.ts), --help (help.ts) and the
// shell completions (completions.ts) all read these, so none can name an option the others lack.
// Loaded by every `caro` process, so it imports only constants: no command's code.

import type { ArgDef } from "citty";
import { BACKENDS, SAFETY_LEVELS } from "../config/choices.js";
import { SHELLS } from "../prompt/shells.js";
import { shellsInWords, WIDGET_SHELL_NAMES } from "../shell/shells.js";

/** citty's option definition, plus the values it takes where they are a fixed list (for completion). */
export type CaroArgDef = ArgDef & { values?: readonly string[] | Operand };
export type CaroArgsDef = Record<string, CaroArgDef>;

/** What a command's word after an action completes to: names known in advance, or files found when TAB is pressed. */
export type Operand = "catalog-models" | "downloaded-models" | "widget-shells";

export interface CommandDef {
  /** The line in `caro --help`'s list of commands. */
  summary: string;
  args: CaroArgsDef;
  /** The first word after the command: the action, each with a line for completion menus. */
  actions?: Record<string, { summary: string; operand?: Operand }>;
  /** The first word after the command, where it is not an action. */
  operand?: Operand;
}

// Options a request and `caro explain` share.
const backendOption = {
  type: "string",
  description: `Backend: ${BACKENDS.join(", ")} ($CARO_BACKEND)`,
  values: BACKENDS,
} as const;
const verboseOption = { type: "boolean", alias: "v", description: "Say what happens and show stack traces" } as const;
// citty reads --no-daemon as daemon = false.
const daemonOption = {
  type: "boolean",
  default: true,
  description: "Use the background daemon (--no-daemon: answer in this process)",
} as const;

/** `caro [options] <request>`: a request, when the first word is not a command's name. */
export const generateArgs = {
  request: { type: "positional", required: false, description: "What you want, in plain words (or on stdin)" },
  shell: {
    type: "string",
    description: `Shell to write for: ${SHELLS.join(", ")} (default: from $SHELL)`,
    values: SHELLS,
  },
  model: {
    type: "string",
    description: "GGUF file or hf:user/repo/file.gguf ($CARO_MODEL); for ollama or vllm, the server's model",
    values: "catalog-models",
  },
  backend: backendOption,
  explain: { type: "boolean", description: "Also ask for a one-line explanation (on stderr)" },
  json: { type: "boolean", description: "Print one JSON object instead of the command" },
  verbose: verboseOption,
  execute: { type: "boolean", alias: "x", description: "Run the command after showing it, as the safety level allows" },
  yes: { type: "boolean", alias: "y", description: "With -x: answer the confirmation in advance (never unblocks)" },
  safety: {
    type: "string",
    valueHint: "level",
    description: `With -x: the safety level for this run, ${SAFETY_LEVELS.join(", ")} (default: the config's)`,
    values: SAFETY_LEVELS,
  },
  daemon: daemonOption,
} as const satisfies CaroArgsDef;

/** `caro --version`: handled before any command, listed with the options. */
export const VERSION_FLAGS = ["-V", "--version"] as const;

const checkArgs = {
  command: { type: "positional", required: false, description: "The command to rate (after --)" },
  json: { type: "boolean", description: "Print {command, risk, reasons, warnings} as JSON" },
  shell: {
    type: "string",
    description: `Shell whose syntax the command is in: ${SHELLS.join(", ")} (default bash)`,
    values: SHELLS,
  },
  stdin: { type: "boolean", description: "Rate one command per line of stdin, one JSON object per line" },
} as const satisfies CaroArgsDef;

const explainArgs = {
  command: { type: "positional", required: false, description: "The command to explain (after --)" },
  json: { type: "boolean", description: "Print {command, explanation, risk, reasons} as JSON" },
  shell: {
    type: "string",
    description: `Shell whose syntax the command is in: ${SHELLS.join(", ")} (default: $SHELL)`,
    values: SHELLS,
  },
  model: {
    type: "string",
    description: "GGUF file or hf:user/repo/file.gguf; for ollama or vllm, the server's model",
    values: "catalog-models",
  },
  backend: backendOption,
  verbose: verboseOption,
  daemon: daemonOption,
} as const satisfies CaroArgsDef;

const configArgs = {
  action: { type: "positional", required: false },
} as const satisfies CaroArgsDef;

// Alt-M explains by default: it is the one Ctrl or Alt letter that zsh (emacs and viins), bash
// (emacs and vi-insert) and fish 3 and 4 all leave unbound, that fzf, atuin, navi and fzf-git.sh
// do not bind, and that zellij does not take (it holds Alt-F/H/I/J/K/L/N/O/P). Every Ctrl letter is
// taken by some shell. Its one known taker, oh-my-zsh's copy-prev-shell-word, yields when caro's
// init line comes after oh-my-zsh; `caro doctor` says when it does not.
export const DEFAULT_EXPLAIN_KEY = "alt-m";

const initArgs = {
  shell: { type: "positional", required: false },
  key: { type: "string", description: "The key: ctrl-<letter> or alt-<letter> (default ctrl-g)" },
  "explain-key": {
    type: "string",
    description: `The key that explains the command at the prompt, leaving it as is (default ${DEFAULT_EXPLAIN_KEY})`,
  },
  bind: { type: "boolean", default: true, description: "Bind the key (--no-bind: only define _caro_widget)" },
  start: {
    type: "boolean",
    default: true,
    description: "Start the daemon in the background, so the first Ctrl-G is fast (--no-start: do not)",
  },
  completions: {
    type: "boolean",
    default: true,
    description: "Also set up completions for caro's commands and options (--no-completions: do not)",
  },
} as const satisfies CaroArgsDef;

const completionsArgs = {
  shell: { type: "positional", required: false },
} as const satisfies CaroArgsDef;

const modelsArgs = {
  action: { type: "positional", required: false },
  json: { type: "boolean", description: "With list: print one JSON object" },
} as const satisfies CaroArgsDef;

const doctorArgs = {
  json: { type: "boolean", description: "Print {ok, checks: [{name, status, detail, fix}]} as JSON" },
} as const satisfies CaroArgsDef;

const daemonArgs = {
  action: { type: "positional", required: false },
  json: { type: "boolean", description: "With status: print one JSON object" },
  background: {
    type: "boolean",
    description: "With start: return at once, print nothing; the daemon loads the model meanwhile",
  },
  shell: {
    type: "string",
    description: "With start --background: the shell whose prompt the model is readied for",
    values: WIDGET_SHELL_NAMES,
  },
  warm: {
    type: "string",
    description: "With run: load the model and ready the prompt for this shell at once",
    values: WIDGET_SHELL_NAMES,
  },
} as const satisfies CaroArgsDef;

// Subcommands are matched on the first word only, so `caro find big files` is a request;
// a request that starts with one of these words needs quotes: caro "check disk usage".
export const COMMANDS = {
  check: { summary: "Rate a command's risk without running it", args: checkArgs },
  explain: { summary: "What a command does, part by part, and its risk", args: explainArgs },
  config: {
    summary: "Where the config file is (path), and the effective settings (show)",
    args: configArgs,
    actions: {
      path: { summary: "the config file's path" },
      show: { summary: "each setting's value and where it comes from" },
    },
  },
  init: { summary: `The Ctrl-G widget for ${shellsInWords()}`, args: initArgs, operand: "widget-shells" },
  completions: {
    summary: `Completions for ${shellsInWords()} alone (caro init sets them up too)`,
    args: completionsArgs,
    operand: "widget-shells",
  },
  models: {
    summary: "The model catalog and the downloaded models (list, pull, rm, path)",
    args: modelsArgs,
    actions: {
      list: { summary: "the catalog, the downloaded models and the one to run" },
      pull: { summary: "download a model", operand: "catalog-models" },
      rm: { summary: "delete a downloaded model", operand: "downloaded-models" },
      path: { summary: "the folder models are downloaded to" },
    },
  },
  doctor: {
    summary: "What caro sees (OS, GPU, config, models, backends, shells) and what to fix",
    args: doctorArgs,
  },
  daemon: {
    summary: "The background daemon that keeps the model loaded (start, stop, status, restart)",
    args: daemonArgs,
    // `run` is what start launches: not for people, so not offered.
    actions: {
      status: { summary: "whether it runs, and what it has loaded" },
      start: { summary: "start it now" },
      stop: { summary: "stop it, after the requests it has" },
      restart: { summary: "stop it and start it again" },
    },
  },
} as const satisfies Record<string, CommandDef>;

export type CommandName = keyof typeof COMMANDS;

export function isCommandName(word: string | undefined): word is CommandName {
  return word !== undefined && Object.hasOwn(COMMANDS, word);
}
