// The terminal while the widget waits: the one place that draws "thinking" and the streamed
// command, for every shell, and that turns Ctrl-C into a cancel instead of a SIGINT.

import { openSync, writeSync } from "node:fs";
import { ReadStream, WriteStream } from "node:tty";
import { inertLine } from "../text/inert.js";

export interface HeldTerminal {
  /** Shows the command so far after "thinking"; at most every 50 ms, since a redraw per token flickers. */
  show(partial: string): void;
  /** Erases what was drawn and gives the terminal back as it was. */
  close(): void;
}

/** An ellipsis the terminal can show: outside a UTF-8 locale "…" would be three odd bytes. */
function ellipsis(env: NodeJS.ProcessEnv): string {
  const locale = env.LC_ALL || env.LC_CTYPE || env.LANG || "";
  return /utf-?8/i.test(locale) ? "…" : "...";
}

// zsh keeps its prompt and buffer where they are, so caro draws on the line below (made first, by
// scrolling if the prompt is at the bottom: IND then RI keep the column). bash and fish redraw
// their prompt line after the widget, so caro draws in its place.
function painter(shell: string) {
  if (shell === "zsh") {
    return {
      open: "\x1bD\x1bM",
      line: (text: string) => `\x1b7\x1b[1B\r\x1b[2K${text}\x1b8`,
      erase: "\x1b7\x1b[1B\r\x1b[2K\x1b8",
    };
  }
  return { open: "", line: (text: string) => `\r\x1b[2K${text}`, erase: "\r\x1b[2K" };
}

/**
 * Holds the terminal while caro waits: raw mode turns Ctrl-C into a byte this process reads, so
 * the request is cancelled cooperatively and the shell never sees a SIGINT that would drop its line.
 */
export function holdTerminal(onCancel: () => void, shell: string, env = process.env): HeldTerminal {
  let fd: number;
  let columns = 80;
  try {
    fd = openSync("/dev/tty", "r+");
    columns = new WriteStream(openSync("/dev/tty", "w")).columns || 80;
  } catch {
    return { show() {}, close() {} };
  }
  const input = new ReadStream(fd);
  input.setRawMode(true);
  input.on("data", (data: Buffer) => {
    if (data.includes(0x03) || data.includes(0x07)) onCancel(); // Ctrl-C, or Ctrl-G again
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
  const line = (text: string) => {
    const fitted = inertLine(text);
    const chars = [...fitted];
    const shown = chars.length < columns ? fitted : `${chars.slice(0, columns - 1 - dots.length).join("")}${dots}`;
    draw(paint.line(shown));
  };
  draw(paint.open);
  line(thinking);
  let lastDraw = 0;
  return {
    show(partial: string) {
      const now = Date.now();
      if (now - lastDraw < 50 || partial === "") return;
      lastDraw = now;
      line(`${thinking} ${partial}`);
    },
    close() {
      draw(paint.erase);
      input.setRawMode(false);
      input.destroy();
    },
  };
}
