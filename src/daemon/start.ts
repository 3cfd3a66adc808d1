// `caro daemon run`: become the one daemon for this user, or step aside for the one that is.
// Two clients racing to start a daemon both run this; a lock file decides, and the loser exits 0.

import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { connect } from "node:net";
import { dirname } from "node:path";
import { checkRuntimeDir, checkSocket, lockPath, runtimeDir, socketPath } from "../wire/paths.js";
import { CaroError } from "../errors.js";
import { Daemon } from "./server.js";
import type { Shell } from "../prompt/context.js";
import { processAlive } from "../system/process-alive.js";

const LOCK_WAIT_MS = 5000;

/** Does a daemon answer on the socket? */
function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** Makes the runtime folder (0700) if it is missing, and refuses one that is not this user's alone. */
function ensureRuntimeDir(): void {
  const dir = runtimeDir();
  checkRuntimeDir(dir);
  try {
    mkdirSync(dirname(dir), { recursive: true });
    // Not recursive: the last step must create the folder itself, never adopt one made meanwhile.
    mkdirSync(dir, { mode: 0o700 });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== "EEXIST")
      throw new CaroError(
        `cannot create the runtime folder ${dir} (${code}): set XDG_RUNTIME_DIR to a folder you can write`,
        1,
      );
  }
  checkRuntimeDir(dir);
}

/** Takes the start-up lock, clearing one left by a process that died; false if a live one holds it too long. */
async function takeLock(): Promise<boolean> {
  const path = lockPath();
  const deadline = Date.now() + LOCK_WAIT_MS;
  while (Date.now() < deadline) {
    try {
      const fd = openSync(path, "wx", 0o600);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const holder = Number(readFileSync(path, "utf8").trim());
      if (!Number.isInteger(holder) || !processAlive(holder)) rmSync(path, { force: true });
      else await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  return false;
}

/** warmShell: load the configured model and its prompt for this shell as soon as the socket listens. */
export async function runDaemon({ warmShell }: { warmShell?: string } = {}): Promise<number> {
  ensureRuntimeDir();
  if (!(await takeLock())) return 0; // another daemon is starting: it will serve
  try {
    const path = socketPath();
    checkSocket(path);
    if (await socketAnswers(path)) return 0; // one is already serving
    if (existsSync(path)) rmSync(path); // left by a daemon that died
    const daemon = new Daemon();
    await daemon.listen();
    if (warmShell) void daemon.warm(warmShell as Shell);
    const stop = () => void daemon.shutdown();
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
    process.on("SIGHUP", () => undefined);
    return -1; // keep running
  } finally {
    rmSync(lockPath(), { force: true });
  }
}
