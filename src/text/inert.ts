// Text that came from a model or a server is data: written to a terminal it must never move the
// cursor, retitle the window or clear the screen. These make such text inert before caro shows it.

// ESC-introduced sequences: CSI (ESC [ … final), OSC/DCS/SOS/PM/APC strings (ended by BEL or ST),
// and two-character escapes. Their 8-bit C1 forms (U+009B CSI, U+009D OSC, …) likewise.
const ESCAPE_SEQUENCE = new RegExp(
  [
    String.raw`(?:\x1b\[|\x9b)[\x20-\x3f]*[\x40-\x7e]?`,
    String.raw`(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?`,
    String.raw`\x1b[\x20-\x7e]?`,
  ].join("|"),
  "g",
);

// C0 controls but tab and newline, DEL, C1 controls, and the bidirectional overrides that make a
// line read differently from what it holds (the "Trojan Source" characters).
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g;

/** The text with escape sequences removed and every other control character shown as `?`; newlines kept. */
export function inert(text: string): string {
  return text.replace(ESCAPE_SEQUENCE, "").replace(CONTROL, "?");
}

/** Inert, on one line: for a message line under the prompt. */
export function inertLine(text: string): string {
  return inert(text.replace(/\t/g, " "))
    .replace(/\s*\n\s*/g, " ")
    .trim();
}

/** Inert, on one line, at most `max` characters: for quoting a server's words inside a message. */
export function inertExcerpt(text: string, max = 200): string {
  // Controls become spaces here: inside a sentence a "?" would read as part of the server's words.
  const flat = text.replace(ESCAPE_SEQUENCE, "").replace(CONTROL, " ").replace(/\s+/g, " ").trim();
  const chars = [...flat];
  return chars.length <= max ? flat : `${chars.slice(0, max - 1).join("")}…`;
}

/** The first control character a command must not contain (tab and newline are fine), or null. */
export function controlCharacterIn(command: string): string | null {
  const found = new RegExp(CONTROL.source).exec(command);
  return found ? `U+${found[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}` : null;
}
