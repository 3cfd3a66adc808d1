import { isatty } from "node:tty";
import type { DownloadProgress } from "../models/download.js";
import { formatBytes } from "../text/bytes.js";
import { writeErr } from "./closed-output.js";

function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "--:--";
  const s = Math.round(seconds);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

/** Progress on stderr: a bar redrawn in place on a terminal, a plain line every few seconds otherwise. */
export function progressReporter() {
  const started = Date.now();
  let lastPrint = 0;
  // isatty, not process.stderr.isTTY: every request makes a reporter, and opening the stream loads
  // Node's stream code; writeErr keeps these lines in order with caro's other stderr lines.
  const tty = isatty(2);
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
      writeErr(tty ? `\r\x1b[2K${line}` : `${line}\n`);
    },
    done() {
      if (tty) writeErr("\n");
    },
  };
}
