import { homedir } from "node:os";
import { join } from "node:path";

// XDG base directories, with the spec's fallbacks when a variable is unset or empty.
function xdg(variable: string, fallback: string): string {
  const value = process.env[variable];
  return value && value.startsWith("/") ? value : join(homedir(), fallback);
}

export const configHome = () => xdg("XDG_CONFIG_HOME", ".config");
export const cacheHome = () => xdg("XDG_CACHE_HOME", ".cache");
export const stateHome = () => xdg("XDG_STATE_HOME", ".local/state");

/** `$CARO_CONFIG`, else `$XDG_CONFIG_HOME/caro/config.toml`. */
export function configFilePath(): string {
  return process.env.CARO_CONFIG || join(configHome(), "caro", "config.toml");
}

export function modelsDir(): string {
  return join(cacheHome(), "caro", "models");
}
