import type { Shell } from "../prompt/context.js";
import { parseBash } from "./parser.js";

export const RISKS = ["safe", "moderate", "high", "critical"] as const;
export type Risk = (typeof RISKS)[number];

export interface Rating {
  risk: Risk;
  reasons: string[];
}

export async function rateCommand(command: string, _shell: Shell): Promise<Rating> {
  const tree = await parseBash(command);
  try {
    if (tree.rootNode.hasError) return { risk: "moderate", reasons: ["does not parse as shell, so caro cannot tell what it does"] };
    return { risk: "safe", reasons: [] };
  } finally {
    tree.delete();
  }
}
