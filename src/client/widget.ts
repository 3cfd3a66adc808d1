// `caro widget <shell> <buffer>`: what Ctrl-G runs, once per keystroke, so it loads only the
// socket client. Its stdout is read by shell/<shell>/caro.<shell>:
//   exit 0:      "<message>\n<new buffer>" (message may be empty)
//   otherwise:   "<message>", and the buffer stays as typed.

import { openSync, writeSync } from "node:fs";
import { ReadStream, WriteStream } from "node:tty";
import { CaroError, InterruptedError } from "../errors.js";
import type { Shell } from "../prompt/context.js";
import { verdictFor } from "../safety/policy.js";
import { inertLine } from "../text/inert.js";
import { askDaemon, clientEnv } from "./ask.js";
import { StreamedCommand } from "./streamed-command.js";

const WIDGET_SHELLS: readonly Shell[] = ["zsh", "bash", "fish"];

const THINKING = "caro: thinking…";

/**
 * The terminal, while caro waits: raw mode turns Ctrl-C into a byte this process reads, so the
 * request is cancelled cooperatively and the shell never sees a SIGINT that would drop its line.
 * It also shows the command as it streams in: on the line below the prompt in zsh (where
 * zle -R put "thinking"), in place of the prompt line in bash and fish (which redraw it after).
 */
function holdTerminal(onCancel: () => void, shell: string) {
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
  const line = (text: string) => {
    const fitted = inertLine(text);
    const shown = [...fitted].length < columns ? fitted : `${[...fitted].slice(0, columns - 2).join("")}…`;
    // zsh: save the cursor, go down to zle's message line, draw, come back.
    draw(shell === "zsh" ? `\x1b7\x1b[1B\r\x1b[2K${shown}\x1b8` : `\r\x1b[2K${shown}`);
  };
  if (shell !== "zsh") line(THINKING);
  let lastDraw = 0;
  return {
    show(partial: string) {
      const now = Date.now();
      if (now - lastDraw < 50 || partial === "") return;
      lastDraw = now;
      line(`${THINKING} ${partial}`);
    },
    close() {
      if (shell !== "zsh") draw("\r\x1b[2K");
      input.setRawMode(false);
      input.destroy();
    },
  };
}

/** Blocked commands go in commented out, line by line, so Enter cannot run them. */
function commentOut(command: string): string {
  return command
    .split("\n")
    .map((line) => `# ${line}`)
    .join("\n");
}

export async function widget(argv: string[]): Promise<number> {
  const [named, buffer = ""] = argv;
  const shell = WIDGET_SHELLS.find((name) => name === named);
  if (shell === undefined) {
    process.stdout.write(`caro: the widget supports ${WIDGET_SHELLS.join(", ")}, not ${named}`);
    return 2;
  }
  if (buffer.trim() === "") return 3;
  const controller = new AbortController();
  const cancel = () => controller.abort();
  process.on("SIGINT", cancel);
  process.on("SIGTERM", cancel);
  const terminal = holdTerminal(cancel, shell);
  let streamed = new StreamedCommand();
  try {
    const { answer, level } = await askDaemon(
      { request: buffer, shell, cwd: process.cwd(), env: clientEnv(), flags: {} },
      {
        signal: controller.signal,
        onEvent(event) {
          // A retry starts its answer afresh.
          if (event.type === "generating") streamed = new StreamedCommand();
          if (event.type !== "text" || typeof event.text !== "string") return;
          streamed.push(event.text);
          terminal.show(streamed.text);
        },
      },
    );
    const verdict = verdictFor(answer.risk, level);
    const why = answer.reasons[0] ?? "";
    if (verdict === "block") process.stdout.write(`caro: rated ${answer.risk} and commented out: ${inertLine(why)}\n${commentOut(answer.command)}`);
    else if (verdict === "run") process.stdout.write(`\n${answer.command}`);
    else process.stdout.write(`caro: rated ${answer.risk}: ${inertLine(why)}\n${answer.command}`);
    return 0;
  } catch (error) {
    if (controller.signal.aborted || error instanceof InterruptedError) {
      process.stdout.write("caro: cancelled");
      return 130;
    }
    process.stdout.write(`caro: ${inertLine(error instanceof CaroError ? error.message : String(error))}`);
    return 1;
  } finally {
    terminal.close();
  }
}
