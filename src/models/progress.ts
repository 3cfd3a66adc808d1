import type { DownloadProgress } from "./download.js";
import { formatBytes } from "../text/bytes.js";

function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "--:--";
  const s = Math.round(seconds);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

/** Progress on stderr: a bar redrawn in place on a terminal, a plain line every few seconds otherwise. */
export function progressReporter() {
  const started = Date.now();
  let lastPrint = 0;
  const tty = process.stderr.isTTY;
  return {
    update({ file: name, totalSize, downloadedSize }: DownloadProgress) {
      const now = Date.now();
      if (totalSize === 0) return;
      if (now - lastPrint < (tty ? 100 : 3000) && downloadedSize < totalSize) return;
      lastPrint = now;
      const fraction = totalSize > 0 ? downloadedSize / totalSize : 0;
      const speed = downloadedSize / Math.max((now - started) / 1000, 0.001);
      const eta = speed > 0 ? (totalSize - downloadedSize) / speed : Infinity;
      const bar = "█".repeat(Math.round(fraction * 24)).padEnd(24, "░");
      const line =
        `caro: downloading ${name} ${tty ? `${bar} ` : ""}${(fraction * 100).toFixed(0)}% ` +
        `${formatBytes(downloadedSize)} of ${formatBytes(totalSize)}, ${formatBytes(speed)}/s, ETA ` +
        `${formatDuration(eta)}`;
      process.stderr.write(tty ? `\r\x1b[2K${line}` : `${line}\n`);
    },
    done() {
      if (tty) process.stderr.write("\n");
    },
  };
}
