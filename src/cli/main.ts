import { readFileSync } from "node:fs";
import { renderUsage } from "citty";
import { CaroError, InterruptedError } from "../errors.js";
import { generateCommand, runGenerate } from "./generate-command.js";
import { say } from "./output.js";

// Subcommands are matched on the first word only, so `caro find big files` is a request;
// a request that starts with one of these words needs quotes: caro "check disk usage".
const subcommands: Record<string, (argv: string[], signal: AbortSignal) => Promise<void | number>> = {
  config: async (argv) => (await import("./config-command.js")).runConfig(argv),
  check: async (argv) => (await import("./check-command.js")).runCheck(argv),
  daemon: async (argv) => (await import("./daemon-command.js")).runDaemonCommand(argv),
  init: async (argv) => (await import("./init-command.js")).runInit(argv),
  models: async (argv, signal) => (await import("./models-command.js")).runModels(argv, signal),
  doctor: async (argv) => (await import("./doctor-command.js")).runDoctor(argv),
};

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
}

async function printHelp(): Promise<void> {
  const usage = await renderUsage(generateCommand);
  process.stdout.write(
    `${usage}\n\nCOMMANDS\n\n` +
      `  caro check -- '<command>'  Rate a command's risk without running it (--json, --stdin, --shell)\n` +
      `  caro config path|show      Where the config file is, and the effective settings\n` +
      `  caro init zsh|bash|fish    The Ctrl-G widget: eval "$(caro init zsh)" (--key ctrl-x, --no-bind)\n` +
      `  caro models list|pull|rm|path   The model catalog and the downloaded models\n` +
      `  caro doctor                What caro sees (OS, GPU, config, models, backends, shells) and what to fix\n` +
      `  caro daemon start|stop|status|restart   The background daemon that keeps the model loaded\n\n` +
      `Exit codes: 0 answered, 1 failed to answer, 2 usage or config error, 130 interrupted.\n`,
  );
}

export async function main(argv: string[]): Promise<number> {
  const controller = new AbortController();
  // The first Ctrl-C cancels cooperatively (the worker stops decoding); the process then exits 130.
  const onInterrupt = () => controller.abort();
  process.on("SIGINT", onInterrupt);
  const verbose = argv.includes("--verbose") || argv.includes("-v");
  try {
    if (argv[0] === "--help" || argv[0] === "-h" || argv[0] === "help") await printHelp();
    else if (argv[0] === "--version") process.stdout.write(`${version()}\n`);
    else if (argv[0] !== undefined && subcommands[argv[0]]) return (await subcommands[argv[0]](argv.slice(1), controller.signal)) ?? 0;
    else return await runGenerate(argv, controller.signal);
    return 0;
  } catch (error) {
    if (controller.signal.aborted) return new InterruptedError().exitCode;
    if (error instanceof CaroError) {
      // A message of several lines: the first after "caro: ", the rest indented under it.
      if (error.message) say(error.message.split("\n").join("\n  "));
      if (verbose && error.stack) process.stderr.write(`${error.stack}\n`);
      return error.exitCode;
    }
    say(`unexpected error: ${(error as Error).message ?? error}`);
    if (verbose) process.stderr.write(`${(error as Error).stack}\n`);
    else process.stderr.write("caro: run again with --verbose for details\n");
    return 1;
  } finally {
    process.off("SIGINT", onInterrupt);
  }
}
