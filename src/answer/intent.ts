// What a buffer asks for, read from its text alone: plain words, or a command to refine by its
// trailing comment (`find . -name '*.log' # only files over 1MB`). Loaded by the thin client.

import type { Intent } from "./types.js";

/**
 * Where the trailing shell comment starts: a `#` at the start of a word, outside quotes, on the
 * last line; -1 when there is none. `$#`, `${#x}`, `a#b` and a quoted `#` are not comments.
 */
function trailingCommentStart(text: string): number {
  let quote: "'" | '"' | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote === "'") {
      if (c === "'") quote = null;
    } else if (c === "\\") {
      i++;
    } else if (quote === '"') {
      if (c === '"') quote = null;
    } else if (c === "'" || c === '"') {
      quote = c;
    } else if (c === "#" && (i === 0 || /\s/.test(text[i - 1]))) {
      // A comment runs to the end of its line: only one on the last line ends the buffer.
      return text.includes("\n", i) ? -1 : i;
    }
  }
  return -1;
}

/** `command # words` as a refine intent; anything else (a comment alone, an empty comment) is plain words. */
export function intentOfBuffer(buffer: string): Intent {
  const start = trailingCommentStart(buffer);
  if (start <= 0) return { kind: "ask" };
  const command = buffer.slice(0, start).trim();
  const words = buffer.slice(start).replace(/^#+/, "").trim();
  if (command === "" || words === "") return { kind: "ask" };
  return { kind: "refine", command, words };
}
