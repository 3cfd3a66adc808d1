import { join } from "node:path";
import type { Env } from "../config/paths.js";
import { stateHome } from "../config/paths.js";

/** `$XDG_RUNTIME_DIR/caro`, else `/tmp/caro-$UID`: a folder only this user can enter (0700). */
export function runtimeDir(env: Env = process.env): string {
  const runtime = env.XDG_RUNTIME_DIR;
  return runtime && runtime.startsWith("/") ? join(runtime, "caro") : `/tmp/caro-${process.getuid?.() ?? "user"}`;
}

export const socketPath = (env: Env = process.env) => join(runtimeDir(env), "daemon.sock");
export const pidPath = (env: Env = process.env) => join(runtimeDir(env), "daemon.pid");
export const lockPath = (env: Env = process.env) => join(runtimeDir(env), "daemon.lock");
export const logPath = (env: Env = process.env) => join(stateHome(env), "caro", "daemon.log");
