import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { loadConfig } from "../config/load.js";
import { UsageError } from "../errors.js";
import { parseStrict } from "./args.js";
import { optionLines } from "./help.js";

const WIDGET_FILES = { zsh: "zsh/caro.zsh", bash: "bash/caro.bash", fish: "fish/caro.fish" } as const;
type InitShell = keyof typeof WIDGET_FILES;

const usage = "usage: caro init zsh|bash|fish [--key ctrl-g] [--no-bind] [--no-start]";

const initArgs = {
  shell: { type: "positional", required: false },
  key: { type: "string", description: "The key: ctrl-<letter> or alt-<letter> (default ctrl-g)" },
  bind: { type: "boolean", default: true, description: "Bind the key (--no-bind: only define _caro_widget)" },
  start: {
    type: "boolean",
    default: true,
    description: "Start the daemon in the background, so the first Ctrl-G is fast (--no-start: do not)",
  },
} as const;

export const help = `caro init: the Ctrl-G widget, for your shell to load

Usage
  caro init zsh|bash|fish [--key <key>] [--no-bind] [--no-start]

Options
${optionLines(initArgs)}

Set-up, once
  zsh    add to ~/.zshrc:               eval "$(caro init zsh)"
  bash   add to ~/.bashrc:              eval "$(caro init bash)"
  fish   add to config.fish:            caro init fish | source

Then type a request at the prompt, press Ctrl-G, and the command replaces it, ready to edit or run.
Each new shell also starts caro's daemon in the background, silently, and it loads the model, so
the first Ctrl-G is as fast as the next; --no-start or [daemon] start_on_init = false turn that off.
`;

function quote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** The key, from one neutral notation (ctrl-g, alt-g) into each shell's own. */
function keyFor(shell: InitShell | "fish4", key: string): string {
  const match = /^(ctrl|alt)-([a-z])$/.exec(key.toLowerCase());
  if (!match) throw new UsageError(`unknown key "${key}": use ctrl-<letter> or alt-<letter>, as in --key ctrl-g`);
  const [, mod, letter] = match;
  switch (shell) {
    case "zsh":
      return mod === "ctrl" ? `'^${letter.toUpperCase()}'` : `'^[${letter}'`;
    case "bash":
      return mod === "ctrl" ? `\\C-${letter}` : `\\e${letter}`;
    case "fish":
      return mod === "ctrl" ? `\\c${letter}` : `\\e${letter}`;
    case "fish4":
      return `${mod}-${letter}`;
  }
}

/**
 * The shell file with its placeholders filled in. The code stays in shell/<shell>/, where it can
 * be read and linted as shell; only these values come from here.
 */
function initScript(shell: InitShell, key: string, bind: boolean, start: boolean): string {
  const template = readFileSync(fileURLToPath(new URL(`../../shell/${WIDGET_FILES[shell]}`, import.meta.url)), "utf8");
  // Absolute paths: the widget works whatever PATH holds, and skips a lookup per keystroke.
  const client = `${quote(process.execPath)} ${quote(fileURLToPath(new URL("../../bin/caro.js", import.meta.url)))}`;
  const values: Record<string, string> = {
    CARO_CLIENT: client,
    CARO_BIND: bind ? "1" : "0",
    CARO_START: start ? "1" : "0",
    CARO_SHELL: shell,
    CARO_KEY: keyFor(shell, key),
    CARO_KEY_FISH4: keyFor("fish4", key),
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
  const start = args.start !== false && startOnInit();
  process.stdout.write(initScript(shell as InitShell, args.key ?? "ctrl-g", args.bind !== false, start));
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
