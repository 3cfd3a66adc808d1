import { defineCommand } from "citty";
import { answerRequest, type CaroAnswer } from "../backends/answer-request.js";
import { loadConfig, type FlagValues } from "../config/load.js";
import { BACKENDS } from "../config/schema.js";
import { UsageError } from "../errors.js";
import { SHELLS, shellFromEnvironment, type Shell } from "../prompt/context.js";
import type { WorkerEvent } from "../worker/protocol.js";
import { parseStrict } from "./args.js";
import { say, warn } from "./output.js";
import { readRequest } from "./read-request.js";

export const generateArgs = {
  request: { type: "positional", required: false, description: "What you want, in plain words (or on stdin)" },
  shell: { type: "string", description: `Shell to write for: ${SHELLS.join(", ")} (default: from $SHELL)` },
  model: { type: "string", description: "GGUF file or hf:user/repo/file.gguf ($CARO_MODEL)" },
  backend: { type: "string", description: `Backend: ${BACKENDS.join(", ")} ($CARO_BACKEND)` },
  explain: { type: "boolean", description: "Also ask for a one-line explanation (on stderr)" },
  json: { type: "boolean", description: "Print one JSON object instead of the command" },
  verbose: { type: "boolean", alias: "v", description: "Say what happens and show stack traces" },
  execute: { type: "boolean", alias: "x", description: "Run the command after showing it, as the safety level allows" },
  yes: { type: "boolean", alias: "y", description: "With -x: answer the confirmation in advance (never unblocks)" },
} as const;

export const generateCommand = defineCommand({
  meta: { name: "caro", description: "Turn plain language into a shell command" },
  args: generateArgs,
});

function pickShell(flag: string | undefined): Shell {
  if (flag === undefined) return shellFromEnvironment();
  if (!(SHELLS as readonly string[]).includes(flag)) throw new UsageError(`unknown shell "${flag}": use one of ${SHELLS.join(", ")}`);
  return flag as Shell;
}

function progressPrinter(verbose: boolean) {
  let decoding = false;
  return (event: WorkerEvent) => {
    if (!verbose) return;
    if (event.type === "loaded")
      say(event.cached ? "model already loaded" : `model loaded in ${Math.round(event.ms)} ms on ${event.gpu || "the CPU"}`);
    else if (event.type === "generating") {
      decoding = false;
      say("reading the prompt…");
    } else if (event.type === "text" && !decoding) {
      decoding = true;
      say("decoding…");
    }
  };
}

function printAnswer(answer: CaroAnswer, json: boolean, verbose: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(answer)}\n`);
    return;
  }
  process.stdout.write(`${answer.command}\n`);
  if (answer.explanation) say(answer.explanation);
  say(`risk ${answer.risk}${answer.reasons.length ? `: ${answer.reasons.join("; ")}` : ""}`);
  if (verbose) say(`${answer.backend} · ${answer.model} · ${answer.gpu === null ? "server" : answer.gpu || "cpu"} · ${JSON.stringify(answer.timings)}`);
}

/** `caro <request>`: the command on stdout, or one JSON object with --json; with -x, runs it and returns its exit code. */
export async function runGenerate(argv: string[], signal: AbortSignal): Promise<number> {
  const args = parseStrict(argv, generateArgs);
  const shell = pickShell(args.shell);
  // --model names the model of whichever backend is chosen by name; under auto, the embedded one's.
  const named = loadConfig({ backend: args.backend }).settings.backend;
  const modelKey = named === "ollama" || named === "vllm" ? (`backends.${named}.model` as const) : "backends.embedded.model";
  const flags: FlagValues = { backend: args.backend, [modelKey]: args.model };
  const config = loadConfig(flags);
  for (const line of config.warnings) warn(line);
  const request = await readRequest(args._);
  const verbose = Boolean(args.verbose);
  if (verbose) say(`backend setting ${config.settings.backend} (${config.sources.backend})`);
  const answer = await answerRequest({
    request,
    shell,
    config,
    explain: Boolean(args.explain),
    verbose,
    signal,
    onEvent: progressPrinter(verbose),
    onSelected(backend, passedOver) {
      if (!verbose) return;
      for (const p of passedOver) say(`passed over ${p.backend}: ${p.reason}`);
      say(`backend ${backend}`);
    },
  });
  if (!args.execute) {
    printAnswer(answer, Boolean(args.json), verbose);
    return 0;
  }
  if (args.json) throw new UsageError("--json and --execute do not go together: --json prints, -x runs");
  process.stderr.write(`${answer.command}\n`);
  const { execute } = await import("./execute.js");
  return execute({
    command: answer.command,
    rating: { risk: answer.risk, reasons: answer.reasons },
    level: config.settings["safety.level"],
    shell,
    yes: Boolean(args.yes),
    signal,
  });
}
