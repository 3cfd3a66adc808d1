// The terminal while the widget waits: the one place that draws "thinking" and the streamed
// command, for every shell, and that turns Ctrl-C into a cancel instead of a SIGINT.

import { openSync, writeSync } from "node:fs";
import { ReadStream, WriteStream } from "node:tty";
import { inertLine } from "../text/inert.js";
import { shellRow, type WidgetShell } from "./shells.js";

export interface HeldTerminal {
  /** Shows the command so far after "thinking"; at most every 50 ms, since a redraw per token flickers. */
  show(partial: string): void;
  /** The text typed while caro thought: printable characters only (no Enter, no arrows, no cancel keys). */
  typed(): string;
  /** Erases what was drawn and gives the terminal back as it was. */
  close(): void;
}

/**
 * The text in keys read from the terminal. Escape sequences (arrows, function keys) and control
 * characters are dropped: a newline typed ahead must not run a command nobody has read yet.
 */
export function typedText(keys: string): string {
  return keys.replace(/\x1b(\[[0-?]*[ -/]*[@-~]|O.|.)?/gs, "").replace(/[\x00-\x1f\x7f\x80-\x9f]/g, "");
}

/** An ellipsis the terminal can show: outside a UTF-8 locale "…" would be three odd bytes. */
function ellipsis(env: NodeJS.ProcessEnv): string {
  const locale = env.LC_ALL || env.LC_CTYPE || env.LANG || "";
  return /utf-?8/i.test(locale) ? "…" : "...";
}

// zsh keeps its prompt and buffer where they are, so caro draws on the line below (made first, by
// scrolling if the prompt is at the bottom: IND then RI keep the column). bash and fish redraw
// their prompt line after the widget, so caro draws in its place (shells.ts says which does which).
// Erasing to the end of the screen also clears what a narrowed window wrapped onto the rows below.
function painter(shell: WidgetShell) {
  if (shellRow(shell).drawsBelowPrompt) {
    return {
      open: "\x1bD\x1bM",
      line: (text: string) => `\x1b7\x1b[1B\r\x1b[J${text}\x1b8`,
      erase: "\x1b7\x1b[1B\r\x1b[J\x1b8",
      // The cursor stays on the prompt's line: the drawn line starts below it whatever the width.
      rewrap: () => "",
    };
  }
  return {
    open: "",
    line: (text: string) => `\r\x1b[J${text}`,
    erase: "\r\x1b[J",
    // The cursor ends the drawn line: a narrower window that reflows it leaves the cursor on its last row.
    rewrap: (drawn: number, columns: number) => (drawn > columns ? `\x1b[${Math.floor((drawn - 1) / columns)}A` : ""),
  };
}

/**
 * Holds the terminal while caro waits: raw mode turns Ctrl-C into a byte this process reads, so
 * the request is cancelled cooperatively and the shell never sees a SIGINT that would drop its line.
 */
export function holdTerminal(onCancel: () => void, shell: WidgetShell, env = process.env): HeldTerminal {
  let fd: number;
  try {
    fd = openSync("/dev/tty", "r+");
  } catch {
    return { show() {}, typed: () => "", close() {} };
  }
  // A stream reads the window's size when made (its getWindowSize is what it read then): one per look.
  const columnsNow = () => {
    try {
      const stream = new WriteStream(openSync("/dev/tty", "w"));
      const columns = stream.columns;
      stream.destroy();
      return columns || 80;
    } catch {
      return 80;
    }
  };
  let columns = columnsNow();
  let keys = "";
  const input = new ReadStream(fd);
  input.setRawMode(true);
  input.on("data", (data: Buffer) => {
    // Ctrl-C, or Ctrl-G again: cancel; what was typed before it is kept.
    const stop = data.findIndex((byte) => byte === 0x03 || byte === 0x07);
    keys += data.subarray(0, stop === -1 ? data.length : stop).toString("utf8");
    if (stop !== -1) onCancel();
  });
  const draw = (text: string) => {
    try {
      writeSync(fd, text);
    } catch {
      // The terminal went away; nothing to draw on.
    }
  };
  const dots = ellipsis(env);
  const thinking = `caro: thinking${dots}`;
  const paint = painter(shell);
  let drawn = 0;
  const line = (text: string) => {
    const fitted = inertLine(text);
    const chars = [...fitted];
    const shown = chars.length < columns ? fitted : `${chars.slice(0, columns - 1 - dots.length).join("")}${dots}`;
    drawn = Math.min(chars.length, columns - 1);
    draw(paint.line(shown));
  };
  draw(paint.open);
  let shown = thinking;
  line(shown);
  let lastDraw = 0;
  // A resized window reflows the line drawn for the old width: erase it and draw it for the new one.
  const resized = () => {
    const old = columns;
    columns = columnsNow();
    if (columns === old) return;
    draw(paint.rewrap(drawn, columns));
    line(shown);
  };
  process.on("SIGWINCH", resized);
  return {
    show(partial: string) {
      const now = Date.now();
      if (now - lastDraw < 50 || partial === "") return;
      lastDraw = now;
      shown = `${thinking} ${partial}`;
      line(shown);
    },
    typed: () => typedText(keys),
    close() {
      process.removeListener("SIGWINCH", resized);
      draw(paint.erase);
      input.setRawMode(false);
      input.destroy();
    },
  };
}
