import { readFileSync } from "node:fs";
import { freemem } from "node:os";

/**
 * Bytes of memory the machine can still give without swapping: the kernel's own estimate
 * (MemAvailable: free memory plus the page cache and other memory it can reclaim), not the free
 * memory, which leaves out the page cache. Where there is no /proc/meminfo (macOS), the free memory.
 * $CARO_MEMINFO names another file to read, so a test can play a machine of any size.
 */
export function availableMemory(env: NodeJS.ProcessEnv = process.env): number {
  try {
    const meminfo = readFileSync(env.CARO_MEMINFO || "/proc/meminfo", "utf8");
    const kilobytes = /^MemAvailable:\s+(\d+) kB$/m.exec(meminfo)?.[1];
    if (kilobytes !== undefined) return Number(kilobytes) * 1024;
  } catch {
    // No /proc here: the free memory is the best figure there is.
  }
  return freemem();
}
