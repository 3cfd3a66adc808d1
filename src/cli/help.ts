import type { ArgsDef } from "citty";

// Help is plain text: it is read through pipes and pagers as often as on a terminal, so no colour
// and no padding at the ends of lines, and one line per option.

/** The options of an args definition, one per line, then any extra rows and -h, --help. */
export function optionLines(args: ArgsDef, extra: [string, string][] = []): string {
  const rows: { short: string; long: string; text: string }[] = [];
  for (const [name, def] of Object.entries(args)) {
    if (def.type === "positional" || !def.description) continue;
    const short = [("alias" in def ? def.alias : undefined) ?? []]
      .flat()
      .map((a) => `-${a}`)
      .join(", ");
    // citty reads --no-<flag> for a flag that defaults to true: one line names both.
    const hint = "valueHint" in def && def.valueHint ? def.valueHint : name;
    const long =
      def.type === "boolean" && def.default === true
        ? `--${name}/--no-${name}`
        : def.type === "string"
          ? `--${name} <${hint}>`
          : `--${name}`;
    rows.push({ short, long, text: def.description });
  }
  for (const [flags, text] of extra) {
    const [short, long] = flags.includes(", ") ? flags.split(", ") : ["", flags];
    rows.push({ short, long, text });
  }
  rows.push({ short: "-h", long: "--help", text: "Show this help" });
  const label = (r: (typeof rows)[number]) => (r.short ? `${r.short}, ${r.long}` : `    ${r.long}`);
  const width = Math.max(...rows.map((r) => label(r).length));
  return rows.map((r) => `  ${label(r).padEnd(width)}  ${r.text}`).join("\n");
}

/** -h or --help before any `--` (after it, words belong to the command being rated). */
export function wantsHelp(argv: string[]): boolean {
  const end = argv.indexOf("--");
  return (end === -1 ? argv : argv.slice(0, end)).some((a) => a === "-h" || a === "--help");
}
