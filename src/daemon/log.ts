// The daemon's log: one line per event, on the stderr that `caro daemon start` opens on
// $XDG_STATE_HOME/caro/daemon.log (0600). It says what requests did, not what they said: text
// that comes from a model, a server or the user (an error may quote them) goes in only as a short
// excerpt, with whatever looks like a secret masked. It never grows past LOG_MAX_BYTES: before a
// line would take it past, the log is copied to daemon.log.1 (replacing the one there) and emptied,
// so the two hold at most twice that. Copied, not renamed: stderr stays open on daemon.log.

import { chmodSync, copyFileSync, fstatSync, ftruncateSync, statSync, writeSync } from "node:fs";
import { inertExcerpt } from "../text/inert.js";
import { redact } from "../privacy/redact.js";
import { logPath } from "../wire/paths.js";

export const LOG_MAX_BYTES = 1024 * 1024;

/** The most of a message (which may quote a model's answer, a server's words or a request) a line keeps. */
const EXCERPT_CHARS = 160;

/** Text from outside caro, as a log line may hold it: one line, short, secrets masked. */
export function logExcerpt(text: string, max = EXCERPT_CHARS): string {
  return inertExcerpt(redact(text), max);
}

/** Where an error came from in caro's code: a few frames of its stack, on one line (its message left out). */
export function stackFrames(error: unknown, count = 6): string {
  const stack = error instanceof Error ? (error.stack ?? "") : "";
  return stack
    .split("\n")
    .filter((line) => /^\s+at /.test(line))
    .slice(0, count)
    .map((line) => line.trim())
    .join(" < ");
}

export class DaemonLog {
  constructor(
    private readonly fd = 2,
    private readonly path = logPath(),
    private readonly max = LOG_MAX_BYTES,
  ) {}

  write(line: string): void {
    const text = `${new Date().toISOString()} ${line}\n`;
    this.makeRoom(Buffer.byteLength(text));
    try {
      writeSync(this.fd, text);
    } catch {
      // A full disk or a closed stderr: the daemon serves on without its log.
    }
  }

  /** Rotates the log when `bytes` more would take it past the bound. */
  private makeRoom(bytes: number): void {
    try {
      const open = fstatSync(this.fd);
      if (!open.isFile() || open.size + bytes <= this.max) return;
      // Only the log file itself: a daemon run by hand writes to a terminal or wherever it was sent.
      const named = statSync(this.path);
      if (named.ino !== open.ino || named.dev !== open.dev) return;
      const older = `${this.path}.1`;
      copyFileSync(this.path, older);
      chmodSync(older, 0o600);
      ftruncateSync(this.fd, 0);
    } catch {
      // Cannot rotate (a full disk, say): the line is still written.
    }
  }
}
