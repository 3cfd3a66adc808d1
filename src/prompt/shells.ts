// The shells caro writes commands for. A file of its own: `caro --help`, `caro check` and the
// completions name them without loading context.ts, which loads child_process (4 ms of a command's
// start) to ask the OS about itself.
import { basename } from "node:path";
import { UsageError } from "../errors.js";

export const SHELLS = ["zsh", "bash", "fish", "sh"] as const;
export type Shell = (typeof SHELLS)[number];

/** A shell named on the command line, or a usage error listing the ones caro writes for. */
export function shellNamed(name: string): Shell {
  if (!(SHELLS as readonly string[]).includes(name))
    throw new UsageError(`unknown shell "${name}": use one of ${SHELLS.join(", ")}`);
  return name as Shell;
}

/** `$SHELL`'s name when it is one we know; sh otherwise. */
export function shellFromEnvironment(): Shell {
  const name = basename(process.env.SHELL ?? "");
  return (SHELLS as readonly string[]).includes(name) ? (name as Shell) : "sh";
}
