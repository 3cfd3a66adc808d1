import { parseArgs, type ArgsDef, type ParsedArgs } from "citty";
import { UsageError } from "../errors.js";

/** citty's parser, plus what it leaves out: an unknown flag is a usage error, not a silent extra key. */
export function parseStrict<T extends ArgsDef>(argv: string[], args: T, command = ""): ParsedArgs<T> {
  const parsed = parseArgs(argv, args) as ParsedArgs<T>;
  const known = new Set(["_"]);
  for (const [name, def] of Object.entries(args)) {
    known.add(name);
    for (const alias of ["alias" in def ? (def.alias ?? []) : []].flat()) known.add(alias);
    // citty also sets camelCase and kebab-case twins of each flag.
    known.add(name.replace(/-(\w)/g, (_, c: string) => c.toUpperCase()));
  }
  const unknown = Object.keys(parsed as object).filter((key) => !known.has(key));
  if (unknown.length > 0) {
    const flag = unknown[0].length === 1 ? `-${unknown[0]}` : `--${unknown[0]}`;
    throw new UsageError(`unknown option ${flag}: see caro ${command ? `${command} ` : ""}--help`);
  }
  for (const [name, def] of Object.entries(args))
    if (def.type === "string" && [true, ""].includes((parsed as Record<string, unknown>)[name] as string))
      throw new UsageError(`--${name} needs a value`);
  return parsed;
}
