import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Intent } from "../answer/types.js";
import type { ChatPrompt } from "./chat.js";
import type { PromptContext } from "./context.js";

// The prompt lives in one text file so it can be read and tuned without reading code.
const PROMPT_FILE = fileURLToPath(new URL("../../src/prompt/prompt.md", import.meta.url));
let template: string | undefined;

const SHELL_RULES: Record<string, string> = {
  fish:
    "fish is not POSIX: use `set VAR value`, `(command)` for substitution, `; and` / `; or`, and `end` to close " +
    "blocks.",
  zsh: "zsh accepts POSIX syntax; avoid bash-only features such as `shopt`.",
  bash: "",
  sh: "Stay within POSIX sh: no arrays, no [[ ]], no brace expansion.",
};

const USERLAND_RULES: Record<string, string> = {
  BSD:
    "BSD sed needs `sed -i ''`, BSD find has no -printf, BSD stat uses -f not -c, and there is no --long-option " +
    "for most tools.",
  GNU: "",
};

function fill(text: string, values: Record<string, string>): string {
  return text
    .replace(/\{\{(\w+)\}\}/g, (_, key: string) => values[key] ?? "")
    .replace(/ +\n/g, "\n")
    .replace(/\n{3,}/g, "\n\n");
}

/** Keeps an example line when its `when` tag fits the shell and userland. */
function exampleApplies(tag: string, context: PromptContext): boolean {
  if (tag === "answer") return true;
  const conditions = tag.replace(/^when /, "").split(/\s+/);
  return conditions.every((c) =>
    c === "posix"
      ? context.shell !== "fish"
      : c === "gnu" || c === "bsd"
        ? context.userland.toLowerCase() === c
        : c === context.shell,
  );
}

function parseExamples(section: string, context: PromptContext) {
  const examples: ChatPrompt["examples"] = [];
  for (const block of section.trim().split(/\n\s*\n/)) {
    const [first, ...rest] = block.split("\n");
    const request = first.replace(/^request: /, "");
    const answer = rest
      .map((line) => /^(answer|when [\w ]+): (.*)$/.exec(line))
      .find((m) => m !== null && exampleApplies(m[1], context));
    if (answer) examples.push({ user: userMessage(request, "~/project"), assistant: answer[2] });
  }
  return examples;
}

function userMessage(request: string, cwd: string): string {
  return `cwd: ${cwd}\nrequest: ${request}`;
}

/** What a request asks beyond plain words: revise, fix or explain a command, and what not to answer again. */
export interface PromptRequest {
  words: string;
  intent?: Intent;
  shown?: string[];
  /** Lines about where the user is, after the cwd: the folder's entries, the git branch. */
  place?: string[];
  /** The user's last command lines, oldest first. */
  history?: string[];
  /** For a fix: what the failed command printed. */
  screen?: string;
  /** A command that cannot work on this machine, and why: asked for once more. */
  failed?: { command: string; reasons: string[] };
}

/** The task itself, in the words the system prompt tells the model to expect. */
function taskLines(ask: PromptRequest): string {
  const intent = ask.intent ?? { kind: "ask" };
  switch (intent.kind) {
    case "refine":
      return `Revise this command: ${intent.command}\nChange: ${intent.words}`;
    case "fix": {
      const printed = ask.screen?.trim() ? `\nIt printed:\n${ask.screen.trim()}` : "";
      return (
        `This command failed with exit status ${intent.status}: ${intent.command}${printed}\nGive a corrected ` +
        `command.`
      );
    }
    case "explain":
      return `Explain this command: ${ask.words}`;
    case "ask":
      return `request: ${ask.words}`;
  }
}

/**
 * The last user message: the only part that differs between requests and intents, so the
 * system prompt and examples stay one evaluated prefix for the embedded backend to reuse.
 */
function requestMessage(ask: PromptRequest, cwd: string): string {
  // Where the user is comes first and changes least: a request from the same folder as the last
  // shares these tokens with it, and the embedded backend evaluates them only once.
  const lines = [`cwd: ${cwd}`, ...(ask.place ?? [])];
  // Commands are quoted as JSON strings: one line each, however many lines they hold.
  const quoted = (commands: string[]) => commands.map((command) => JSON.stringify(command)).join("\n");
  if (ask.history?.length) lines.push(`Recent commands:\n${quoted(ask.history)}`);
  lines.push(taskLines(ask));
  if (ask.shown?.length && ask.intent?.kind !== "explain") lines.push(`Not any of these:\n${quoted(ask.shown)}`);
  if (ask.failed) lines.push(`Fails here: ${JSON.stringify(ask.failed.command)} (${ask.failed.reasons.join("; ")})`);
  return lines.join("\n");
}

/** The chat for a request: plain words (a string), or a request with its intent and the commands already shown. */
export function buildPrompt(context: PromptContext, request: string | PromptRequest): ChatPrompt {
  template ??= readFileSync(PROMPT_FILE, "utf8");
  const [systemPart, examplePart = ""] = template.split(/^=== examples ===$/m);
  const system = fill(systemPart, {
    shell: context.shell,
    os: context.os,
    arch: context.arch,
    userland: context.userland,
    shell_rule: SHELL_RULES[context.shell] ?? "",
    userland_rule: USERLAND_RULES[context.userland] ?? "",
    tools: context.tools ?? "",
    tools_rule: context.tools
      ? "Use only programs this machine has: never one it lists as not installed."
      : `Use the tools every ${context.os} system has before tools that may not be installed.`,
  }).trim();
  const ask = typeof request === "string" ? { words: request } : request;
  return { system, examples: parseExamples(examplePart, context), user: requestMessage(ask, context.cwd) };
}
