import { writeOut } from "./closed-output.js";
import { homedir } from "node:os";
import { UsageError } from "../errors.js";
import { parseStrict } from "./args.js";
import { COMMANDS, DEFAULT_EXPLAIN_KEY } from "./commands.js";
import { optionLines } from "./help.js";
import { loadConfig } from "../config/load.js";
import { initScript } from "../shell/init.js";
import { parseKey } from "../shell/key-bindings.js";
import { shellRow, WIDGET_SHELL_NAMES, widgetShell } from "../shell/shells.js";

const SHELL_NAMES = WIDGET_SHELL_NAMES.join("|");
const OPTIONS = "[--key ctrl-g] [--explain-key alt-m] [--no-bind] [--no-start] [--no-completions]";
const usage = `usage: caro init ${SHELL_NAMES} ${OPTIONS}`;

const initArgs = COMMANDS.init.args;

/** Each shell's init line and the file it goes in, as this user's files are named. */
function setUpLines(): string {
  const lines = WIDGET_SHELL_NAMES.map((shell) => {
    const { initLine, rcFile } = shellRow(shell);
    const file = rcFile();
    const shown = file.startsWith(`${homedir()}/`) ? `~${file.slice(homedir().length)}` : file;
    return [`  ${shell.padEnd(6)} add to ${shown}:`, initLine];
  });
  const width = Math.max(...lines.map(([where]) => where.length)) + 2;
  return lines.map(([where, line]) => where.padEnd(width) + line).join("\n");
}

export const help = `caro init: the Ctrl-G widget, for your shell to load

Usage
  caro init ${SHELL_NAMES} [--key <key>] [--explain-key <key>] [--no-bind] [--no-start] [--no-completions]

Options
${optionLines(initArgs)}

Set-up, once
${setUpLines()}

Then type a request at the prompt, press Ctrl-G, and the command replaces it, ready to edit or run.
Alt-M, on a command at the prompt, explains it below the prompt and leaves it as it is.
If another tool took a key, \`caro doctor\` says which; pick another with --key or --explain-key.

Each new shell also starts caro's daemon in the background, silently, and it loads the model, so
the first Ctrl-G is as fast as the next; --no-start or [daemon] start_on_init = false turn that off.

It also sets up TAB completion for caro's commands, options and models (caro completions <shell>
prints it alone); zsh's needs compinit, before or after this line.
`;

/** `caro init <shell>`: prints the widget script for eval (or fish's source), with this caro's paths in it. */
export async function runInit(argv: string[]): Promise<void> {
  const args = parseStrict(argv, initArgs, "init");
  const [shell, ...extra] = args._;
  if (!shell || extra.length > 0) throw new UsageError(usage);
  const known = widgetShell(shell);
  if (!known) throw new UsageError(`unknown shell "${shell}": caro init supports ${WIDGET_SHELL_NAMES.join(", ")}`);
  const key = parseKey(args.key ?? "ctrl-g");
  const explainKey = parseKey(args["explain-key"] ?? DEFAULT_EXPLAIN_KEY, "--explain-key alt-m");
  if (key === explainKey) {
    const flag = args["explain-key"] === undefined ? "--explain-key" : "--key";
    const other = key === "alt-g" ? "alt-k" : "alt-g";
    throw new UsageError(`--key and --explain-key are both ${key}: give each its own key, such as ${flag} ${other}`);
  }
  const config = initSettings();
  const start = args.start !== false && config.start;
  const history = config.history;
  writeOut(initScript(known, { key, explainKey, start, bind: args.bind !== false, history }));
  if (args.completions !== false) {
    const { completionScript } = await import("./completions.js");
    writeOut(`\n${completionScript(known)}`);
  }
}

/**
 * The config's say on starting the daemon, and on the history lines the widget sends. A config
 * that does not load still gets its widget and its daemon: the daemon reports the config's problem
 * on the first request, where it can be read.
 */
function initSettings(): { start: boolean; history: number } {
  try {
    const { settings } = loadConfig();
    return { start: settings["daemon.start_on_init"], history: settings["context.history"] };
  } catch {
    return { start: true, history: 0 };
  }
}
