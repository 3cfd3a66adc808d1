// `caro widget <shell> [options] [--] <buffer>`: what Ctrl-G runs, so it loads only the socket
// client. Its output is read by shell/<shell>/caro.<shell>, by its exit status (contract.ts's
// WIDGET_EXIT): an answer the shell remembers as shown for this request, so Ctrl-G on it again
// asks for another; the typed keys alone; or a message, and the buffer stays as typed.
// Options, from the shell's own state:
//   --shown <buffer>        a buffer caro already wrote for this request (repeatable): another candidate
//   --failed <command> --status <n>   the empty line's last command failed: propose a fix
//   --explain               explain the buffer's command: prints lines to show, exit 0, buffer untouched
//   --comments              `#` starts a comment at this prompt (zsh's interactive_comments, bash's
//                           shopt): a blocked command goes in as `# …`; without it, as an assignment
//                           that runs nothing (disarm.ts). fish always has comments.

import { intentOfBuffer } from "../answer/intent.js";
import type { Intent, ShellContext } from "../answer/types.js";
import { CaroError, InterruptedError } from "../errors.js";
import { verdictFor } from "../safety/policy.js";
import { inertLine } from "../text/inert.js";
import { askDaemon, clientEnv } from "../client/ask.js";
import type { KeptConnection } from "../client/connection.js";
import { WIDGET_EXIT } from "./contract.js";
import { commandOf, disarm } from "./disarm.js";
import { paneText, sentContext } from "./shell-context.js";
import { StreamedCommand } from "./streamed-command.js";
import { shellRow, WIDGET_SHELL_NAMES, type WidgetShell, widgetShell } from "./shells.js";
import { holdTerminal } from "./terminal.js";

/** What the shell asked for, from the widget's arguments. */
export interface WidgetCall {
  shell: WidgetShell;
  buffer: string;
  shown: string[];
  failed?: { command: string; status: number };
  explain: boolean;
  /** A line starting with `#` is a comment in this shell, as its options stand. */
  comments: boolean;
}

/** The widget's arguments, or the one-line reason they are wrong. */
export function parseWidgetArgs(argv: string[]): WidgetCall | string {
  const [named, ...rest] = argv;
  const shell = widgetShell(named);
  if (shell === undefined) return `caro: the widget supports ${WIDGET_SHELL_NAMES.join(", ")}, not ${named}`;
  const comments = shellRow(shell).alwaysComments;
  const call: WidgetCall = { shell, buffer: "", shown: [], explain: false, comments };
  let failed: string | undefined;
  let status: number | undefined;
  let i = 0;
  for (; i < rest.length && rest[i] !== "--"; i++) {
    const option = rest[i];
    if (option === "--explain") call.explain = true;
    else if (option === "--comments") call.comments = true;
    else if (option === "--shown" && i + 1 < rest.length) call.shown.push(rest[++i]);
    else if (option === "--failed" && i + 1 < rest.length) failed = rest[++i];
    else if (option === "--status" && /^\d{1,3}$/.test(rest[i + 1] ?? "")) status = Number(rest[++i]);
    else if (!option.startsWith("--") && i === rest.length - 1)
      break; // `widget zsh <buffer>`
    else return `caro: unknown widget option ${JSON.stringify(option)}`;
  }
  if (rest[i] === "--") i++;
  if (rest.length - i > 1) return "caro: the widget takes one buffer";
  call.buffer = rest[i] ?? "";
  // The shell hands it over as typed: a space before it (kept out of history) is no part of it.
  if (failed !== undefined && status !== undefined && failed.trim() !== "")
    call.failed = { command: failed.trim(), status };
  return call;
}

function ordinal(n: number): string {
  const tens = n % 100;
  const suffix = tens >= 11 && tens <= 13 ? "th" : (["th", "st", "nd", "rd"][n % 10] ?? "th");
  return `${n}${suffix}`;
}

/** What the request is: the shell's state decides a fix; the buffer's text decides a refine. */
function requestFor(call: WidgetCall): { request: string; intent: Intent } {
  if (call.failed) return { request: call.failed.command, intent: { kind: "fix", ...call.failed } };
  if (call.explain) return { request: call.buffer, intent: { kind: "explain" } };
  return { request: call.buffer, intent: intentOfBuffer(call.buffer) };
}

/** What the shell sent of itself with its request (through the session client; the one-shot client has none). */
export interface FromShell {
  history: string[];
  names: string[];
}

/**
 * What the request carries of the shell: its history and names, and for a fix, the tmux pane it
 * runs in, unless `context.screen = "never"` (the daemon decides "local" by the backend it uses).
 */
async function shellContext(call: WidgetCall, from: FromShell | undefined, signal: AbortSignal) {
  const context: ShellContext = from ? sentContext(from.history, from.names) : {};
  if (call.failed && process.env.TMUX_PANE) {
    const { loadConfig } = await import("../config/load.js");
    let mode = "local";
    try {
      mode = loadConfig({}, process.env).settings["context.screen"];
    } catch {
      // The daemon reports a config that does not load; until then the screen goes as by default.
    }
    const screen = mode === "never" ? undefined : await paneText(process.env, signal);
    if (screen !== undefined) context.screen = screen;
  }
  return Object.keys(context).length > 0 ? context : undefined;
}

/** Runs one Ctrl-G: writes what the shell reads to `write`, returns the exit status it reads. */
export async function runWidget(
  argv: string[],
  write: (text: string) => void,
  interrupt?: AbortSignal,
  kept?: KeptConnection,
  fromShell?: FromShell,
): Promise<number> {
  const call = parseWidgetArgs(argv);
  if (typeof call === "string") {
    write(call);
    return WIDGET_EXIT.usage;
  }
  const { shell, shown } = call;
  if (call.buffer.trim() === "" && !call.failed) return WIDGET_EXIT.nothingToDo;
  const controller = new AbortController();
  const cancel = () => controller.abort();
  interrupt?.addEventListener("abort", cancel, { once: true });
  // Read before caro draws below the prompt: the pane as the failed command left it.
  const context = await shellContext(call, fromShell, controller.signal);
  const terminal = holdTerminal(cancel, shell);
  let streamed = new StreamedCommand();
  // Keys typed while caro thinks go after the answer: never a newline, so nothing runs unseen.
  const withTyped = (buffer: string) => buffer + terminal.typed();
  try {
    const { request, intent } = requestFor(call);
    const { answer, level } = await askDaemon(
      {
        words: request,
        intent,
        shown: shown.map(commandOf),
        shell,
        cwd: process.cwd(),
        env: clientEnv(),
        flags: {},
        ...(context ? { context } : {}),
      },
      {
        signal: controller.signal,
        onEvent(event) {
          // A retry starts its answer afresh.
          if (event.type === "generating") streamed = new StreamedCommand();
          if (call.explain || (event.type !== "text" && event.type !== "command")) return;
          if (typeof event.text !== "string") return;
          if (event.type === "text") streamed.push(event.text);
          else streamed.pushCommand(event.text);
          terminal.show(streamed.text);
        },
      },
      kept,
    );
    const why = inertLine(answer.reasons[0] ?? "");
    if (call.explain) {
      const rated = `caro: rated ${answer.risk}${why ? `: ${why}` : ""}`;
      const lines = answer.explanation.split("\n").map((line) => inertLine(line));
      write([...lines, rated].join("\n"));
      return WIDGET_EXIT.answered;
    }
    const verdict = verdictFor(answer.risk, level);
    const which = shown.length > 0 ? `${ordinal(shown.length + 1)} answer` : "";
    // What the checks found wrong, after the daemon asked once more: the answer goes in, with why.
    const warnings = answer.warnings.map((warning) => inertLine(warning));
    const message = (rating: string) => `caro: ${[which, rating, ...warnings].filter(Boolean).join(" · ")}`;
    if (verdict === "block") {
      const how = call.comments ? "commented out" : "quoted so Enter runs nothing";
      write(
        `${message(`rated ${answer.risk} and ${how}: ${why}`)}\n${withTyped(disarm(answer.command, call.comments))}`,
      );
    } else if (verdict === "run") {
      write(`${which || warnings.length > 0 ? message("") : ""}\n${withTyped(answer.command)}`);
    } else {
      write(`${message(`rated ${answer.risk}: ${why}`)}\n${withTyped(answer.command)}`);
    }
    return WIDGET_EXIT.answered;
  } catch (error) {
    const aborted = controller.signal.aborted || error instanceof InterruptedError;
    const message = aborted
      ? "caro: cancelled"
      : `caro: ${inertLine(error instanceof CaroError ? error.message : String(error))}`;
    const typed = terminal.typed();
    if (typed !== "" && !call.explain) {
      write(`${message}\n${call.buffer}${typed}`);
      return WIDGET_EXIT.typedKeysOnly;
    }
    write(message);
    return aborted ? WIDGET_EXIT.cancelled : WIDGET_EXIT.failed;
  } finally {
    interrupt?.removeEventListener("abort", cancel);
    terminal.close();
  }
}

/** `caro widget …` as its own process: Ctrl-C and SIGTERM cancel, the output goes to stdout. */
export async function widget(argv: string[]): Promise<number> {
  const interrupted = new AbortController();
  const cancel = () => interrupted.abort();
  process.on("SIGINT", cancel);
  process.on("SIGTERM", cancel);
  return runWidget(argv, (text) => process.stdout.write(text), interrupted.signal);
}
