import type { Node } from "web-tree-sitter";

/** One argument as the shell would see it, as far as caro can know without running anything. */
export interface Word {
  /** The text after quote removal; `~` for the home directory, `$NAME` for other variables. */
  text: string;
  /** Names of expansions whose value is unknown until run time (`$DIR`, `$(…)`). */
  unknown: string[];
}

const HOME_VARIABLES = new Set(["HOME"]);

function expansionName(node: Node): string {
  const name = node.descendantsOfType("variable_name")[0] ?? node.descendantsOfType("special_variable_name")[0];
  return name?.text ?? node.text.replace(/^\$\{?|\}$/g, "");
}

function unescape(text: string): string {
  return text.replace(/\\(.)/g, "$1");
}

function render(node: Node, unknown: string[]): string {
  switch (node.type) {
    case "word":
    case "number":
    case "string_content":
      return unescape(node.text);
    case "raw_string":
      return node.text.slice(1, -1);
    case "ansi_c_string":
      return node.text.slice(2, -1);
    case "simple_expansion":
    case "expansion": {
      const name = expansionName(node);
      if (HOME_VARIABLES.has(name)) return "~";
      unknown.push(`$${name}`);
      return `$${name}`;
    }
    case "command_substitution":
    case "process_substitution":
    case "arithmetic_expansion":
      unknown.push(node.text);
      return "$(…)";
    case "string":
    case "concatenation":
    case "translated_string":
      return node.namedChildren.length === 0 && node.type === "string"
        ? node.text.slice(1, -1)
        : stringParts(node, unknown);
    default:
      return node.text;
  }
}

// A double-quoted string keeps its literal text between the named children (tree-sitter names
// only the expansions and content runs), so rebuild it from byte offsets.
function stringParts(node: Node, unknown: string[]): string {
  let out = "";
  let cursor = node.startIndex + (node.type === "string" ? 1 : 0);
  const end = node.endIndex - (node.type === "string" ? 1 : 0);
  for (const child of node.namedChildren) {
    if (!child) continue;
    if (child.startIndex > cursor) out += node.text.slice(cursor - node.startIndex, child.startIndex - node.startIndex);
    out += render(child, unknown);
    cursor = child.endIndex;
  }
  if (end > cursor) out += node.text.slice(cursor - node.startIndex, end - node.startIndex);
  return out;
}

export function wordOf(node: Node): Word {
  const unknown: string[] = [];
  return { text: render(node, unknown), unknown };
}

export function literal(text: string): Word {
  return { text, unknown: [] };
}
