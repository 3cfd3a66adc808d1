import { basename, dirname } from "node:path";
import { InterruptedError, ModelError } from "../errors.js";
import { hfDownloadUrl, manualDownloadCommand, type HfModel } from "./hf.js";

function formatBytes(bytes: number): string {
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(2)} GB`;
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(1)} MB`;
  return `${Math.round(bytes / 1e3)} kB`;
}

function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "--:--";
  const s = Math.round(seconds);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

/** Progress on stderr: a bar redrawn in place on a terminal, a plain line every few seconds otherwise. */
function progressReporter(name: string) {
  const started = Date.now();
  let lastPrint = 0;
  const tty = process.stderr.isTTY;
  return {
    update({ totalSize, downloadedSize }: { totalSize: number; downloadedSize: number }) {
      const now = Date.now();
      if (now - lastPrint < (tty ? 100 : 3000) && downloadedSize < totalSize) return;
      lastPrint = now;
      const fraction = totalSize > 0 ? downloadedSize / totalSize : 0;
      const speed = downloadedSize / Math.max((now - started) / 1000, 0.001);
      const eta = speed > 0 ? (totalSize - downloadedSize) / speed : Infinity;
      const bar = "█".repeat(Math.round(fraction * 24)).padEnd(24, "░");
      const line = `caro: downloading ${name} ${tty ? bar + " " : ""}${(fraction * 100).toFixed(0)}% ${formatBytes(downloadedSize)} of ${formatBytes(totalSize)}, ${formatBytes(speed)}/s, ETA ${formatDuration(eta)}`;
      process.stderr.write(tty ? `\r\x1b[2K${line}` : `${line}\n`);
    },
    done() {
      if (tty) process.stderr.write("\n");
    },
  };
}

/** Fetches a Hugging Face GGUF with node-llama-cpp's downloader, which resumes and retries. */
export async function downloadModel(model: HfModel, path: string, signal?: AbortSignal): Promise<void> {
  const { resolveModelFile } = await import("node-llama-cpp");
  const progress = progressReporter(basename(path));
  try {
    await resolveModelFile(`hf:${model.user}/${model.repo}/${model.file}`, {
      directory: dirname(path),
      fileName: basename(path),
      cli: false,
      onProgress: (status) => progress.update(status),
      signal,
      deleteTempFileOnCancel: false,
      tokens: process.env.HF_TOKEN ? { huggingFace: process.env.HF_TOKEN } : undefined,
    });
    progress.done();
  } catch (error) {
    progress.done();
    if (signal?.aborted) throw new InterruptedError();
    const reason = ((error as Error).message || String(error)).split("\n")[0];
    throw new ModelError(
      `could not download ${hfDownloadUrl(model)} (${reason}); fetch it by hand: ${manualDownloadCommand(model)}`,
      { cause: error },
    );
  }
}
