import { lstatSync, type Stats } from "node:fs";
import { join } from "node:path";
import type { Env } from "../config/paths.js";
import { stateHome } from "../config/paths.js";
import { UnsafePathError } from "../errors.js";

/** `$XDG_RUNTIME_DIR/caro`, else `/tmp/caro-$UID`: a folder only this user can enter (0700). */
export function runtimeDir(env: Env = process.env): string {
  const runtime = env.XDG_RUNTIME_DIR;
  return runtime?.startsWith("/") ? join(runtime, "caro") : `/tmp/caro-${process.getuid?.() ?? "user"}`;
}

export const socketPath = (env: Env = process.env) => join(runtimeDir(env), "daemon.sock");
export const pidPath = (env: Env = process.env) => join(runtimeDir(env), "daemon.pid");
export const lockPath = (env: Env = process.env) => join(runtimeDir(env), "daemon.lock");
export const logPath = (env: Env = process.env) => join(stateHome(env), "caro", "daemon.log");

function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new UnsafePathError(
      `${path} cannot be checked (${(error as NodeJS.ErrnoException).code}): caro will not use it`,
    );
  }
}

const mine = (stats: Stats) => process.getuid === undefined || stats.uid === process.getuid();

/**
 * Refuses a runtime folder another user could have made or can enter, as tmux does for
 * /tmp/tmux-$UID: whoever owns it could listen on the socket, read each request's environment and
 * answer with any command. lstat, so a symbolic link is refused rather than followed. A missing
 * folder is fine: the daemon creates it.
 */
export function checkRuntimeDir(dir: string): void {
  const stats = lstatOrNull(dir);
  if (stats === null) return;
  const fix = "set XDG_RUNTIME_DIR to a folder that only you can open";
  if (stats.isSymbolicLink())
    throw new UnsafePathError(`${dir} is a symbolic link, not a folder: caro will not use it; remove it or ${fix}`);
  if (!stats.isDirectory())
    throw new UnsafePathError(`${dir} is not a folder: caro will not use it; remove it or ${fix}`);
  if (!mine(stats))
    throw new UnsafePathError(
      `${dir} belongs to another user (uid ${stats.uid}): caro will not use it; ${fix}, or ask an administrator to ` +
        `remove it`,
    );
  if ((stats.mode & 0o077) !== 0)
    throw new UnsafePathError(
      `${dir} can be opened by other users (mode ${(stats.mode & 0o777).toString(8)}): caro will not use it; run ` +
        `chmod 700 ${dir}`,
    );
}

/** The socket must be a socket of this user's: anything else there was not put there by caro. */
export function checkSocket(path: string): void {
  const stats = lstatOrNull(path);
  if (stats === null) return;
  if (!stats.isSocket() || !mine(stats))
    throw new UnsafePathError(
      `${path} is not a socket of yours (${stats.isSocket() ? `uid ${stats.uid}` : "not a socket"}): caro will not ` +
        `use it; remove it`,
    );
}
