import { ConfigError } from "../errors.js";
import { BACKENDS, SAFETY_LEVELS } from "./choices.js";

export { BACKENDS, SAFETY_LEVELS };

/** A catalog name (`caro models list`); a GGUF path or an hf: URI works too. */
const DEFAULT_MODEL = "qwen2.5-coder-1.5b";
const GPU_KINDS = ["auto", "cuda", "vulkan", "metal", "false"] as const;

export const REDACT_MODES = ["remote", "always", "never"] as const;
export const SCREEN_MODES = ["local", "always", "never"] as const;

export type Backend = (typeof BACKENDS)[number];
export type SafetyLevel = (typeof SAFETY_LEVELS)[number];
export type GpuKind = (typeof GPU_KINDS)[number];
export type RedactMode = (typeof REDACT_MODES)[number];
export type ScreenMode = (typeof SCREEN_MODES)[number];

/** Every setting, flat, by its dotted TOML path. */
export interface Settings {
  backend: Backend;
  max_command_length: number;
  "backends.embedded.model": string;
  "backends.embedded.gpu": GpuKind;
  "backends.embedded.gpu_layers": "auto" | "max" | number;
  "backends.embedded.threads": number;
  "backends.embedded.context_size": number;
  "backends.embedded.workers": number;
  "backends.embedded.prefix_cache": boolean;
  "backends.ollama.enabled": boolean;
  "backends.ollama.host": string;
  "backends.ollama.model": string;
  "backends.ollama.timeout": number;
  "backends.vllm.enabled": boolean;
  "backends.vllm.url": string;
  "backends.vllm.model": string;
  "backends.vllm.api_key": string;
  "backends.vllm.timeout": number;
  "safety.level": SafetyLevel;
  "context.tools": boolean;
  "context.entries": number;
  "context.git": boolean;
  "context.history": number;
  "context.screen": ScreenMode;
  "context.redact": RedactMode;
  "context.checks": boolean;
  "daemon.idle_unload_minutes": number;
  "daemon.idle_exit_minutes": number;
  "daemon.memory_budget_mb": "auto" | number;
  "daemon.start_on_init": boolean;
}

export type SettingKey = keyof Settings;

interface SettingSpec<K extends SettingKey> {
  default: Settings[K];
  /** Environment variable that overrides the file. */
  env?: string;
  /** Turns a raw value from TOML, env or a flag into a checked one, or says what is wrong. */
  parse: (raw: unknown) => Settings[K];
  help: string;
}

const oneOf =
  <T extends string>(choices: readonly T[]) =>
  (raw: unknown): T => {
    const value = String(raw);
    if (!choices.includes(value as T)) throw new Error(`must be one of ${choices.join(", ")}`);
    return value as T;
  };

const wholeNumber =
  (min: number) =>
  (raw: unknown): number => {
    const value = typeof raw === "string" && raw.trim() !== "" ? Number(raw) : raw;
    if (typeof value !== "number" || !Number.isInteger(value) || value < min)
      throw new Error(`must be a whole number of at least ${min}`);
    return value;
  };

const wholeNumberUpTo =
  (min: number, max: number) =>
  (raw: unknown): number => {
    const value = wholeNumber(min)(raw);
    if (value > max) throw new Error(`must be at most ${max}`);
    return value;
  };

const boolean = (raw: unknown): boolean => {
  if (typeof raw === "boolean") return raw;
  if (raw === "true" || raw === "1") return true;
  if (raw === "false" || raw === "0") return false;
  throw new Error("must be true or false");
};

const anyString = (raw: unknown): string => {
  if (typeof raw !== "string") throw new Error("must be a string");
  return raw;
};

const httpUrl = (raw: unknown): string => {
  const value = nonEmptyString(raw);
  try {
    const url = new URL(value);
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error();
  } catch {
    throw new Error("must be an http:// or https:// URL");
  }
  return value.replace(/\/+$/, "");
};

/** Ollama's own OLLAMA_HOST may be "host:port", "0.0.0.0" or a URL; make it a URL to connect to. */
export function ollamaUrl(raw: unknown): string {
  let value = nonEmptyString(raw).trim();
  if (!/^https?:\/\//.test(value)) value = `http://${value}`;
  const url = new URL(value);
  if (url.hostname === "0.0.0.0") url.hostname = "127.0.0.1";
  if (url.port === "" && !/:\d+(\/|$)/.test(value.replace(/^https?:\/\//, ""))) url.port = "11434";
  return url.toString().replace(/\/+$/, "");
}

const minutes = (raw: unknown): number => {
  const value = typeof raw === "string" && raw.trim() !== "" ? Number(raw) : raw;
  if (typeof value !== "number" || !(value > 0)) throw new Error("must be a number of minutes above 0");
  return value;
};

const seconds = (raw: unknown): number => {
  const value = typeof raw === "string" && raw.trim() !== "" ? Number(raw) : raw;
  if (typeof value !== "number" || !(value > 0)) throw new Error("must be a number of seconds above 0");
  return value;
};

const nonEmptyString = (raw: unknown): string => {
  if (typeof raw !== "string" || raw.trim() === "") throw new Error("must be a non-empty string");
  return raw;
};

export const settingSpecs: { [K in SettingKey]: SettingSpec<K> } = {
  backend: {
    default: "auto",
    env: "CARO_BACKEND",
    parse: oneOf(BACKENDS),
    help: "which backend answers: auto tries each in order",
  },
  max_command_length: {
    default: 400,
    parse: wholeNumberUpTo(8, 4000),
    help: "the longest command, in characters, a model may answer with",
  },
  "backends.embedded.model": {
    default: DEFAULT_MODEL,
    env: "CARO_MODEL",
    parse: nonEmptyString,
    help: "a catalog name (caro models list), a GGUF file path or hf:user/repo/file.gguf",
  },
  "backends.embedded.gpu": {
    default: "auto",
    parse: oneOf(GPU_KINDS),
    help: "GPU to offload to; false for the CPU only",
  },
  "backends.embedded.gpu_layers": {
    default: "auto",
    parse: (raw) => (raw === "auto" || raw === "max" ? raw : wholeNumber(0)(raw)),
    help: "layers to offload: auto, max or a number",
  },
  "backends.embedded.threads": {
    default: 0,
    parse: wholeNumber(0),
    help: "CPU threads; 0: one per core that other programs leave free, judged before each request",
  },
  "backends.embedded.context_size": {
    default: 2048,
    parse: wholeNumber(512),
    help: "tokens of context the model keeps",
  },
  "backends.embedded.workers": {
    default: 1,
    parse: wholeNumber(1),
    help: "worker threads, each holding its own copy of the model",
  },
  "backends.embedded.prefix_cache": {
    default: true,
    parse: boolean,
    help: "keep the evaluated system prompt and examples, in memory and on disk, so requests skip their prefill",
  },
  "backends.ollama.enabled": { default: true, parse: boolean, help: "let auto use Ollama when a server answers" },
  "backends.ollama.host": {
    default: "http://localhost:11434",
    env: "OLLAMA_HOST",
    parse: (raw) => {
      try {
        return ollamaUrl(raw);
      } catch (error) {
        throw new Error(
          (error as Error).message.startsWith("must")
            ? (error as Error).message
            : "must be a host:port or an http:// URL",
        );
      }
    },
    help: "where Ollama listens",
  },
  "backends.ollama.model": { default: "qwen2.5-coder:1.5b", parse: nonEmptyString, help: "an Ollama model name" },
  "backends.ollama.timeout": {
    default: 30,
    parse: seconds,
    help: "seconds to wait for Ollama's first byte, then again for the rest",
  },
  "backends.vllm.enabled": { default: true, parse: boolean, help: "let auto use this server when it answers" },
  "backends.vllm.url": {
    default: "http://localhost:8000",
    parse: httpUrl,
    help: "an OpenAI-compatible server (vLLM, llama-server, …)",
  },
  "backends.vllm.model": { default: "", parse: anyString, help: "empty: the first id GET /v1/models lists" },
  "backends.vllm.api_key": { default: "", env: "CARO_VLLM_API_KEY", parse: anyString, help: "sent as a Bearer token" },
  "backends.vllm.timeout": {
    default: 30,
    parse: seconds,
    help: "seconds to wait for the server's first byte, then again for the rest",
  },
  "safety.level": {
    default: "moderate",
    parse: oneOf(SAFETY_LEVELS),
    help: "which risks are blocked, confirmed or warned",
  },
  "context.tools": {
    default: true,
    parse: boolean,
    help: "tell the model this machine's package manager and which common tools are installed",
  },
  "context.entries": {
    default: 8,
    parse: wholeNumberUpTo(0, 64),
    help: "entries of the current folder the model is shown (folders first); 0 for none",
  },
  "context.git": { default: true, parse: boolean, help: "tell the model the git branch of the current folder" },
  "context.history": {
    default: 0,
    parse: wholeNumberUpTo(0, 50),
    help: "your last commands the model is shown, sent by the Ctrl-G widget; 0 for none",
  },
  "context.screen": {
    default: "local",
    parse: oneOf(SCREEN_MODES),
    help: "for a fix, what the failed command printed (tmux): to local backends only, always, or never",
  },
  "context.redact": {
    default: "remote",
    parse: oneOf(REDACT_MODES),
    help: "hide secrets in the context caro adds: when it goes to a server not on this machine, always, or never",
  },
  "context.checks": {
    default: true,
    parse: boolean,
    help: "check each answer against this machine (programs, options in their manual pages) and ask again once",
  },
  "daemon.idle_unload_minutes": {
    default: 15,
    parse: minutes,
    help: "unload the model after this long without a request",
  },
  "daemon.idle_exit_minutes": {
    default: 60,
    parse: minutes,
    help: "stop the daemon after this long without a request",
  },
  "daemon.memory_budget_mb": {
    default: "auto",
    parse: (raw) => (raw === "auto" ? raw : wholeNumber(1)(raw)),
    help:
      "megabytes all loaded models may take together; auto: what the machine has available beside them " +
      "(MemAvailable) plus what they hold. The least recently used model makes room for another",
  },
  "daemon.start_on_init": {
    default: true,
    parse: boolean,
    help:
      "caro init starts the daemon, in the background, as the shell starts: the first Ctrl-G finds the model " +
      "loaded",
  },
};

/** Settings that must never be printed in full. */
export const SECRET_KEYS: ReadonlySet<SettingKey> = new Set(["backends.vllm.api_key"]);

export const settingKeys = Object.keys(settingSpecs) as SettingKey[];

/** Checks one raw value; `where` names its origin for the error line. */
export function parseSetting<K extends SettingKey>(key: K, raw: unknown, where: string): Settings[K] {
  try {
    return settingSpecs[key].parse(raw);
  } catch (error) {
    throw new ConfigError(`${where}: ${key} ${(error as Error).message} (got ${JSON.stringify(raw)})`);
  }
}
