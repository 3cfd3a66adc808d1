import { basename, dirname } from "node:path";
import type { Env } from "../config/paths.js";
import { InterruptedError, ModelError } from "../errors.js";
import { hfDownloadUrl, hfEndpoint, manualDownloadCommand, type HfModel } from "./hf.js";

export interface DownloadProgress {
  file: string;
  totalSize: number;
  downloadedSize: number;
}

export interface DownloadOptions {
  signal?: AbortSignal;
  env?: Env;
  onProgress?: (progress: DownloadProgress) => void;
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
async function preflight(url: string, env: Env, signal?: AbortSignal, timeoutMs = PREFLIGHT_TIMEOUT_MS): Promise<void> {
  const headers: Record<string, string> = env.HF_TOKEN ? { authorization: `Bearer ${env.HF_TOKEN}` } : {};
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
export async function whyNotFetchable(model: HfModel, env: Env = process.env, timeoutMs = 3000): Promise<string | null> {
  try {
    await preflight(hfDownloadUrl(model, env), env, undefined, timeoutMs);
    return null;
  } catch (error) {
    return (error as Error).message;
  }
}

/** Fetches a Hugging Face GGUF with node-llama-cpp's downloader, which resumes and retries. */
export async function downloadModel(model: HfModel, path: string, options: DownloadOptions = {}): Promise<void> {
  const { signal, env = process.env, onProgress } = options;
  const { resolveModelFile } = await import("node-llama-cpp");
  const file = basename(path);
  try {
    await preflight(hfDownloadUrl(model, env), env, signal);
    await resolveModelFile(`hf:${model.user}/${model.repo}/${model.file}`, {
      directory: dirname(path),
      fileName: file,
      cli: false,
      onProgress: (status) => onProgress?.({ file, ...status }),
      signal,
      deleteTempFileOnCancel: false,
      // Passed explicitly: in the daemon these come from the client, not from process.env.
      endpoints: { huggingFace: `${hfEndpoint(env)}/` },
      tokens: env.HF_TOKEN ? { huggingFace: env.HF_TOKEN } : undefined,
    });
  } catch (error) {
    if (signal?.aborted || error instanceof InterruptedError) throw new InterruptedError();
    const reason = ((error as Error).message || String(error)).split("\n")[0];
    throw new ModelError(
      `could not download ${hfDownloadUrl(model, env)} (${reason}); fetch it by hand: ${manualDownloadCommand(model, env)}`,
      { cause: error },
    );
  }
}
