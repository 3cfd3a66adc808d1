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
      if (totalSize === 0) return;
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

const PREFLIGHT_TIMEOUT_MS = 10_000;

/** Why a network error happened, in words: fetch hides the useful part in `cause`. */
function networkReason(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  if (cause?.code === "ENOTFOUND" || cause?.code === "EAI_AGAIN") return "no network, or the host name does not resolve";
  if (cause?.code === "ECONNREFUSED") return "connection refused";
  if ((error as Error).name === "TimeoutError") return `no answer within ${PREFLIGHT_TIMEOUT_MS / 1000} s`;
  return cause?.message ?? (error as Error).message;
}

/**
 * One quick request before the real download. node-llama-cpp's downloader retries for about twelve
 * minutes when the host cannot be reached; a user offline should hear so in seconds, not wait.
 */
async function preflight(url: string, signal?: AbortSignal, timeoutMs = PREFLIGHT_TIMEOUT_MS): Promise<void> {
  const headers: Record<string, string> = process.env.HF_TOKEN ? { authorization: `Bearer ${process.env.HF_TOKEN}` } : {};
  const timeout = AbortSignal.timeout(timeoutMs);
  let response: Response;
  try {
    response = await fetch(url, { method: "HEAD", headers, redirect: "follow", signal: signal ? AbortSignal.any([signal, timeout]) : timeout });
  } catch (error) {
    if (signal?.aborted) throw new InterruptedError();
    throw new Error(networkReason(error));
  }
  if (response.status === 401 || response.status === 403)
    throw new Error(`HTTP ${response.status}: the repository is gated or private; set HF_TOKEN to a token that can read it`);
  if (response.status === 404) throw new Error("HTTP 404: no such file; check the model setting");
  if (!response.ok) throw new Error(`HTTP ${response.status} ${response.statusText}`);
}

/** Why a model could not be fetched now, or null when it can: for choosing a backend without downloading. */
export async function whyNotFetchable(model: HfModel, timeoutMs = 3000): Promise<string | null> {
  try {
    await preflight(hfDownloadUrl(model), undefined, timeoutMs);
    return null;
  } catch (error) {
    return (error as Error).message;
  }
}

/** Fetches a Hugging Face GGUF with node-llama-cpp's downloader, which resumes and retries. */
export async function downloadModel(model: HfModel, path: string, signal?: AbortSignal): Promise<void> {
  const { resolveModelFile } = await import("node-llama-cpp");
  const progress = progressReporter(basename(path));
  try {
    await preflight(hfDownloadUrl(model), signal);
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
    if (signal?.aborted || error instanceof InterruptedError) throw new InterruptedError();
    const reason = ((error as Error).message || String(error)).split("\n")[0];
    throw new ModelError(
      `could not download ${hfDownloadUrl(model)} (${reason}); fetch it by hand: ${manualDownloadCommand(model)}`,
      { cause: error },
    );
  }
}
