import type { Node } from "./parser.js";

/** One argument as the shell would see it, as far as caro can know without running anything. */
export interface Word {
  /** The text after quote removal; `~` for the home directory, `$NAME` for other variables. */
  text: string;
  /** Names of expansions whose value is unknown until run time (`$DIR`, `$(…)`). */
  unknown: string[];
  /**
   * The scripts whose output this word carries: as text (`$(…)`, backticks) or as the contents of
   * the file it names (`<(…)`). `>(…)` is left out: the word names a file the script reads from.
   */
  substitutions: Substitution[];
}

export interface Substitution {
  kind: "command" | "process";
  script: string;
}

const HOME_VARIABLES = new Set(["HOME"]);

function expansionName(node: Node): string {
  const name = node.descendantsOfType("variable_name")[0] ?? node.descendantsOfType("special_variable_name")[0];
  return name?.text ?? node.text.replace(/^\$\{?|\}$/g, "");
}

function unescapeWord(text: string): string {
  return text.replace(/\\(.)/g, "$1");
}

interface Found {
  unknown: string[];
  substitutions: Substitution[];
}

function substitution(node: Node): Substitution | null {
  const text = node.text;
  if (node.type === "process_substitution")
    return text.startsWith("<(") ? { kind: "process", script: text.slice(2, -1) } : null;
  if (node.type !== "command_substitution") return null;
  const script = text.startsWith("`") ? text.slice(1, -1) : text.replace(/^\$\(/, "").replace(/\)$/, "");
  return { kind: "command", script };
}

function render(node: Node, found: Found): string {
  switch (node.type) {
    case "word":
    case "number":
    case "string_content":
      return unescapeWord(node.text);
    case "raw_string":
      return node.text.slice(1, -1);
    case "ansi_c_string":
      return node.text.slice(2, -1);
    case "simple_expansion":
    case "expansion": {
      const name = expansionName(node);
      if (HOME_VARIABLES.has(name)) return "~";
      found.unknown.push(`$${name}`);
      return `$${name}`;
    }
    case "command_substitution":
    case "process_substitution":
    case "arithmetic_expansion": {
      found.unknown.push(node.text);
      const carried = substitution(node);
      if (carried) found.substitutions.push(carried);
      return "$(…)";
    }
    case "string":
    case "concatenation":
    case "translated_string":
      return node.namedChildren.length === 0 && node.type === "string"
        ? node.text.slice(1, -1)
        : stringParts(node, found);
    default:
      return node.text;
  }
}

// A double-quoted string keeps its literal text between the named children (tree-sitter names
// only the expansions and content runs), so rebuild it from byte offsets.
function stringParts(node: Node, found: Found): string {
  let out = "";
  let cursor = node.startIndex + (node.type === "string" ? 1 : 0);
  const end = node.endIndex - (node.type === "string" ? 1 : 0);
  for (const child of node.namedChildren) {
    if (!child) continue;
    if (child.startIndex > cursor) out += node.text.slice(cursor - node.startIndex, child.startIndex - node.startIndex);
    out += render(child, found);
    cursor = child.endIndex;
  }
  if (end > cursor) out += node.text.slice(cursor - node.startIndex, end - node.startIndex);
  return out;
}

export function wordOf(node: Node): Word {
  const found: Found = { unknown: [], substitutions: [] };
  return { text: render(node, found), ...found };
}

export function literal(text: string): Word {
  return { text, unknown: [], substitutions: [] };
}
