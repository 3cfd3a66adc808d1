import { readFileSync } from "node:fs";
import { parse, TomlError } from "smol-toml";
import { ConfigError } from "../errors.js";
import { configFilePath, type Env } from "./paths.js";
import { parseSetting, settingKeys, settingSpecs, type SettingKey, type Settings } from "./schema.js";

export type Source = "default" | "file" | "env" | "flag";

export interface LoadedConfig {
  settings: Settings;
  /** Where each setting's value came from, for `caro config show` and --verbose. */
  sources: Record<SettingKey, Source>;
  path: string;
  fileExists: boolean;
  /** One line each: unknown keys in the file. */
  warnings: string[];
  /** The environment it was read under (the client's, in the daemon). */
  env: Env;
}

/** Values given on the command line, by setting key. */
export type FlagValues = Partial<Record<SettingKey, unknown>>;

/** Flattens TOML tables into dotted keys, so `[backends.embedded] model` becomes `backends.embedded.model`. */
function flatten(table: Record<string, unknown>, prefix = ""): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const [key, value] of Object.entries(table)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (value && typeof value === "object" && !Array.isArray(value) && !(value instanceof Date))
      for (const [k, v] of flatten(value as Record<string, unknown>, path)) out.set(k, v);
    else out.set(path, value);
  }
  return out;
}

function readFile(path: string): { text: string | null } {
  try {
    return { text: readFileSync(path, "utf8") };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return { text: null };
    throw new ConfigError(`${path}: cannot read the config file (${code}): check its permissions`);
  }
}

function parseToml(path: string, text: string): Map<string, unknown> {
  try {
    return flatten(parse(text));
  } catch (error) {
    if (error instanceof TomlError) {
      const reason = error.message.split("\n")[0].replace(/^Invalid TOML document: /, "");
      throw new ConfigError(`${path}:${error.line}:${error.column}: ${reason}`);
    }
    throw error;
  }
}

/** Precedence, highest first: flags, environment, config file, defaults. */
export function loadConfig(flags: FlagValues = {}, env: Env = process.env): LoadedConfig {
  const path = configFilePath(env);
  const { text } = readFile(path);
  const fromFile = text === null ? new Map<string, unknown>() : parseToml(path, text);
  const warnings = [...fromFile.keys()]
    .filter((key) => !settingKeys.includes(key as SettingKey))
    .map((key) => `unknown key "${key}" in ${path} (ignored)`);

  const settings = {} as Record<SettingKey, unknown>;
  const sources = {} as Record<SettingKey, Source>;
  for (const key of settingKeys) {
    const spec = settingSpecs[key];
    const envName = spec.env;
    const envValue = envName ? env[envName] : undefined;
    if (flags[key] !== undefined) {
      settings[key] = parseSetting(key, flags[key], "command line");
      sources[key] = "flag";
    } else if (envName && envValue) {
      settings[key] = parseSetting(key, envValue, `$${envName}`);
      sources[key] = "env";
    } else if (fromFile.has(key)) {
      settings[key] = parseSetting(key, fromFile.get(key), path);
      sources[key] = "file";
    } else {
      settings[key] = spec.default;
      sources[key] = "default";
    }
  }
  return { settings: settings as unknown as Settings, sources, path, fileExists: text !== null, warnings, env };
}

/** The config for one request: `--model` names the model of the backend chosen by name, else the embedded one's. */
export function loadRequestConfig(flags: { backend?: string; model?: string }, env: Env = process.env): LoadedConfig {
  const config = loadConfig({ backend: flags.backend }, env);
  if (flags.model === undefined) return config;
  const named = config.settings.backend;
  const modelKey =
    named === "ollama" || named === "vllm" ? (`backends.${named}.model` as const) : "backends.embedded.model";
  return loadConfig({ backend: flags.backend, [modelKey]: flags.model }, env);
}
