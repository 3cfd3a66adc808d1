// The folder of saved prefix states ($XDG_CACHE_HOME/caro/prefix). A state file is loaded into
// llama.cpp as is, so only this user may read or write the folder: a planted state could crash
// the process or steer the model. Saving is an optimisation, never a reason to fail a request.

import { chmodSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, type Stats } from "node:fs";
import { join } from "node:path";
import { threadId } from "node:worker_threads";
import { processAlive } from "../system/process-alive.js";
import { CaroError } from "../errors.js";

const FILES_KEPT = 8;
/** A partial file this old is an interrupted save even if its pid was reused by another process. */
const PARTIAL_MAX_AGE_MS = 60 * 60_000;
/** After a failed save, do not spend a whole state's write on every request: try again this much later. */
const RETRY_SAVE_AFTER_MS = 10 * 60_000;

const PARTIAL = /\.state\.(\d+)(?:\.\d+)?\.partial$/;

/** The prefix folder or a state file cannot be used: requests go on without the disk cache. */
export class PrefixStoreError extends CaroError {
  constructor(message: string) {
    super(message, 1);
  }
}

const failedAt = new Map<string, number>();

function ownedByMe(stat: Stats): boolean {
  return !process.getuid || stat.uid === process.getuid();
}

/** Makes the folder if needed and checks it is this user's alone; throws PrefixStoreError saying why not. */
function prepareDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new PrefixStoreError(`cannot make ${dir}: ${(error as Error).message}`);
  }
  const stat = statSync(dir);
  if (!ownedByMe(stat)) throw new PrefixStoreError(`${dir} belongs to another user: remove it`);
  if ((stat.mode & 0o077) !== 0) {
    try {
      // Only take away others' access: a folder made read-only on purpose stays read-only.
      chmodSync(dir, stat.mode & 0o700);
    } catch (error) {
      throw new PrefixStoreError(`${dir} is open to other users and cannot be closed (${(error as Error).message})`);
    }
  }
}

/** Removes partial files of saves that will never finish: their process is gone, or they are old. */
function cleanStalePartials(dir: string, now = Date.now()): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const match = PARTIAL.exec(name);
    if (!match) continue;
    const path = join(dir, name);
    try {
      const pid = Number(match[1]);
      const stale = (pid !== process.pid && !processAlive(pid)) || now - statSync(path).mtimeMs > PARTIAL_MAX_AGE_MS;
      if (stale) rmSync(path, { force: true });
    } catch {
      // Gone already, or not ours to remove: the next clean tries again.
    }
  }
}

/** A saved state this process may load: a plain file, this user's, written by nobody else. */
export function loadableState(file: string): boolean {
  try {
    const stat = statSync(file);
    return stat.isFile() && ownedByMe(stat) && (stat.mode & 0o022) === 0;
  } catch {
    return false;
  }
}

/** Should a save be tried now? Not again soon after one failed in this folder. */
export function saveWanted(dir: string, now = Date.now()): boolean {
  const failed = failedAt.get(dir);
  return failed === undefined || now - failed > RETRY_SAVE_AFTER_MS;
}

/**
 * Writes a state through a partial file (a reader never sees half a state), 0600, then keeps only
 * the newest few. Throws PrefixStoreError, having removed its partial file, when it cannot.
 */
export async function saveState(dir: string, file: string, write: (path: string) => Promise<unknown>): Promise<void> {
  // Two workers of one daemon share the pid: the thread id keeps their partial files apart.
  const partial = `${file}.${process.pid}.${threadId}.partial`;
  try {
    prepareDir(dir);
    cleanStalePartials(dir);
    await write(partial);
    chmodSync(partial, 0o600);
    renameSync(partial, file);
    failedAt.delete(dir);
  } catch (error) {
    rmSync(partial, { force: true });
    failedAt.set(dir, Date.now());
    throw error instanceof PrefixStoreError ? error : new PrefixStoreError((error as Error).message);
  }
  prune(dir);
}

/** Keeps the newest state files: each holds a whole KV cache, tens of MB for a 1.5B model. */
function prune(dir: string): void {
  try {
    const files = readdirSync(dir)
      .filter((f) => f.endsWith(".state"))
      .map((f) => ({ f, t: statSync(join(dir, f)).mtimeMs }))
      .sort((a, b) => b.t - a.t);
    for (const { f } of files.slice(FILES_KEPT)) rmSync(join(dir, f), { force: true });
  } catch {
    // Another process pruned at the same time; the next save prunes again.
  }
}
