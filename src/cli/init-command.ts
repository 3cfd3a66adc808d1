import { homedir } from "node:os";
import { UsageError } from "../errors.js";
import { parseStrict } from "./args.js";
import { optionLines } from "./help.js";
import { loadConfig } from "../config/load.js";
import { initScript } from "../shell/init.js";
import { parseKey } from "../shell/key-bindings.js";
import { shellRow, WIDGET_SHELL_NAMES, widgetShell } from "../shell/shells.js";

const SHELL_NAMES = WIDGET_SHELL_NAMES.join("|");
const usage = `usage: caro init ${SHELL_NAMES} [--key ctrl-g] [--explain-key alt-m] [--no-bind] [--no-start]`;

// Alt-M explains by default: it is the one Ctrl or Alt letter that zsh (emacs and viins), bash
// (emacs and vi-insert) and fish 3 and 4 all leave unbound, that fzf, atuin, navi and fzf-git.sh
// do not bind, and that zellij does not take (it holds Alt-F/H/I/J/K/L/N/O/P). Every Ctrl letter is
// taken by some shell. Its one known taker, oh-my-zsh's copy-prev-shell-word, yields when caro's
// init line comes after oh-my-zsh; `caro doctor` says when it does not.
const DEFAULT_EXPLAIN_KEY = "alt-m";

const initArgs = {
  shell: { type: "positional", required: false },
  key: { type: "string", description: "The key: ctrl-<letter> or alt-<letter> (default ctrl-g)" },
  "explain-key": {
    type: "string",
    description: `The key that explains the command at the prompt, as it is (default ${DEFAULT_EXPLAIN_KEY})`,
  },
  bind: { type: "boolean", default: true, description: "Bind the key (--no-bind: only define _caro_widget)" },
  start: {
    type: "boolean",
    default: true,
    description: "Start the daemon in the background, so the first Ctrl-G is fast (--no-start: do not)",
  },
} as const;

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
  caro init ${SHELL_NAMES} [--key <key>] [--explain-key <key>] [--no-bind] [--no-start]

Options
${optionLines(initArgs)}

Set-up, once
${setUpLines()}

Then type a request at the prompt, press Ctrl-G, and the command replaces it, ready to edit or run.
Alt-M, on a command at the prompt, explains it below the prompt and leaves it as it is.
If another tool took a key, \`caro doctor\` says which; pick another with --key or --explain-key.

Each new shell also starts caro's daemon in the background, silently, and it loads the model, so
the first Ctrl-G is as fast as the next; --no-start or [daemon] start_on_init = false turn that off.
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
  const start = args.start !== false && startOnInit();
  process.stdout.write(initScript(known, { key, explainKey, start, bind: args.bind !== false }));
}

/**
 * The config's say on starting the daemon. A config that does not load still gets its widget and
 * its daemon: the daemon reports the config's problem on the first request, where it can be read.
 */
function startOnInit(): boolean {
  try {
    return loadConfig().settings["daemon.start_on_init"];
  } catch {
    return true;
  }
}
