import { writeOut, writeErr } from "./closed-output.js";
import type { Answer, Asker, UserRequest } from "../answer/types.js";
import type { BackendEvent } from "../backends/types.js";
import { askDaemon, clientEnv } from "../client/ask.js";
import { parseSetting } from "../config/schema.js";
import { InterruptedError, UsageError } from "../errors.js";
import { progressReporter } from "./progress.js";
import { shellFromEnvironment, shellNamed, type Shell } from "../prompt/shells.js";
import { parseStrict } from "./args.js";
import { generateArgs } from "./commands.js";
import { say, warn } from "./output.js";
import { readRequest } from "./read-request.js";

function pickShell(flag: string | undefined): Shell {
  if (flag === undefined) return shellFromEnvironment();
  return shellNamed(flag);
}

/** Prints a request's progress events on stderr: warnings and downloads always, the rest with --verbose. */
export function eventPrinter(verbose: boolean) {
  let decoding = false;
  const download = progressReporter();
  let downloading = false;
  return (event: BackendEvent) => {
    if (event.type === "warning") return warn(event.text);
    if (event.type === "download") {
      downloading = true;
      download.update(event);
      return;
    }
    if (downloading) {
      download.done();
      downloading = false;
    }
    if (!verbose) return;
    if (event.type === "waiting") say(event.text);
    else if (event.type === "recheck") say(`asking again: ${event.reasons.join("; ")}`);
    else if (event.type === "context") {
      // Exactly what caro added to the request, as it went.
      const redacted = event.redacting ? ", secrets redacted" : "";
      say(`context sent to ${event.to}${redacted}:${event.lines.length ? "" : " none"}`);
      for (const line of event.lines) say(`  ${line}`);
    } else if (event.type === "selected") {
      for (const p of event.passedOver) say(`passed over ${p.backend}: ${p.reason}`);
      say(`backend ${event.backend}`);
    } else if (event.type === "loaded")
      say(
        event.cached
          ? "model already loaded"
          : `model loaded in ${Math.round(event.ms)} ms on ${event.gpu || "the CPU"}`,
      );
    else if (event.type === "prefix")
      say(
        event.source === "off"
          ? "prefix cache off: reading the whole prompt"
          : `fixed prompt from ${event.source} in ${event.ms} ms`,
      );
    else if (event.type === "generating") {
      decoding = false;
      say(
        event.threads
          ? `reading the prompt on ${event.threads} thread${event.threads > 1 ? "s" : ""}…`
          : "reading the prompt…",
      );
    } else if ((event.type === "text" || event.type === "command") && !decoding) {
      decoding = true;
      say("decoding…");
    }
  };
}

/** A warm request's phases in the order they happen, by their key in Answer.timings. */
const PHASES: [key: string, label: string][] = [
  ["client_start_ms", "client start"],
  ["connect_ms", "connect"],
  ["config_ms", "config"],
  ["select_ms", "backend"],
  ["prompt_ms", "prompt"],
  ["handoff_ms", "worker hand-off"],
  ["load_ms", "model"],
  ["budget_ms", "tokenise"],
  ["grammar_ms", "grammar"],
  ["sequence_ms", "sequence"],
  ["prefix_ms", "prefix"],
  ["generate_ms", "generate"],
  ["parse_ms", "parse"],
  ["check_ms", "check"],
  ["rate_ms", "rate"],
  ["reply_ms", "reply"],
  ["judge_ms", "client check"],
];

/**
 * "time by phase: client start 80 ms · connect 2 ms · … · end to end 150 ms": where a request's time
 * went. `reply` is what the daemon's wait holds beyond its own work: the socket both ways and msgpack.
 */
export function phaseLine(timings: Answer["timings"], endToEndMs: number): string {
  const t = { ...timings };
  const { daemon_ms: daemon, config_ms: config, total_ms: total } = t;
  if (typeof daemon === "number" && typeof total === "number")
    t.reply_ms = Math.max(0, daemon - total - (typeof config === "number" ? config : 0));
  const parts = PHASES.filter(([key]) => typeof t[key] === "number").map(([key, label]) => `${label} ${t[key]} ms`);
  return `time by phase: ${[...parts, `end to end ${Math.round(endToEndMs)} ms`].join(" · ")}`;
}

/** What is wrong with the command on this machine, one line each: it is shown all the same. */
function printWarnings(answer: Answer): void {
  for (const warning of answer.warnings ?? []) warn(warning);
}

function printAnswer(answer: Answer, json: boolean, verbose: boolean): void {
  if (json) {
    writeOut(`${JSON.stringify(answer)}\n`);
    return;
  }
  writeOut(`${answer.command}\n`);
  printWarnings(answer);
  if (answer.explanation) say(answer.explanation);
  say(`risk ${answer.risk}${answer.reasons.length ? `: ${answer.reasons.join("; ")}` : ""}`);
  if (verbose && answer.cached) say("from the daemon's cache of identical requests in this folder");
  if (verbose)
    say(
      `${answer.backend} · ${answer.model} · ${answer.gpu === null ? "server" : answer.gpu || "cpu"} · ` +
        `${JSON.stringify(answer.timings)}`,
    );
  // Since this process started (performance's time origin).
  if (verbose) say(phaseLine(answer.timings, performance.now()));
}

/**
 * `caro <request>`: the command on stdout, or one JSON object with --json; with -x, runs it and returns its exit code.
 */
export async function runGenerate(argv: string[], signal: AbortSignal): Promise<number> {
  const args = parseStrict(argv, generateArgs);
  const shell = pickShell(args.shell);
  // Caught here rather than in the daemon: a mistyped flag needs no daemon to say so.
  if (args.backend !== undefined) parseSetting("backend", args.backend, "command line");
  const safety = args.safety === undefined ? undefined : parseSetting("safety.level", args.safety, "command line");
  if (args.execute && args.json)
    throw new UsageError("--json and --execute do not go together: --json prints, -x runs");
  const request = await readRequest(args._);
  const verbose = Boolean(args.verbose);
  const userRequest: UserRequest = {
    words: request,
    shell,
    cwd: process.cwd(),
    env: clientEnv(),
    flags: { backend: args.backend, model: args.model, explain: Boolean(args.explain), verbose },
  };
  const ask: Asker = args.daemon === false ? (await import("../client/ask-in-process.js")).askInProcess : askDaemon;
  const { answer, level } = await ask(userRequest, { signal, onEvent: eventPrinter(verbose) });
  // An answer that arrives after Ctrl-C is never shown, let alone run.
  if (signal.aborted) throw new InterruptedError();
  if (!args.execute) {
    printAnswer(answer, Boolean(args.json), verbose);
    return 0;
  }
  writeErr(`${answer.command}\n`);
  printWarnings(answer);
  const { execute } = await import("./execute.js");
  return execute({
    command: answer.command,
    rating: { risk: answer.risk, reasons: answer.reasons },
    // The flag can only be the user's own choice for this run: the config's level otherwise.
    level: safety ?? level,
    shell,
    yes: Boolean(args.yes),
    signal,
  });
}
