import { spawn } from "node:child_process";
import { accessSync, constants, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { shellQuote } from "../text/shell-quote.js";
import { shellRow, type WidgetShell } from "./shells.js";

// Starts a user's shell the way a terminal does (interactive, rc files loaded, on a terminal),
// has it source one query script and reads back what the script wrote to a file. Nothing the rc files
// print is read: they may draw prompts, colours and banners. A hanging rc file costs at most the timeout.

/** Set in the probed shells, so that a `caro doctor` in an rc file does not start shells in turn. */
export const PROBE_ENV = "CARO_DOCTOR_PROBE";

export type ProbeResult =
  | { outcome: "reported"; text: string }
  | { outcome: "timed-out" }
  | { outcome: "no-report"; exitCode: number | null };

/** The program's path on PATH, or null: a look at the folders, no process started. */
export function onPath(program: string, path = process.env.PATH ?? ""): string | null {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, program), constants.X_OK);
      return join(dir, program);
    } catch {
      // Not in this folder.
    }
  }
  return null;
}

/**
 * The command that gives the shell a terminal: util-linux script(1) on Linux, BSD script(1) on
 * macOS and the BSDs; without one, the shell runs without a terminal (line editors still list keys).
 */
function onTerminal(argv: string[]): { file: string; args: string[]; env: NodeJS.ProcessEnv } {
  const script = onPath("script");
  if (!script) return { file: argv[0], args: argv.slice(1), env: {} };
  if (process.platform === "linux") {
    // util-linux runs its -c command with $SHELL -c: sh here, so that this quoting holds whatever the
    // user's shell is; the user's $SHELL goes back to the shell it starts.
    const command = `SHELL=${shellQuote(process.env.SHELL ?? argv[0])} exec ${argv.map(shellQuote).join(" ")}`;
    return { file: script, args: ["-q", "-e", "-c", command, "/dev/null"], env: { SHELL: "/bin/sh" } };
  }
  return { file: script, args: ["-q", "/dev/null", ...argv], env: {} };
}

/**
 * Sources the script file `query` in an interactive `shell` after its rc files; gives up after
 * `timeoutMs`, killing what it started.
 */
export async function probeShell(
  shell: WidgetShell,
  path: string,
  query: string,
  timeoutMs: number,
): Promise<ProbeResult> {
  const dir = mkdtempSync(join(tmpdir(), "caro-doctor-"));
  const out = join(dir, "report");
  const terminal = onTerminal(shellRow(shell).probeArgv(path));
  const env = { ...process.env, ...terminal.env, CARO_DOCTOR_OUT: out, CARO_DOCTOR_QUERY: query, [PROBE_ENV]: "1" };
  const { file, args } = terminal;
  try {
    const exitCode = await new Promise<number | null | "timed-out">((resolve) => {
      // Its own process group, so that a timeout kills the shell and whatever its rc file started.
      const child = spawn(file, args, { env, stdio: "ignore", detached: true });
      const timer = setTimeout(() => {
        try {
          process.kill(-(child.pid ?? 0), "SIGKILL");
        } catch {
          // Gone already.
        }
        resolve("timed-out");
      }, timeoutMs);
      child.on("error", () => {
        clearTimeout(timer);
        resolve(null);
      });
      child.on("exit", (code) => {
        clearTimeout(timer);
        resolve(code);
      });
    });
    if (exitCode === "timed-out") return { outcome: "timed-out" };
    try {
      const text = readFileSync(out, "utf8");
      if (text.includes("\n---\n") || text.endsWith("\n---")) return { outcome: "reported", text };
    } catch {
      // The query never ran: the shell exited first, or could not start.
    }
    return { outcome: "no-report", exitCode };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
