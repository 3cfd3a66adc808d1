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

// Each script runs in the user's shell after the rc files, and writes what it finds to the file
// named in $CARO_DOCTOR_OUT: a few "name value" lines, "---", then the shell's own binding list.
// Builtins only, since an rc file may define functions named like any command.
export const QUERY_SCRIPTS: Record<WidgetShell, string> = {
  zsh: `{
  builtin print -r -- "loaded $(( \${+functions[_caro_widget]} ))"
  builtin print -r -- "key \${_caro_key-}"
  builtin print -r -- "explain \${_caro_explain_key-}"
  builtin print -r -- "keymap \${\${(z)$(builtin bindkey -lL main)}[3]}"
  builtin print -r -- ---
  builtin bindkey -M main
} >| "$CARO_DOCTOR_OUT" 2>/dev/null
builtin exit 0`,
  bash: `{
  if builtin declare -F _caro_widget >/dev/null; then builtin echo "loaded 1"; else builtin echo "loaded 0"; fi
  builtin echo "key \${_caro_key-}"
  builtin echo "explain \${_caro_explain_key-}"
  if [[ -o vi ]]; then _caro_doctor_keymap=vi-insert; else _caro_doctor_keymap=emacs; fi
  builtin echo "keymap $_caro_doctor_keymap"
  builtin echo ---
  builtin bind -m "$_caro_doctor_keymap" -X
  builtin bind -m "$_caro_doctor_keymap" -s
  builtin bind -m "$_caro_doctor_keymap" -p
} >| "$CARO_DOCTOR_OUT" 2>/dev/null
builtin exit 0`,
  // fish sets up key bindings (fish_user_key_bindings included) as its first prompt draws.
  fish: `function __caro_doctor_report --on-event fish_prompt
    begin
        if builtin functions -q _caro_widget; builtin echo "loaded 1"; else; builtin echo "loaded 0"; end
        builtin echo "key $_caro_key"
        builtin echo "explain $_caro_explain_key"
        builtin echo "keymap $fish_bind_mode"
        builtin echo ---
        builtin bind -a
    end >$CARO_DOCTOR_OUT 2>/dev/null
    builtin exit 0
end`,
};

/** The report a query script wrote. */
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
