import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { UsageError } from "../errors.js";
import { parseStrict } from "./args.js";
import { optionLines } from "./help.js";
import { loadConfig } from "../config/load.js";
import { keyInShell, parseKey } from "../shell/key-bindings.js";
import { forwardedInShell } from "../client/forwarded.js";

const WIDGET_FILES = { zsh: "zsh/caro.zsh", bash: "bash/caro.bash", fish: "fish/caro.fish" } as const;
type InitShell = keyof typeof WIDGET_FILES;

const usage = "usage: caro init zsh|bash|fish [--key ctrl-g] [--explain-key alt-m] [--no-bind] [--no-start]";

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
    description: `The key that explains the command at the prompt, leaving it as it is (default ${DEFAULT_EXPLAIN_KEY})`,
  },
  bind: { type: "boolean", default: true, description: "Bind the key (--no-bind: only define _caro_widget)" },
  start: {
    type: "boolean",
    default: true,
    description: "Start the daemon in the background, so the first Ctrl-G is fast (--no-start: do not)",
  },
} as const;

export const help = `caro init: the Ctrl-G widget, for your shell to load

Usage
  caro init zsh|bash|fish [--key <key>] [--explain-key <key>] [--no-bind] [--no-start]

Options
${optionLines(initArgs)}

Set-up, once
  zsh    add to ~/.zshrc:               eval "$(caro init zsh)"
  bash   add to ~/.bashrc:              eval "$(caro init bash)"
  fish   add to config.fish:            caro init fish | source

Then type a request at the prompt, press Ctrl-G, and the command replaces it, ready to edit or run.
Alt-M, on a command at the prompt, explains it below the prompt and leaves it as it is.
If another tool took a key, \`caro doctor\` says which; pick another with --key or --explain-key.

Each new shell also starts caro's daemon in the background, silently, and it loads the model, so
the first Ctrl-G is as fast as the next; --no-start or [daemon] start_on_init = false turn that off.
`;

function quote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/**
 * The shell file with its placeholders filled in. The code stays in shell/<shell>/, where it can
 * be read and linted as shell; only these values come from here.
 */
export function initScript(
  shell: InitShell,
  keys: { key: string; explainKey: string; start?: boolean },
  bind: boolean,
  template = readFileSync(fileURLToPath(new URL(`../../shell/${WIDGET_FILES[shell]}`, import.meta.url)), "utf8"),
): string {
  // Absolute paths: the widget works whatever PATH holds, and skips a lookup per keystroke.
  const client = `${quote(process.execPath)} ${quote(fileURLToPath(new URL("../../bin/caro.js", import.meta.url)))}`;
  const values: Record<string, string> = {
    CARO_CLIENT: client,
    CARO_BIND: bind ? "1" : "0",
    CARO_START: keys.start ? "1" : "0",
    CARO_SHELL: shell,
    CARO_KEY: keyInShell(shell, keys.key),
    CARO_KEY_FISH4: keyInShell("fish4", keys.key),
    CARO_EXPLAIN_KEY: keyInShell(shell, keys.explainKey),
    CARO_EXPLAIN_KEY_FISH4: keyInShell("fish4", keys.explainKey),
    // In caro's notation, for the widget to keep in _caro_key and _caro_explain_key: caro doctor reads them.
    CARO_KEY_NAME: keys.key,
    CARO_EXPLAIN_KEY_NAME: keys.explainKey,
    // The variables a request carries, from the one list the client and the session client use.
    CARO_FORWARDED_ZSH: forwardedInShell.zsh,
    CARO_FORWARDED_BASH: forwardedInShell.bash,
    CARO_FORWARDED_FISH: forwardedInShell.fish,
  };
  return template.replace(/@(CARO_[A-Z0-9_]+)@/g, (placeholder, name: string) => {
    if (!(name in values)) throw new Error(`shell/${WIDGET_FILES[shell]} has an unknown placeholder ${placeholder}`);
    return values[name];
  });
}

/** `caro init <shell>`: prints the widget script for eval (or fish's source), with this caro's paths in it. */
export async function runInit(argv: string[]): Promise<void> {
  const args = parseStrict(argv, initArgs, "init");
  const [shell, ...extra] = args._;
  if (!shell || extra.length > 0) throw new UsageError(usage);
  if (!(shell in WIDGET_FILES)) {
    throw new UsageError(`unknown shell "${shell}": caro init supports ${Object.keys(WIDGET_FILES).join(", ")}`);
  }
  const key = parseKey(args.key ?? "ctrl-g");
  const explainKey = parseKey(args["explain-key"] ?? DEFAULT_EXPLAIN_KEY, "--explain-key alt-m");
  if (key === explainKey) {
    const flag = args["explain-key"] === undefined ? "--explain-key" : "--key";
    const other = key === "alt-g" ? "alt-k" : "alt-g";
    throw new UsageError(`--key and --explain-key are both ${key}: give each its own key, such as ${flag} ${other}`);
  }
  const start = args.start !== false && startOnInit();
  process.stdout.write(initScript(shell as InitShell, { key, explainKey, start }, args.bind !== false));
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
