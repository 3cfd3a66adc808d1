// The one list of the environment variables a request carries: what the daemon needs of the
// client's environment to answer as if it ran there (config path, backend settings, locale, PATH).
// PATH and MANPATH also say which programs and manual pages each answer is checked against.
// The client forwards these to the daemon; `caro init` writes the same list into each shell's
// widget, in the shell's own terms (src/shell/shells.ts), which sends only these to its session
// client; the session client refuses any other.

/** Every variable whose name starts with one of these. */
export const FORWARDED_PREFIXES = ["CARO_", "OLLAMA_", "HF_", "XDG_", "LC_"] as const;
/** And these, by name. */
export const FORWARDED_NAMES = ["HOME", "USER", "SHELL", "PATH", "MANPATH", "LANG"] as const;

/** The names above as one regular expression (fish's widget matches with it). */
export const FORWARDED = new RegExp(`^(${FORWARDED_PREFIXES.join("|")})|^(${FORWARDED_NAMES.join("|")})$`);
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Is this a variable a request carries (and a name a shell could export)? */
export function isForwarded(name: string): boolean {
  return NAME.test(name) && FORWARDED.test(name);
}

/** The forwarded variables of `env`. */
export function clientEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env).filter((e): e is [string, string] => isForwarded(e[0]) && e[1] !== undefined),
  );
}
