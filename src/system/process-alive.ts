import { readFileSync } from "node:fs";

/** Whether a process with this pid exists: signal 0 checks without sending; EPERM means another user's. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Alive and not a zombie: a detached daemon that exited waits as one until something reaps it. */
export function processRunning(pid: number): boolean {
  if (!processAlive(pid)) return false;
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return true; // no /proc (macOS): alive is the best answer there is
  }
}
