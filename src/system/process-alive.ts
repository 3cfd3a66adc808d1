import { readFileSync } from "node:fs";

/**
 * Who has this pid. Signal 0 checks without sending: success is a process this one may signal
 * (its own user's, or anyone's for root), EPERM a process that exists but is another user's,
 * anything else (ESRCH) no process at all.
 */
function holderOf(pid: number): "ours" | "another user's" | null {
  try {
    process.kill(pid, 0);
    return "ours";
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM" ? "another user's" : null;
  }
}

/**
 * Whether a process has this pid, whoever owns it (EPERM: it exists). The start-up lock and the
 * prefix cache's partial files name the pid that wrote them: while any process has that pid the
 * file may still be in use, so it is left alone. A pid reused by another user's process then only
 * delays the clean-up (the lock's wait, the partial file's age), where reading EPERM as gone could
 * take a lock from, or delete a file under, a live writer.
 */
export function processAlive(pid: number): boolean {
  return holderOf(pid) !== null;
}

/**
 * Whether this pid is a live process of this user's: a different question from processAlive. The
 * session client watches the shell that started it and each shell waiting on an answer; those are
 * always this user's, so a pid that now belongs to another user (EPERM) was reused, and the
 * process watched is gone: the session ends, or the answer is dropped, rather than wait forever.
 */
export function ownProcessAlive(pid: number): boolean {
  return holderOf(pid) === "ours";
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
