// The shells caro's widget runs in, one row each. Everything that differs by shell is read from
// here (init, the widget and its session client, the terminal, doctor's key checks, the daemon's
// warm-up): adding a shell is a row here and its script under shell/<name>/.

import { homedir } from "node:os";
import { join } from "node:path";
import { FORWARDED, FORWARDED_NAMES, FORWARDED_PREFIXES } from "../client/forwarded.js";
import { configHome } from "../config/paths.js";
import type { Shell } from "../prompt/context.js";
import { fishBindings, readlineBindings, zleBindings } from "./bind-listings.js";

export type Modifier = "ctrl" | "alt";

export interface ShellRow {
  /** The widget's script under shell/, whose placeholders `caro init` fills in. */
  script: string;
  /** Where the user puts the init line. */
  rcFile(): string;
  /** The line that loads caro, as the user writes it in the rc file. */
  initLine: string;
  /** The keymaps the widget binds its keys in; the first is the one a prompt starts in by default. */
  keymaps: readonly string[];
  /**
   * A key in each notation the script binds it in, by placeholder: "KEY" fills @CARO_KEY@ and
   * @CARO_EXPLAIN_KEY@; "KEY_FISH4" fills @CARO_KEY_FISH4@ and @CARO_EXPLAIN_KEY_FISH4@.
   */
  bindKey(mod: Modifier, letter: string): Record<string, string>;
  /** The ways the shell writes the key when it lists its bindings. */
  listedKey(mod: Modifier, letter: string): string[];
  /** The shell's binding listing (what its key-query script wrote), for one keymap. */
  readBindings(lines: string[], keymap: string): Map<string, string>;
  /** doctor's question about the keys, under shell/: run in the shell after the user's rc files. */
  keysQuery: string;
  /** The shell as a terminal starts it (rc files loaded), then sourcing the file in $CARO_DOCTOR_QUERY. */
  probeArgv(path: string): string[];
  /** The variables a request carries, in the shell's own terms, for @CARO_FORWARDED@. */
  forwarded: string;
  /** `#` starts a comment at every prompt, whatever the options (else the widget says so with --comments). */
  alwaysComments: boolean;
  /** The line editor keeps its prompt where it is while a widget runs, so caro draws on the line below. */
  drawsBelowPrompt: boolean;
}

export const WIDGET_SHELLS = {
  zsh: {
    script: "zsh/caro.zsh",
    rcFile: () => join(process.env.ZDOTDIR || homedir(), ".zshrc"),
    initLine: 'eval "$(caro init zsh)"',
    keymaps: ["emacs", "viins", "vicmd"],
    bindKey: (mod, letter) => ({ KEY: mod === "ctrl" ? `'^${letter.toUpperCase()}'` : `'^[${letter}'` }),
    listedKey: (mod, letter) => [mod === "ctrl" ? `^${letter.toUpperCase()}` : `^[${letter}`],
    readBindings: zleBindings,
    keysQuery: "zsh/keys.zsh",
    probeArgv: (path) => [path, "-i", "-c", '\\builtin source "$CARO_DOCTOR_QUERY"'],
    /** A pattern for `${(k)parameters[(I)…]}`. */
    forwarded: `(${[...FORWARDED_PREFIXES.map((p) => `${p}*`), ...FORWARDED_NAMES].join("|")})`,
    alwaysComments: false,
    drawsBelowPrompt: true,
  },
  bash: {
    script: "bash/caro.bash",
    rcFile: () => join(homedir(), ".bashrc"),
    initLine: 'eval "$(caro init bash)"',
    keymaps: ["emacs", "vi-insert", "vi-command"],
    bindKey: (mod, letter) => ({ KEY: mod === "ctrl" ? `\\C-${letter}` : `\\e${letter}` }),
    listedKey: (mod, letter) => [mod === "ctrl" ? `\\C-${letter}` : `\\e${letter}`],
    readBindings: readlineBindings,
    keysQuery: "bash/keys.bash",
    probeArgv: (path) => [path, "-i", "-c", '\\builtin source "$CARO_DOCTOR_QUERY"'],
    /** Words that expand to every such name that is set (`${!CARO_@}` lists CARO_*). */
    forwarded: [...FORWARDED_PREFIXES.map((p) => `"\${!${p}@}"`), ...FORWARDED_NAMES].join(" "),
    alwaysComments: false,
    drawsBelowPrompt: false,
  },
  fish: {
    script: "fish/caro.fish",
    rcFile: () => join(configHome(), "fish", "config.fish"),
    initLine: "caro init fish | source",
    keymaps: ["default", "insert"],
    // fish 3 reads \cg; fish 4 reads ctrl-g (and warns about \cg).
    bindKey: (mod, letter) => ({
      KEY: mod === "ctrl" ? `\\c${letter}` : `\\e${letter}`,
      KEY_FISH4: `${mod}-${letter}`,
    }),
    listedKey: (mod, letter) =>
      mod === "ctrl" ? [`\\c${letter}`, `ctrl-${letter}`] : [`\\e${letter}`, `alt-${letter}`],
    readBindings: fishBindings,
    keysQuery: "fish/keys.fish",
    // -C runs after config.fish; the script waits there for the first prompt.
    probeArgv: (path) => [path, "-i", "-C", "builtin source $CARO_DOCTOR_QUERY"],
    /** A regular expression for `string match -r`, single-quoted. */
    forwarded: `'${FORWARDED.source}'`,
    alwaysComments: true,
    drawsBelowPrompt: false,
  },
} as const satisfies Partial<Record<Shell, ShellRow>>;

export type WidgetShell = keyof typeof WIDGET_SHELLS;

/** The shells' names, in the table's order. */
export const WIDGET_SHELL_NAMES = Object.keys(WIDGET_SHELLS) as WidgetShell[];

/** The row of a shell named by a user or a script, or undefined when caro's widget has no such shell. */
export function widgetShell(name: string | undefined): WidgetShell | undefined {
  return WIDGET_SHELL_NAMES.find((shell) => shell === name);
}

/** The row itself, typed as any row. */
export function shellRow(shell: WidgetShell): ShellRow {
  return WIDGET_SHELLS[shell];
}

/** "zsh, bash or fish": the shells in a sentence. */
export function shellsInWords(last = "or"): string {
  return `${WIDGET_SHELL_NAMES.slice(0, -1).join(", ")} ${last} ${WIDGET_SHELL_NAMES.at(-1)}`;
}
