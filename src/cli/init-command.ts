import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { UsageError } from "../errors.js";
import { parseStrict } from "./args.js";
import { optionLines } from "./help.js";

const SHELLS = { zsh: "zsh/caro.zsh", bash: "bash/caro.bash", fish: "fish/caro.fish" } as const;
type InitShell = keyof typeof SHELLS;

const usage = "usage: caro init zsh|bash|fish [--key ctrl-g] [--no-bind]";

const initArgs = {
  shell: { type: "positional", required: false },
  key: { type: "string", description: "The key: ctrl-<letter> or alt-<letter> (default ctrl-g)" },
  bind: { type: "boolean", default: true, description: "Bind the key (--no-bind: only define _caro_widget)" },
} as const;

export const help = `caro init: the Ctrl-G widget, for your shell to load

Usage
  caro init zsh|bash|fish [--key <key>] [--no-bind]

Options
${optionLines(initArgs)}

Set-up, once
  zsh    add to ~/.zshrc:               eval "$(caro init zsh)"
  bash   add to ~/.bashrc:              eval "$(caro init bash)"
  fish   add to config.fish:            caro init fish | source

Then type a request at the prompt, press Ctrl-G, and the command replaces it, ready to edit or run.
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

function bindings(shell: InitShell, key: string): string {
  switch (shell) {
    case "zsh": {
      const k = keyFor("zsh", key);
      return [
        "if [[ -z ${_caro_bound-} ]]; then",
        "  typeset -g _caro_bound=1",
        `  bindkey -M emacs ${k} _caro_widget`,
        `  bindkey -M viins ${k} _caro_widget`,
        `  bindkey -M vicmd ${k} _caro_widget`,
        "fi",
      ].join("\n");
    }
    case "bash": {
      const k = keyFor("bash", key);
      return [
        // bind only where there is line editing: a non-interactive shell would print warnings.
        "if [[ -z ${_caro_bound-} && $- == *i* ]]; then",
        "  if (( BASH_VERSINFO[0] < 4 )); then",
        '    printf \'caro: bash %s has no READLINE_LINE; the Ctrl-G widget needs bash 4 or newer\\n\' "$BASH_VERSION" >&2',
        "  else",
        "    _caro_bound=1",
        `    bind -m emacs -x '"${k}": _caro_widget'`,
        `    bind -m vi-insert -x '"${k}": _caro_widget'`,
        `    bind -m vi-command -x '"${k}": _caro_widget'`,
        "  fi",
        "fi",
      ].join("\n");
    }
    case "fish":
      return [
        "if not set -q _caro_bound",
        "    set -g _caro_bound 1",
        // fish 4 names keys ctrl-g; fish 3 writes \cg.
        "    if string match -qr '^[0-3]\\.' -- $version",
        `        bind ${keyFor("fish", key)} _caro_widget`,
        `        bind -M insert ${keyFor("fish", key)} _caro_widget`,
        "    else",
        `        bind ${keyFor("fish4", key)} _caro_widget`,
        `        bind -M insert ${keyFor("fish4", key)} _caro_widget`,
        "    end",
        "end",
      ].join("\n");
  }
}

/** `caro init <shell>`: prints the widget script for eval (or fish's source), with this caro's paths in it. */
export async function runInit(argv: string[]): Promise<void> {
  const args = parseStrict(argv, initArgs, "init");
  const [shell, ...extra] = args._;
  if (!shell || extra.length > 0) throw new UsageError(usage);
  if (!(shell in SHELLS)) throw new UsageError(`unknown shell "${shell}": caro init supports ${Object.keys(SHELLS).join(", ")}`);
  const key = args.key ?? "ctrl-g";
  const bind = args.bind === false ? "" : bindings(shell as InitShell, key);
  const template = readFileSync(fileURLToPath(new URL(`../../shell/${SHELLS[shell as InitShell]}`, import.meta.url)), "utf8");
  // Absolute paths: the widget works whatever PATH holds, and skips a lookup per keystroke.
  const client = `${quote(process.execPath)} ${quote(fileURLToPath(new URL("../../bin/caro.js", import.meta.url)))}`;
  process.stdout.write(template.replace("@CARO_CLIENT@", client).replace("@CARO_BIND@", bind));
}
