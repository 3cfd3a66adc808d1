import { createHash } from "node:crypto";
import { createReadStream, renameSync, rmSync } from "node:fs";
import { basename, dirname } from "node:path";
import type { Env } from "../config/paths.js";
import { InterruptedError, ModelError } from "../errors.js";
import { curlCommand, hfDownloadUrl, hfEndpoint, type HfModel } from "./hf.js";

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
  if (cause?.code === "ENOTFOUND" || cause?.code === "EAI_AGAIN")
    return "no network, or the host name does not resolve";
  if (cause?.code === "ECONNREFUSED") return "connection refused";
  if ((error as Error).name === "TimeoutError") return `no answer within ${PREFLIGHT_TIMEOUT_MS / 1000} s`;
  return cause?.message ?? (error as Error).message;
}

/**
 * One quick request before the real download. node-llama-cpp's downloader retries for about twelve
 * minutes when the host cannot be reached; a user offline should hear so in seconds, not wait.
 * The hub answers it, before its redirect to the CDN, with the file's SHA-256 (the LFS object id).
 */
async function preflight(
  url: string,
  env: Env,
  signal?: AbortSignal,
  timeoutMs = PREFLIGHT_TIMEOUT_MS,
): Promise<{ sha256: string | null }> {
  const headers: Record<string, string> = env.HF_TOKEN ? { authorization: `Bearer ${env.HF_TOKEN}` } : {};
  const timeout = AbortSignal.timeout(timeoutMs);
  let response: Response;
  try {
    response = await fetch(url, {
      method: "HEAD",
      headers,
      redirect: "manual",
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    });
  } catch (error) {
    if (signal?.aborted) throw new InterruptedError();
    throw new Error(networkReason(error));
  }
  if (response.status === 401 || response.status === 403)
    throw new Error(
      `HTTP ${response.status}: the repository is gated or private; set HF_TOKEN to a token that can read it`,
    );
  if (response.status === 404) throw new Error("HTTP 404: no such file; check the model setting");
  if (!response.ok && !(response.status >= 300 && response.status < 400))
    throw new Error(`HTTP ${response.status} ${response.statusText}`);
  const etag = (response.headers.get("x-linked-etag") ?? "").replace(/^W\//, "").replace(/"/g, "");
  return { sha256: /^[0-9a-f]{64}$/i.test(etag) ? etag.toLowerCase() : null };
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** Why a model could not be fetched now, or null when it can: for choosing a backend without downloading. */
export async function whyNotFetchable(
  model: HfModel,
  env: Env = process.env,
  timeoutMs = 3000,
): Promise<string | null> {
  try {
    await preflight(hfDownloadUrl(model, env), env, undefined, timeoutMs);
    return null;
  } catch (error) {
    return (error as Error).message;
  }
}

/** Where a download comes from: a Hugging Face file, or any https URL. */
export type ModelSource = HfModel | { url: string };

/** Fetches a GGUF with node-llama-cpp's downloader, which resumes and retries. */
export async function downloadModel(source: ModelSource, path: string, options: DownloadOptions = {}): Promise<void> {
  const { signal, env = process.env, onProgress } = options;
  const url = "url" in source ? source.url : hfDownloadUrl(source, env);
  const uri = "url" in source ? source.url : `hf:${source.user}/${source.repo}/${source.file}`;
  const manual = curlCommand(url, path);
  const { createModelDownloader } = await import("node-llama-cpp");
  const file = basename(path);
  // The download lands under another name and becomes the model only once its checksum matches,
  // so nothing corrupt is ever in the cache under a model's name. The same name lets an
  // interrupted download resume.
  const unverified = `${path}.unverified`;
  try {
    // Hugging Face URLs carry the file's SHA-256; other servers may not, and then only size is known.
    const { sha256 } = await preflight(url, env, signal);
    const downloader = await createModelDownloader({
      modelUri: uri,
      dirPath: dirname(path),
      fileName: basename(unverified),
      showCliProgress: false,
      onProgress: (status) => onProgress?.({ file, ...status }),
      // Kept, so the next try resumes where this one stopped.
      deleteTempFileOnCancel: false,
      // Passed explicitly: in the daemon these come from the client, not from process.env.
      endpoints: { huggingFace: `${hfEndpoint(env)}/` },
      tokens: env.HF_TOKEN ? { huggingFace: env.HF_TOKEN } : undefined,
    });
    // The downloader's own signal option does not stop a transfer in flight; cancel() does.
    const cancel = () => void downloader.cancel({ deleteTempFile: false });
    signal?.addEventListener("abort", cancel, { once: true });
    try {
      await downloader.download({ signal });
    } finally {
      signal?.removeEventListener("abort", cancel);
    }
    if (signal?.aborted) throw new InterruptedError();
    if (sha256) {
      const actual = await sha256File(unverified);
      if (actual !== sha256) {
        rmSync(unverified, { force: true });
        throw new ModelError(
          `${file} arrived corrupted (SHA-256 ${actual.slice(0, 12)}…, ` +
            `the hub publishes ${sha256.slice(0, 12)}…) and was deleted: download it again`,
        );
      }
    }
    renameSync(unverified, path);
  } catch (error) {
    if (error instanceof ModelError) throw error;
    if (signal?.aborted || error instanceof InterruptedError) throw new InterruptedError();
    const reason = ((error as Error).message || String(error)).split("\n")[0];
    throw new ModelError(`could not download ${url} (${reason}); fetch it by hand: ${manual}`, { cause: error });
  }
}
