import { homedir } from "node:os";
import type { Shell } from "../prompt/context.js";
import { analyze } from "./commands.js";
import { analysisFindings, type Finding, type Risk } from "./rules.js";

export type { Risk } from "./rules.js";
const RISKS: readonly Risk[] = ["safe", "moderate", "high", "critical"];

export interface Rating {
  risk: Risk;
  /** Why, most serious first, in words a person understands. */
  reasons: string[];
}

const rank = (risk: Risk) => RISKS.indexOf(risk);

/** Rates what a command would do, from its syntax tree: every command it runs, wrappers and nested shells included. */
export async function rateCommand(command: string, shell: Shell = "bash", cwd?: string): Promise<Rating> {
  const analysis = await analyze(command, { fish: shell === "fish" });
  // The home directory is "~" to the path rules, wherever it lives.
  const where = cwd === homedir() ? "~" : cwd;
  const findings: Finding[] = analysisFindings(analysis, where);
  if (analysis.unparsed.length > 0)
    findings.push({
      risk: "moderate",
      reason:
        shell === "fish"
          ? "part of it is fish syntax that caro's POSIX parser cannot read, so it is rated on what it could read"
          : "it does not parse as shell, so caro cannot tell everything it does",
    });
  findings.sort((a, b) => rank(b.risk) - rank(a.risk));
  const reasons = [...new Set(findings.filter((f) => f.risk !== "safe").map((f) => f.reason))];
  return { risk: findings[0]?.risk ?? "safe", reasons };
}
