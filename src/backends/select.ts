import { existsSync } from "node:fs";
import type { LoadedConfig } from "../config/load.js";
import { BackendError, CaroError } from "../errors.js";
import { whyNotFetchable } from "../models/download.js";
import { cachedModelPath, hfModelOf, manualDownloadCommand } from "../models/hf.js";
import { resolveModelPath } from "../models/resolve.js";
import type { BackendPool, Lease } from "./pool.js";
import { ollamaAnswers } from "./ollama.js";
import type { Backend, PassedOver } from "./types.js";
// doctor asks openai.ts the same question auto does here, so the two agree.
import { probeOpenaiServer } from "./openai.js";

export interface Selection {
  backend: Backend;
  /** Ends the request's hold on the backend: call it once the request is over. */
  release: Lease["release"];
  /** Under auto: each backend tried before the one chosen, and why it was not. */
  passedOver: PassedOver[];
}

/** Can the embedded backend serve: its model is here, or can be fetched now? */
async function embeddedProblem(config: LoadedConfig): Promise<string | null> {
  const spec = config.settings["backends.embedded.model"];
  const hf = hfModelOf(spec);
  if (hf) {
    if (existsSync(cachedModelPath(hf, config.env))) return null;
    const why = await whyNotFetchable(hf, config.env);
    return why === null ? null : `${hf.file.split("/").at(-1)} is not downloaded and cannot be fetched now (${why})`;
  }
  try {
    resolveModelPath(spec, config.env);
    return null;
  } catch (error) {
    return error instanceof CaroError ? error.message : String(error);
  }
}

/**
 * The backend that `backend` names. A named backend is used even if it will fail: the user asked
 * for it. `auto` takes the first that can serve: embedded, then Ollama, then vLLM.
 */
export async function selectBackend(config: LoadedConfig, pool: BackendPool): Promise<Selection> {
  const { settings } = config;
  const passedOver: PassedOver[] = [];
  const take = (name: "embedded" | "ollama" | "vllm"): Selection => ({ ...pool.get(name, config), passedOver });
  if (settings.backend !== "auto") return take(settings.backend);

  const embedded = await embeddedProblem(config);
  if (embedded === null) return take("embedded");
  passedOver.push({ backend: "embedded", reason: embedded });

  const host = settings["backends.ollama.host"];
  if (!settings["backends.ollama.enabled"]) passedOver.push({ backend: "ollama", reason: "disabled in the config" });
  else if (await ollamaAnswers(host)) return take("ollama");
  else passedOver.push({ backend: "ollama", reason: `no Ollama server answers at ${host}` });

  if (!settings["backends.vllm.enabled"]) passedOver.push({ backend: "vllm", reason: "disabled in the config" });
  else {
    // A server still loading its model is taken too: the request waits for it, within its timeout.
    const probe = await probeOpenaiServer(settings, config.path);
    if ("models" in probe) return take("vllm");
    passedOver.push({ backend: "vllm", reason: probe.problem });
  }

  throw new BackendError(noBackendMessage(config, passedOver));
}

/**
 * Why nothing can answer, a short line per backend, then the one thing to do. Several lines: the
 * CLI prints the first after "caro: " and indents the rest, so the command can be copied whole.
 */
function noBackendMessage(config: LoadedConfig, passedOver: PassedOver[]): string {
  const spec = config.settings["backends.embedded.model"];
  const hf = hfModelOf(spec);
  const todo = hf
    ? ["fetch the model by hand:", `  ${manualDownloadCommand(hf, config.env)}`]
    : [`set [backends.embedded] model in ${config.path} to a GGUF file`];
  return [
    "no backend can answer:",
    ...passedOver.map((p) => `  ${p.backend}: ${p.reason}`),
    ...todo,
    'or start a server: "ollama serve", or an OpenAI-compatible one (e.g. "vllm serve <model>")',
  ].join("\n");
}
