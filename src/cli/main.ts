import { endQuietlyWhenOutputCloses, writeOut, writeErr } from "./closed-output.js";
import type { CommandName } from "./commands.js";
import { packageVersion } from "../wire/version.js";

interface Subcommand {
  /** An exit code, or nothing for 0. */
  // biome-ignore lint/suspicious/noConfusingVoidType: subcommands that only print return Promise<void>
  run: (argv: string[], signal: AbortSignal) => Promise<void | number>;
  help: string;
}

// Each command's code loads only when that command runs: `caro --help` or `caro check` never
// pays for the client, the config or the rater it does not use.
const subcommands: Record<CommandName, () => Promise<Subcommand>> = {
  check: async () => {
    const m = await import("./check-command.js");
    return { run: (argv) => m.runCheck(argv), help: m.help };
  },
  explain: async () => {
    const m = await import("./explain-command.js");
    return { run: (argv, signal) => m.runExplain(argv, signal), help: m.help };
  },
  config: async () => {
    const m = await import("./config-command.js");
    return { run: (argv) => m.runConfig(argv), help: m.help };
  },
  init: async () => {
    const m = await import("./init-command.js");
    return { run: (argv) => m.runInit(argv), help: m.help };
  },
  completions: async () => {
    const m = await import("./completions-command.js");
    return { run: (argv) => m.runCompletions(argv), help: m.help };
  },
  models: async () => {
    const m = await import("./models-command.js");
    return { run: (argv, signal) => m.runModels(argv, signal), help: m.help };
  },
  doctor: async () => {
    const m = await import("./doctor-command.js");
    return { run: (argv) => m.runDoctor(argv), help: m.help };
  },
  daemon: async () => {
    const m = await import("./daemon-command.js");
    return { run: (argv) => m.runDaemonCommand(argv), help: m.help };
  },
};

// Only what every command needs loads with this file: `caro --version` reads the version and ends.
type Definitions = typeof import("./commands.js") & typeof import("./help.js");

function commandLines({ COMMANDS }: Definitions): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length));
  return Object.entries(COMMANDS)
    .map(([name, command]) => `  ${name.padEnd(width)}  ${command.summary}`)
    .join("\n");
}

const topHelp = (d: Definitions) => `caro: turn plain language into a shell command, with a local model

Usage
  caro [options] <request...>    Print a command for the request (read from stdin when no words are given)
  caro <command> [options]       One of the commands below
  caro help <command>            That command's help (or: caro <command> --help)

Examples
  caro find files bigger than 100MB
  caro -x show disk usage by folder, largest first
  caro --json --explain "list listening ports"
  echo "count lines in every .ts file" | caro
  caro check -- 'rm -rf ./build'
  caro explain -- 'find . -name "*.log" -mtime +7 -delete'
  eval "$(caro init zsh)"        Then type a request at the prompt and press Ctrl-G

Options
${d.optionLines(d.generateArgs, [["-V, --version", "Print caro's version"]])}

Commands
${commandLines(d)}

A request that starts with a command's name needs quotes: caro "check disk usage".
Exit codes: 0 answered, 1 failed to answer, 2 usage or config error, 130 interrupted,
141 output closed early (as in caro ... | head -1).
`;

async function dispatch(argv: string[], signal: AbortSignal): Promise<number> {
  const [first, ...rest] = argv;
  if (first === "--version" || first === "-V") {
    writeOut(`${packageVersion()}\n`);
    return 0;
  }
  const [commands, help] = await Promise.all([import("./commands.js"), import("./help.js")]);
  const d: Definitions = { ...commands, ...help };
  // Only a bare `help`, or `help <command>`, asks for help: `caro help me find big files` is a request.
  if (first === "help" && rest.length <= 1 && (rest.length === 0 || d.isCommandName(rest[0]))) {
    writeOut(rest.length === 0 ? topHelp(d) : (await subcommands[rest[0] as CommandName]()).help);
    return 0;
  }
  if (d.isCommandName(first)) {
    const command = await subcommands[first]();
    if (d.wantsHelp(rest)) {
      writeOut(command.help);
      return 0;
    }
    return (await command.run(rest, signal)) ?? 0;
  }
  if (d.wantsHelp(argv)) {
    writeOut(topHelp(d));
    return 0;
  }
  const { runGenerate } = await import("./generate-command.js");
  return runGenerate(argv, signal);
}

/** The exit code for an error, said on stderr. Loaded only on failure: success never pays for it. */
async function reportError(error: unknown, interrupted: boolean, verbose: boolean): Promise<number> {
  const [{ CaroError, InterruptedError }, { say }] = await Promise.all([import("../errors.js"), import("./output.js")]);
  if (interrupted) return new InterruptedError().exitCode;
  if (error instanceof CaroError) {
    // A message of several lines: the first after "caro: ", the rest indented under it.
    if (error.message) say(error.message.split("\n").join("\n  "));
    if (verbose && error.stack) writeErr(`${error.stack}\n`);
    return error.exitCode;
  }
  say(`unexpected error: ${(error as Error).message ?? error}`);
  if (verbose) writeErr(`${(error as Error).stack}\n`);
  else writeErr("caro: run again with --verbose for details\n");
  return 1;
}

/** Runs one caro command line; `interrupt` is wired to Ctrl-C by bin/caro.js before anything loads. */
export async function main(argv: string[], interrupt?: AbortController): Promise<number> {
  endQuietlyWhenOutputCloses();
  const controller = interrupt ?? new AbortController();
  // The first Ctrl-C cancels cooperatively (the worker stops decoding); the process then exits 130.
  const onInterrupt = () => controller.abort();
  if (!interrupt) process.on("SIGINT", onInterrupt);
  const verbose = argv.includes("--verbose") || argv.includes("-v");
  try {
    // Ctrl-C while the modules loaded: nothing has started that needs stopping.
    if (controller.signal.aborted) return await reportError(null, true, verbose);
    return await dispatch(argv, controller.signal);
  } catch (error) {
    return await reportError(error, controller.signal.aborted, verbose);
  } finally {
    process.off("SIGINT", onInterrupt);
  }
}
