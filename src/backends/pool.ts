import type { LoadedConfig } from "../config/load.js";
import { modelsDir } from "../config/paths.js";
import { settingKeys } from "../config/schema.js";
import { EmbeddedBackend } from "./embedded.js";
import { OllamaBackend } from "./ollama.js";
import type { Backend } from "./types.js";
import { OpenaiBackend } from "./openai.js";

export type BackendName = "embedded" | "ollama" | "vllm";

/**
 * The live backends, one per set of settings that shape it, reused rather than remembered: a
 * long-lived process (the daemon) keeps one worker pool, with its model loaded, for every request
 * that asks for the same thing.
 */
export class BackendPool {
  private readonly entries = new Map<string, Backend>();

  get(name: BackendName, config: LoadedConfig): Backend {
    const own = settingKeys
      .filter((key) => key.startsWith(`backends.${name}.`))
      .map((key) => [key, config.settings[key]]);
    const key = JSON.stringify([name, own, name === "embedded" ? modelsDir(config.env) : config.path]);
    let backend = this.entries.get(key);
    if (!backend) {
      backend =
        name === "ollama"
          ? new OllamaBackend(config.settings, config.path)
          : name === "vllm"
            ? new OpenaiBackend(config.settings, config.path)
            : new EmbeddedBackend(config.settings, config.env);
      this.entries.set(key, backend);
    }
    return backend;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Closes every backend: the embedded ones unload their models. Only when no request is running. */
  async closeAll(): Promise<void> {
    const backends = [...this.entries.values()];
    this.entries.clear();
    await Promise.all(backends.map((b) => b.close()));
  }
}
