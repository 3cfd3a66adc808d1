// What each shell prints when asked for its key bindings, read into one map per keymap: the key
// sequence as the shell lists it, to what it runs. doctor's key-query scripts write these listings.

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
export function fishBindings(lines: string[], keymap: string): Map<string, string> {
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

/** A listing of quoted key sequences, the first binding of each kept (bash lists bind -x first). */
function quotedBindings(lines: string[], pattern: RegExp, sequenceOf = (listed: string) => listed) {
  const bindings = new Map<string, string>();
  for (const line of lines) {
    const match = pattern.exec(line);
    if (!match) continue; // comments, zsh's ranges of self-insert
    const [, listed, action] = match;
    const sequence = sequenceOf(listed);
    if (!bindings.has(sequence)) bindings.set(sequence, action.replace(/^"(.*)"$/, "$1"));
  }
  return bindings;
}

/** zsh's `bindkey -M <keymap>` listing: "^G" send-break. */
export function zleBindings(lines: string[]): Map<string, string> {
  return quotedBindings(lines, /^"((?:[^"\\]|\\.)*)" (.*)$/);
}

/** readline's `bind -X`, `-s` and `-p` listings: "\C-g": abort. */
export function readlineBindings(lines: string[]): Map<string, string> {
  // readline keeps a key's own binding at <key>\000 once longer sequences begin with it.
  return quotedBindings(lines, /^"((?:[^"\\]|\\.)*)": (.*)$/, (listed) =>
    listed.endsWith("\\000") ? listed.slice(0, -4) : listed,
  );
}
