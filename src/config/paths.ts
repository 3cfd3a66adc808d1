import { homedir } from "node:os";
import { join } from "node:path";

// Every path takes the environment it is resolved in: the daemon answers each client under
// that client's variables, not its own.
export type Env = Record<string, string | undefined>;

// XDG base directories, with the spec's fallbacks when a variable is unset or not absolute.
function xdg(env: Env, variable: string, fallback: string): string {
  const value = env[variable];
  return value?.startsWith("/") ? value : join(env.HOME || homedir(), fallback);
}

export const configHome = (env: Env = process.env) => xdg(env, "XDG_CONFIG_HOME", ".config");
export const cacheHome = (env: Env = process.env) => xdg(env, "XDG_CACHE_HOME", ".cache");
export const stateHome = (env: Env = process.env) => xdg(env, "XDG_STATE_HOME", ".local/state");

/** `$CARO_CONFIG`, else `$XDG_CONFIG_HOME/caro/config.toml`. */
export function configFilePath(env: Env = process.env): string {
  return env.CARO_CONFIG || join(configHome(env), "caro", "config.toml");
}

export function modelsDir(env: Env = process.env): string {
  return join(cacheHome(env), "caro", "models");
}
