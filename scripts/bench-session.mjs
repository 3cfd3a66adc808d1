// The bench's stand-in for a shell: it starts `caro session` and sends it requests the way the
// zsh and bash widgets do (shell/zsh/caro.zsh's _caro_client), so a row measures what a Ctrl-G
// costs once the shell's session client runs, without a terminal or a shell in the way.

import { spawn } from "node:child_process";
import { constants, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import { clientEnv } from "../dist/client/forwarded.js";

/**
 * A running session client for `env`'s caro: `ask(widgetArgs)` answers as the shell's Ctrl-G would.
 * A client serves one shell, by its pid, and ends any other of the same pid: sessions open side by
 * side each need a live process of their own to stand for their shell (`shellPid`).
 */
export async function openSession(caroBin, env, shell = "bash", shellPid = process.pid) {
  // mkdtemp makes the folder 0700, as the shells' mkdir -m 700 does.
  const dir = mkdtempSync(join(tmpdir(), "caro-bench-session-"));
  execFileSync("mkfifo", ["-m", "600", join(dir, "req"), join(dir, "rep")]);
  // Its own session, without a controlling terminal: it must not draw on the bench's.
  const child = spawn(process.execPath, [caroBin, "session", shell, dir, String(shellPid)], {
    env,
    stdio: "ignore",
    detached: true,
  });
  const flags = constants.O_RDWR | constants.O_NONBLOCK;
  const requests = openSync(join(dir, "req"), flags);
  const replies = new Socket({ fd: openSync(join(dir, "rep"), flags), readable: true, writable: false });
  replies.setEncoding("utf8");
  let pending = "";
  let wake = null;
  replies.on("data", (chunk) => {
    pending += chunk;
    wake?.();
  });
  const waiter = String(shellPid);
  // Only the forwarded variables, as the shells send: the client refuses any other.
  const envEntries = Object.entries(clientEnv(env)).map(([k, v]) => `${k}=${v}`);
  return {
    /** The reply to one request: its exit status, its output, and the time from request to reply. */
    async ask(args, cwd = process.cwd()) {
      const start = performance.now();
      const fields = [cwd, String(args.length), ...args, String(envEntries.length), ...envEntries, ""];
      writeFileSync(join(dir, `request.${waiter}`), fields.join("\0"), { mode: 0o600 });
      writeSync(requests, `${waiter}\n`);
      for (;;) {
        const newline = pending.indexOf("\n");
        if (newline !== -1) {
          const line = pending.slice(0, newline);
          pending = pending.slice(newline + 1);
          if (line === waiter) break;
          continue; // "alive": the client's heartbeat while it works
        }
        if (child.exitCode !== null) throw new Error(`bench: caro session exited (${child.exitCode})`);
        await new Promise((resolve) => {
          wake = resolve;
          setTimeout(resolve, 500);
        });
      }
      const ms = performance.now() - start;
      const [status, output] = readFileSync(join(dir, "reply"), "utf8").split("\0");
      return { ms, status: Number(status), output };
    },
    close() {
      child.kill();
      replies.destroy();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
