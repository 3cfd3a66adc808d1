import { writeOut } from "./closed-output.js";
import { connectToDaemon, startDaemon } from "../client/connection.js";
import { readFileSync, rmSync } from "node:fs";
import { logPath, pidPath, socketPath } from "../wire/paths.js";
import type { DaemonStatus } from "../wire/protocol.js";
import { CaroError, DaemonNotRunningError, DaemonUnresponsiveError, UsageError } from "../errors.js";
import { inert } from "../text/inert.js";
import { parseStrict } from "./args.js";
import { COMMANDS } from "./commands.js";
import { optionLines } from "./help.js";
import { processRunning } from "../system/process-alive.js";
import { WIDGET_SHELL_NAMES, widgetShell } from "../shell/shells.js";

const SHELLS = WIDGET_SHELL_NAMES.join("|");
const usage = `usage: caro daemon start|stop|status|restart [--json] [--background [--shell ${SHELLS}]]`;

const daemonArgs = COMMANDS.daemon.args;

export const help = `caro daemon: the background process that keeps the model loaded between requests

Usage
  caro daemon status [--json]   Whether it runs, and its backend, model, GPU, memory and requests
  caro daemon start             Start it now (the first request starts it anyway)
  caro daemon start --background [--shell <shell>]
                                Start it without waiting, silently, and load the model (what caro init
                                runs as a shell starts)
  caro daemon stop              Stop it; it finishes the requests it has first
  caro daemon restart           Stop it and start it again, as after changing the config

Options
${optionLines(daemonArgs)}

Exit 0; daemon status exits 3 when it is not running.
`;

/** A connection to the running daemon, or null when none runs: these commands never start one. */
async function running() {
  try {
    return await connectToDaemon({ start: false });
  } catch (error) {
    if (error instanceof DaemonNotRunningError) return null;
    throw error;
  }
}

async function status(): Promise<DaemonStatus | null> {
  const connection = await running();
  if (!connection) return null;
  connection.send({ t: "status" });
  const reply = await connection.next();
  connection.close();
  return reply?.t === "status" ? reply.status : null;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A daemon that does not answer (stopped with SIGSTOP, or stuck) is ended by the pid it wrote in
 * the private runtime folder: SIGTERM and SIGCONT, so a stopped one wakes to handle it, then SIGKILL.
 */
async function kill(): Promise<boolean> {
  let pid: number;
  try {
    pid = Number(readFileSync(pidPath(), "utf8").trim());
  } catch {
    return false;
  }
  // The pid may have been reused since: only a caro daemon is signalled.
  let commandLine = "";
  try {
    commandLine = readFileSync(`/proc/${pid}/cmdline`, "utf8");
  } catch {
    commandLine = "daemon\0run"; // no /proc (macOS): the private folder vouches for the pid file
  }
  if (!Number.isInteger(pid) || pid <= 1 || !commandLine.includes("daemon\0run")) return false;
  if (!processRunning(pid)) return false;
  try {
    for (const signal of ["SIGTERM", "SIGCONT"] as const) process.kill(pid, signal);
    for (let waited = 0; processRunning(pid) && waited < 3000; waited += 50) await sleep(50);
    if (processRunning(pid)) process.kill(pid, "SIGKILL");
  } catch {
    return false; // not ours to signal after all
  }
  rmSync(socketPath(), { force: true });
  rmSync(pidPath(), { force: true });
  return true;
}

async function stop(): Promise<boolean> {
  let connection: Awaited<ReturnType<typeof running>>;
  try {
    connection = await running();
  } catch (error) {
    if (error instanceof DaemonUnresponsiveError) return kill();
    throw error;
  }
  if (!connection) return false;
  connection.send({ t: "stop" });
  // The daemon says bye, then finishes its requests and exits; its socket goes first.
  while ((await connection.next()) !== null);
  connection.close();
  return true;
}

function describe(s: DaemonStatus): string {
  const uptime =
    s.uptime_s >= 3600
      ? `${Math.floor(s.uptime_s / 3600)} h ${Math.floor((s.uptime_s % 3600) / 60)} min`
      : s.uptime_s >= 60
        ? `${Math.floor(s.uptime_s / 60)} min ${s.uptime_s % 60} s`
        : `${s.uptime_s} s`;
  return [
    `caro daemon: running (pid ${s.pid}, version ${s.version})`,
    `  uptime     ${uptime}`,
    `  backend    ${s.backend ?? "none yet"}`,
    `  model      ${s.model ?? "none yet"}${s.models_loaded === 0 ? " (not loaded)" : ""}`,
    `  gpu        ${s.gpu === null ? (s.backend ? "n/a (server)" : "none yet") : s.gpu || "none (CPU)"}`,
    `  memory     ${s.rss_mb} MB`,
    `  models     ${s.models_loaded} loaded, ${s.models_memory_mb ?? 0} MB admitted; ` +
      `${s.model_loads ?? 0} loaded since start`,
    `  requests   ${s.requests_served} served, ${s.requests_active} running`,
    `  socket     ${socketPath()}`,
    `  log        ${logPath()}`,
  ].join("\n");
}

function warmShell(shell: string | undefined): string | undefined {
  if (shell !== undefined && !widgetShell(shell))
    throw new UsageError(`unknown shell "${shell}": use one of ${WIDGET_SHELL_NAMES.join(", ")}`);
  return shell;
}

/**
 * What a shell runs as it starts: a daemon that is not running yet is started, detached, to load
 * the model; nothing is waited for and nothing printed. One already running is left alone.
 */
async function startInBackground(shell: string | undefined): Promise<number> {
  let connection: Awaited<ReturnType<typeof running>>;
  try {
    connection = await running();
  } catch {
    return 0; // there is one, stuck or of another version: the first request deals with it, as ever
  }
  if (connection) {
    connection.close();
    return 0;
  }
  startDaemon(shell ? ["--warm", shell] : []);
  return 0;
}

/** `caro daemon start|stop|status|restart`, and `run` (what start launches, in the foreground). */
export async function runDaemonCommand(argv: string[]): Promise<number> {
  const args = parseStrict(argv, daemonArgs, "daemon");
  const [action, ...extra] = args._;
  if (extra.length > 0 || !action) throw new UsageError(usage);
  switch (action) {
    case "run": {
      const { runDaemon } = await import("../daemon/start.js");
      const code = await runDaemon({ warmShell: warmShell(args.warm) });
      // -1: serving; the process lives on until the daemon exits.
      return code === -1 ? new Promise<number>(() => undefined) : code;
    }
    case "start": {
      if (args.background) return startInBackground(warmShell(args.shell));
      (await connectToDaemon()).close();
      const s = await status();
      writeOut(`caro daemon: running (pid ${s?.pid})\n`);
      return 0;
    }
    case "stop":
      writeOut((await stop()) ? "caro daemon: stopped\n" : "caro daemon: not running\n");
      return 0;
    case "restart": {
      await stop();
      (await connectToDaemon()).close();
      writeOut(`caro daemon: running (pid ${(await status())?.pid})\n`);
      return 0;
    }
    case "status": {
      const s = await status();
      if (args.json) writeOut(`${JSON.stringify(s ? { running: true, ...s } : { running: false })}\n`);
      else writeOut(s ? `${inert(describe(s))}\n` : "caro daemon: not running\n");
      if (!s) throw new CaroError("", 3);
      return 0;
    }
    default:
      throw new UsageError(`unknown daemon action "${action}": ${usage}`);
  }
}
