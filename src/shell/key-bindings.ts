import { UsageError } from "../errors.js";
import { type Modifier, shellRow, type WidgetShell } from "./shells.js";

// One neutral notation for the keys caro binds (ctrl-g, alt-m), into each shell's own (the table
// in shells.ts), and back out of what each shell prints when asked what its keys do.

/** A key in caro's notation, checked: ctrl-<letter> or alt-<letter>, lower case. */
export function parseKey(key: string, example = "--key ctrl-g"): string {
  const normal = key.toLowerCase();
  if (!/^(ctrl|alt)-[a-z]$/.test(normal))
    throw new UsageError(`unknown key "${key}": use ctrl-<letter> or alt-<letter>, as in ${example}`);
  return normal;
}

/** A checked key's modifier and letter. */
export function keyParts(key: string): [Modifier, string] {
  const [mod, letter] = parseKey(key).split("-");
  return [mod as Modifier, letter];
}

/** As people write it: Ctrl-G, Alt-M. */
export function keyLabel(key: string): string {
  const [mod, letter] = key.split("-");
  return `${mod === "ctrl" ? "Ctrl" : "Alt"}-${letter.toUpperCase()}`;
}

/** The ways a shell prints this key when it lists its bindings. */
function listedForms(shell: WidgetShell, key: string): string[] {
  return shellRow(shell).listedKey(...keyParts(key));
}

/** What a shell said about itself after its rc files loaded. */
export interface ShellKeys {
  /** caro's widget function is defined. */
  loaded: boolean;
  /** The keys caro's widget says it bound (its _caro_key and _caro_explain_key), if it says. */
  key?: string;
  explainKey?: string;
  /** The keymap the prompt starts in: emacs, viins, vi-insert, default, insert. */
  keymap: string;
  /** Key sequence, as the shell lists it, to what it runs, in that keymap. */
  bindings: Map<string, string>;
}

/** The report a key-query script (shell/<shell>/keys.<shell>) wrote: "name value" lines, ---, the listing. */
export function parseShellKeys(shell: WidgetShell, text: string): ShellKeys {
  const lines = text.split(/\r?\n/);
  const split = lines.indexOf("---");
  const head = new Map(
    lines.slice(0, split < 0 ? lines.length : split).map((l) => [l.split(" ")[0], l.slice(l.indexOf(" ") + 1)]),
  );
  const listing = split < 0 ? [] : lines.slice(split + 1);
  const keymap = head.get("keymap") || shellRow(shell).keymaps[0];
  const known = (key: string | undefined) => (key && /^(ctrl|alt)-[a-z]$/.test(key) ? key : undefined);
  return {
    loaded: head.get("loaded") === "1",
    key: known(head.get("key")),
    explainKey: known(head.get("explain")),
    keymap,
    bindings: shellRow(shell).readBindings(listing, keymap),
  };
}

/** What the key runs in the prompt's keymap, or undefined where nothing is bound to it. */
export function boundTo(shell: WidgetShell, keys: ShellKeys, key: string): string | undefined {
  for (const form of listedForms(shell, key)) {
    const action = keys.bindings.get(form);
    // zsh's undefined-key and self-insert, as an unbound key in vi insert mode, mean nothing is there.
    if (action !== undefined && !["undefined-key", "self-insert"].includes(action)) return action;
  }
  return undefined;
}

/** Bindings of longer sequences that start with the key (fzf-git.sh's Ctrl-G Ctrl-F …): the shell waits after it. */
export function prefixedBy(shell: WidgetShell, keys: ShellKeys, key: string): string[] {
  const forms = listedForms(shell, key);
  return [...keys.bindings.entries()]
    .filter(([sequence]) => forms.some((f) => sequence.length > f.length && sequence.startsWith(f)))
    .map(([, action]) => action);
}

/** The tool a bound widget most likely comes from, by the names they give their functions. */
export function toolOf(action: string): string | undefined {
  const tools: [RegExp, string][] = [
    [/navi/, "navi"],
    [/fzf[-_]git/, "fzf-git.sh"],
    [/fzf/, "fzf"],
    [/atuin/, "atuin"],
  ];
  return tools.find(([pattern]) => pattern.test(action))?.[1];
}
