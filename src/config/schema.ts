import { ConfigError } from "../errors.js";

export const DEFAULT_MODEL = "hf:Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf";
export const BACKENDS = ["auto", "embedded"] as const;
export const GPU_KINDS = ["auto", "cuda", "vulkan", "metal", "false"] as const;

export type Backend = (typeof BACKENDS)[number];
export type GpuKind = (typeof GPU_KINDS)[number];

/** Every setting, flat, by its dotted TOML path. */
export interface Settings {
  backend: Backend;
  "backends.embedded.model": string;
  "backends.embedded.gpu": GpuKind;
  "backends.embedded.gpu_layers": "auto" | "max" | number;
  "backends.embedded.threads": number;
  "backends.embedded.context_size": number;
  "backends.embedded.workers": number;
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
  "backends.embedded.model": {
    default: DEFAULT_MODEL,
    env: "CARO_MODEL",
    parse: nonEmptyString,
    help: "a GGUF file path or hf:user/repo/file.gguf",
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
    help: "CPU threads; 0 means one per core",
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
};

export const settingKeys = Object.keys(settingSpecs) as SettingKey[];

/** Checks one raw value; `where` names its origin for the error line. */
export function parseSetting<K extends SettingKey>(key: K, raw: unknown, where: string): Settings[K] {
  try {
    return settingSpecs[key].parse(raw);
  } catch (error) {
    throw new ConfigError(`${where}: ${key} ${(error as Error).message} (got ${JSON.stringify(raw)})`);
  }
}
