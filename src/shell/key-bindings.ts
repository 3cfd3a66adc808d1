import { UsageError } from "../errors.js";

// One neutral notation for the keys caro binds (ctrl-g, alt-m), into each shell's own, and back
// out of what each shell prints when asked what its keys do.

export type KeyShell = "zsh" | "bash" | "fish";

/** A key in caro's notation, checked: ctrl-<letter> or alt-<letter>, lower case. */
export function parseKey(key: string, example = "--key ctrl-g"): string {
  const normal = key.toLowerCase();
  if (!/^(ctrl|alt)-[a-z]$/.test(normal))
    throw new UsageError(`unknown key "${key}": use ctrl-<letter> or alt-<letter>, as in ${example}`);
  return normal;
}

/** The key as written in a bind line: bindkey's, readline's, fish 3's (\cg) or fish 4's (ctrl-g) notation. */
export function keyInShell(shell: KeyShell | "fish4", key: string): string {
  const [mod, letter] = parseKey(key).split("-");
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

/** As people write it: Ctrl-G, Alt-M. */
export function keyLabel(key: string): string {
  const [mod, letter] = key.split("-");
  return `${mod === "ctrl" ? "Ctrl" : "Alt"}-${letter.toUpperCase()}`;
}

/** The ways a shell prints this key when it lists its bindings. */
function listedForms(shell: KeyShell, key: string): string[] {
  const [mod, letter] = parseKey(key).split("-");
  switch (shell) {
    case "zsh":
      return [mod === "ctrl" ? `^${letter.toUpperCase()}` : `^[${letter}`];
    case "bash":
      return [mod === "ctrl" ? `\\C-${letter}` : `\\e${letter}`];
    case "fish":
      return mod === "ctrl" ? [`\\c${letter}`, `ctrl-${letter}`] : [`\\e${letter}`, `alt-${letter}`];
  }
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
export const QUERY_SCRIPTS: Record<KeyShell, string> = {
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

/** Splits a line the way fish prints bind commands: words apart by spaces, backslash escapes and quotes kept. */
function fishWords(line: string): string[] {
  const words: string[] = [];
  let word = "";
  let quote = "";
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === quote) quote = "";
      else if (c === "\\" && quote === '"' && i + 1 < line.length) word += line[++i];
      else word += c;
    } else if (c === "'" || c === '"') quote = c;
    else if (c === "\\" && line[i + 1] === " ") word += line[++i];
    else if (c === "\\" && i + 1 < line.length) word += c + line[++i];
    else if (c === " ") {
      if (word) words.push(word);
      word = "";
    } else word += c;
  }
  if (word) words.push(word);
  return words;
}

/** fish's `bind -a` lines for one mode: a user's binding wins over fish's preset for the same key. */
function fishBindings(lines: string[], keymap: string): Map<string, string> {
  const user = new Map<string, string>();
  const preset = new Map<string, string>();
  for (const line of lines) {
    const words = fishWords(line);
    if (words.shift() !== "bind") continue;
    let mode = "default";
    let isPreset = false;
    while (words[0]?.startsWith("-")) {
      const flag = words.shift();
      if (flag === "--preset") isPreset = true;
      else if (flag === "-M" || flag === "--mode") mode = words.shift() ?? mode;
      else if (flag === "-m" || flag === "--sets-mode") words.shift();
    }
    const [sequence, ...command] = words;
    if (mode !== keymap || !sequence) continue;
    // The key stays as listed, to match; the command loses the escapes fish adds (echo\ hi\;).
    const unescaped = command.map((w) => w.replace(/\\([^a-zA-Z0-9])/g, "$1"));
    (isPreset ? preset : user).set(sequence, unescaped.join(" "));
  }
  return new Map([...preset, ...user]);
}

/** zsh's `bindkey -L`-less listing ("^G" send-break) and readline's ("\C-g": abort) into one map. */
function listedBindings(shell: "zsh" | "bash", lines: string[]): Map<string, string> {
  const bindings = new Map<string, string>();
  const pattern = shell === "zsh" ? /^"((?:[^"\\]|\\.)*)" (.*)$/ : /^"((?:[^"\\]|\\.)*)": (.*)$/;
  for (const line of lines) {
    const match = pattern.exec(line);
    if (!match) continue; // comments, zsh's ranges of self-insert
    const [, listed, action] = match;
    // readline keeps a key's own binding at <key>\000 once longer sequences begin with it.
    const sequence = shell === "bash" && listed.endsWith("\\000") ? listed.slice(0, -4) : listed;
    // bash lists bind -x first, then macros, then functions: the first is what the key does.
    if (!bindings.has(sequence)) bindings.set(sequence, action.replace(/^"(.*)"$/, "$1"));
  }
  return bindings;
}

/** The report a query script wrote. */
export function parseShellKeys(shell: KeyShell, text: string): ShellKeys {
  const lines = text.split(/\r?\n/);
  const split = lines.indexOf("---");
  const head = new Map(
    lines.slice(0, split < 0 ? lines.length : split).map((l) => [l.split(" ")[0], l.slice(l.indexOf(" ") + 1)]),
  );
  const listing = split < 0 ? [] : lines.slice(split + 1);
  const keymap = head.get("keymap") || (shell === "fish" ? "default" : "emacs");
  const known = (key: string | undefined) => (key && /^(ctrl|alt)-[a-z]$/.test(key) ? key : undefined);
  return {
    loaded: head.get("loaded") === "1",
    key: known(head.get("key")),
    explainKey: known(head.get("explain")),
    keymap,
    bindings: shell === "fish" ? fishBindings(listing, keymap) : listedBindings(shell, listing),
  };
}

/** What the key runs in the prompt's keymap, or undefined where nothing is bound to it. */
export function boundTo(shell: KeyShell, keys: ShellKeys, key: string): string | undefined {
  for (const form of listedForms(shell, key)) {
    const action = keys.bindings.get(form);
    // zsh's undefined-key and self-insert, as an unbound key in vi insert mode, mean nothing is there.
    if (action !== undefined && !["undefined-key", "self-insert"].includes(action)) return action;
  }
  return undefined;
}

/** Bindings of longer sequences that start with the key (fzf-git.sh's Ctrl-G Ctrl-F …): the shell waits after it. */
export function prefixedBy(shell: KeyShell, keys: ShellKeys, key: string): string[] {
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
