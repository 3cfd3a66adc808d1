import type { SafetyLevel } from "../config/schema.js";
import type { Risk } from "./rules.js";

/** What to do with a command of a given risk: run it, run it with a warning, ask first, or refuse. */
export type Verdict = "run" | "warn" | "confirm" | "block";

const POLICY: Record<SafetyLevel, Record<Risk, Verdict>> = {
  strict: { safe: "run", moderate: "confirm", high: "block", critical: "block" },
  moderate: { safe: "run", moderate: "warn", high: "confirm", critical: "block" },
  permissive: { safe: "run", moderate: "warn", high: "warn", critical: "confirm" },
};

export function verdictFor(risk: Risk, level: SafetyLevel): Verdict {
  return POLICY[level][risk];
}
