// The embedded backend's lighter constraint. When only a command is asked for, llama.cpp holds the
// model to one plain line under a small GBNF grammar instead of the JSON schema: measured in
// `npm run bench`, the JSON wrapping (braces, key, quotes and the blank lines node-llama-cpp's JSON
// grammar demands after the object) doubled the tokens of a short answer, with no fewer unusable
// answers. The line is the command: the backend hands it on as data (RawAnswer.command, and
// "command" events as it streams), with no JSON to parse.

import type { ChatPrompt } from "../prompt/chat.js";

/** The prompt's line that asks for JSON, and what the plain-line prompt says instead. */
const JSON_INSTRUCTION = /^Answer with JSON only:.*$/m;
const LINE_INSTRUCTION = "Answer with the command alone, on one line, and nothing else.";

export interface OneLineRequest {
  /** The same chat, asking for the command alone; its examples answer with the bare command. */
  prompt: ChatPrompt;
  /** GBNF: the command on one line, at most the schema's length, then a newline. */
  grammar: string;
}

/** The cap of a schema that asks for the command alone, or null when it asks for more (an explanation, say). */
function commandOnlyLength(schema: object): number | null {
  const { properties, required } = schema as {
    properties?: Record<string, { type?: string; maxLength?: unknown }>;
    required?: unknown;
  };
  if (!properties || Object.keys(properties).join() !== "command") return null;
  if (!Array.isArray(required) || required.join() !== "command") return null;
  const { type, maxLength } = properties.command;
  return type === "string" && Number.isInteger(maxLength) && (maxLength as number) > 0 ? (maxLength as number) : null;
}

/** The commands of the examples, unwrapped from their JSON; null when one is not `{"command": "…"}`. */
function exampleCommands(prompt: ChatPrompt): string[] | null {
  const commands: string[] = [];
  for (const example of prompt.examples) {
    try {
      const value = JSON.parse(example.assistant) as { command?: unknown };
      const keys = Object.keys(value ?? {});
      if (typeof value.command !== "string" || keys.join() !== "command" || /[\r\n]/.test(value.command)) return null;
      commands.push(value.command);
    } catch {
      return null;
    }
  }
  return commands;
}

/** One line of 1 to `maxLength` characters: no control characters, no leading blank; the newline ends it. */
export function lineGrammar(maxLength: number): string {
  return `root ::= [^\\x00-\\x20\\x7f-\\x9f] [^\\x00-\\x08\\x0a-\\x1f\\x7f-\\x9f]{0,${maxLength - 1}} "\\n"`;
}

/**
 * The plain-line form of a request, or null where the JSON schema must stay: a schema that asks
 * for more than the command, or a prompt not in the shape this rewrites (its JSON line or examples
 * changed), since a model told to write JSON and held to a plain line writes nonsense.
 */
export function oneLineRequest(prompt: ChatPrompt, schema: object): OneLineRequest | null {
  const maxLength = commandOnlyLength(schema);
  if (maxLength === null || !JSON_INSTRUCTION.test(prompt.system)) return null;
  const commands = exampleCommands(prompt);
  if (commands === null) return null;
  return {
    prompt: {
      system: prompt.system.replace(JSON_INSTRUCTION, LINE_INSTRUCTION),
      examples: prompt.examples.map((example, i) => ({ user: example.user, assistant: commands[i] })),
      user: prompt.user,
    },
    grammar: lineGrammar(maxLength),
  };
}
