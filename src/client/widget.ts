// `caro widget <shell> <buffer>`: what Ctrl-G runs, once per keystroke, so it loads only the
// socket client. Its stdout is read by shell/<shell>/caro.<shell>:
//   exit 0:      "<message>\n<new buffer>" (message may be empty)
//   otherwise:   "<message>", and the buffer stays as typed.

import { openSync, writeSync } from "node:fs";
import { ReadStream } from "node:tty";
import { CaroError, InterruptedError } from "../errors.js";
import type { SafetyLevel } from "../config/schema.js";
import { verdictFor } from "../safety/policy.js";
import { askDaemon, clientEnv } from "./ask.js";

const WIDGET_SHELLS = ["zsh", "bash", "fish"];

/**
 * The terminal, while caro waits: raw mode turns Ctrl-C into a byte this process reads, so the
 * request is cancelled cooperatively and the shell never sees a SIGINT that would drop its line.
 */
function holdTerminal(onCancel: () => void, statusLine: string | null) {
  let fd: number;
  try {
    fd = openSync("/dev/tty", "r+");
  } catch {
    return { close() {} };
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
  if (statusLine) draw(`\r\x1b[2K${statusLine}`);
  return {
    close() {
      if (statusLine) draw("\r\x1b[2K");
      input.setRawMode(false);
      input.destroy();
    },
  };
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, " ").trim();
}

/** Blocked commands go in commented out, line by line, so Enter cannot run them. */
function commentOut(command: string): string {
  return command
    .split("\n")
    .map((line) => `# ${line}`)
    .join("\n");
}

export async function widget(argv: string[]): Promise<number> {
  const [shell, buffer = ""] = argv;
  if (!WIDGET_SHELLS.includes(shell)) {
    process.stdout.write(`caro: the widget supports ${WIDGET_SHELLS.join(", ")}, not ${shell}`);
    return 2;
  }
  if (buffer.trim() === "") return 3;
  const controller = new AbortController();
  const cancel = () => controller.abort();
  process.on("SIGINT", cancel);
  process.on("SIGTERM", cancel);
  // zsh shows its own "thinking" message with zle -R; bash and fish get one drawn on the terminal.
  const terminal = holdTerminal(cancel, shell === "zsh" ? null : "caro: thinking…");
  try {
    const { answer, level } = await askDaemon(
      { request: buffer, shell, cwd: process.cwd(), env: clientEnv(), flags: {} },
      { signal: controller.signal },
    );
    const verdict = verdictFor(answer.risk, level as SafetyLevel);
    const why = answer.reasons[0] ?? "";
    if (verdict === "block") process.stdout.write(`caro: rated ${answer.risk} and commented out: ${oneLine(why)}\n${commentOut(answer.command)}`);
    else if (verdict === "run") process.stdout.write(`\n${answer.command}`);
    else process.stdout.write(`caro: rated ${answer.risk}: ${oneLine(why)}\n${answer.command}`);
    return 0;
  } catch (error) {
    if (controller.signal.aborted || error instanceof InterruptedError) {
      process.stdout.write("caro: cancelled");
      return 130;
    }
    process.stdout.write(`caro: ${oneLine(error instanceof CaroError ? error.message : String(error))}`);
    return 1;
  } finally {
    terminal.close();
  }
}
