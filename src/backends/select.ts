import { existsSync } from "node:fs";
import type { LoadedConfig } from "../config/load.js";
import { BackendError, CaroError } from "../errors.js";
import { whyNotFetchable } from "../models/download.js";
import { cachedModelPath, manualDownloadCommand, parseHfUri } from "../models/hf.js";
import { catalogModel } from "../models/catalog.js";
import { resolveModelPath } from "../models/resolve.js";
import type { BackendCache } from "./cache.js";
import { ollamaAnswers } from "./ollama.js";
import type { Backend, PassedOver } from "./types.js";

export type { PassedOver } from "./types.js";

export interface Selection {
  backend: Backend;
  /** Under auto: each backend tried before the one chosen, and why it was not. */
  passedOver: PassedOver[];
}

/** Can the embedded backend serve: its model is here, or can be fetched now? */
async function embeddedProblem(config: LoadedConfig): Promise<string | null> {
  const spec = config.settings["backends.embedded.model"];
  const hf = parseHfUri(catalogModel(spec)?.uri ?? spec);
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

function vllmConfigured(config: LoadedConfig): boolean {
  return config.sources["backends.vllm.url"] !== "default" || config.sources["backends.vllm.model"] !== "default";
}

/**
 * The backend that `backend` names. A named backend is used even if it will fail: the user asked
 * for it. `auto` takes the first that can serve: embedded, then Ollama, then vLLM.
 */
export async function selectBackend(config: LoadedConfig, cache: BackendCache): Promise<Selection> {
  const { settings } = config;
  const create = (name: "embedded" | "ollama" | "vllm", c: LoadedConfig) => cache.get(name, c);
  if (settings.backend !== "auto") return { backend: create(settings.backend, config), passedOver: [] };
  const passedOver: PassedOver[] = [];

  const embedded = await embeddedProblem(config);
  if (embedded === null) return { backend: create("embedded", config), passedOver };
  passedOver.push({ backend: "embedded", reason: embedded });

  const host = settings["backends.ollama.host"];
  if (!settings["backends.ollama.enabled"]) passedOver.push({ backend: "ollama", reason: "disabled in the config" });
  else if (await ollamaAnswers(host)) return { backend: create("ollama", config), passedOver };
  else passedOver.push({ backend: "ollama", reason: `no Ollama server answers at ${host}` });

  if (!settings["backends.vllm.enabled"]) passedOver.push({ backend: "vllm", reason: "disabled in the config" });
  else if (vllmConfigured(config)) return { backend: create("vllm", config), passedOver };
  else passedOver.push({ backend: "vllm", reason: `not configured: set [backends.vllm] url in ${config.path}` });

  const hf = parseHfUri(catalogModel(settings["backends.embedded.model"])?.uri ?? settings["backends.embedded.model"]);
  const fetchByHand = hf ? `fetch the model by hand (${manualDownloadCommand(hf, config.env)})` : "set [backends.embedded] model to a GGUF file";
  throw new BackendError(
    `no backend can answer (${passedOver.map((p) => `${p.backend}: ${p.reason}`).join("; ")}): ` +
      `${fetchByHand}, start "ollama serve", or configure [backends.vllm]`,
  );
}
