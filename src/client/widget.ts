// `caro widget <shell> <buffer>`: what Ctrl-G runs, once per keystroke, so it loads only the
// socket client. Its stdout is read by shell/<shell>/caro.<shell>:
//   exit 0:      "<message>\n<new buffer>" (message may be empty)
//   otherwise:   "<message>", and the buffer stays as typed.

import { CaroError, InterruptedError } from "../errors.js";
import type { Shell } from "../prompt/context.js";
import { verdictFor } from "../safety/policy.js";
import { inertLine } from "../text/inert.js";
import { askDaemon, clientEnv } from "./ask.js";
import { StreamedCommand } from "./streamed-command.js";
import { holdTerminal } from "./terminal.js";

const WIDGET_SHELLS: readonly Shell[] = ["zsh", "bash", "fish"];

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
    if (verdict === "block") {
      const warning = `caro: rated ${answer.risk} and commented out: ${inertLine(why)}`;
      process.stdout.write(`${warning}\n${commentOut(answer.command)}`);
    } else if (verdict === "run") {
      process.stdout.write(`\n${answer.command}`);
    } else {
      process.stdout.write(`caro: rated ${answer.risk}: ${inertLine(why)}\n${answer.command}`);
    }
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
