// The model's side of an answer: the JSON it is held to, and reading what it wrote back.

import { BackendError } from "../errors.js";

// Caps keep a runaway model short: the grammar closes the string at this length.
export const MAX_EXPLANATION_LENGTH = 300;

/** What the model wrote, read: not yet checked or rated. */
export interface Draft {
  command: string;
  explanation: string;
}

/** The JSON schema every backend constrains its answer to. The command comes first so it can be delivered first. */
export function draftSchema(withExplanation: boolean, maxCommandLength = 400) {
  const properties: Record<string, object> = {
    command: { type: "string", maxLength: maxCommandLength },
  };
  if (withExplanation) properties.explanation = { type: "string", maxLength: MAX_EXPLANATION_LENGTH };
  return { type: "object", properties, required: Object.keys(properties), additionalProperties: false } as const;
}

/** An explanation of a whole command, part by part, gets a few lines: more room than a one-line note. */
export const MAX_COMMAND_EXPLANATION_LENGTH = 2 * MAX_EXPLANATION_LENGTH;

/** The JSON schema for `caro explain`: the explanation alone, as the command is the user's own. */
export function explanationSchema() {
  const properties = { explanation: { type: "string", maxLength: MAX_COMMAND_EXPLANATION_LENGTH } };
  return { type: "object", properties, required: ["explanation"], additionalProperties: false } as const;
}

/**
 * Room for a command of `maxCommandLength` characters and an explanation, each doubled for JSON
 * escaping, and for the prose a server adds when it cannot hold the answer to the schema.
 */
export function maxTextLengthFor(maxCommandLength: number): number {
  return (maxCommandLength + MAX_EXPLANATION_LENGTH) * 2 + 200;
}

/**
 * The draft in a backend's reply: the command as data where the backend held the model to it
 * alone, else read from the model's JSON text (parseDraft).
 */
export function draftOf(raw: { text: string; command?: string }): Draft {
  if (raw.command !== undefined) return { command: raw.command.replace(/\r\n/g, "\n").trim(), explanation: "" };
  return parseDraft(raw.text);
}

/** Reads a model's reply: strict JSON first, then the first JSON object inside any chatter around it. */
export function parseDraft(text: string): Draft {
  const candidates = [text.trim(), /\{[\s\S]*\}/.exec(text)?.[0] ?? ""];
  for (const candidate of candidates) {
    try {
      const value = JSON.parse(candidate) as { command?: unknown; explanation?: unknown };
      if (typeof value.command === "string")
        return {
          command: value.command.replace(/\r\n/g, "\n").trim(),
          explanation: typeof value.explanation === "string" ? value.explanation.trim() : "",
        };
    } catch {
      // Try the next reading.
    }
  }
  throw new BackendError(`the model's answer is not the JSON that was asked for: ${JSON.stringify(text.slice(0, 80))}`);
}

/** Reads a model's explanation of a command, in the same forgiving way as parseDraft. */
export function parseExplanation(text: string): string {
  const candidates = [text.trim(), /\{[\s\S]*\}/.exec(text)?.[0] ?? ""];
  for (const candidate of candidates) {
    try {
      const value = JSON.parse(candidate) as { explanation?: unknown };
      if (typeof value.explanation === "string" && value.explanation.trim() !== "")
        return value.explanation.replace(/\r\n/g, "\n").trim().slice(0, MAX_COMMAND_EXPLANATION_LENGTH);
    } catch {
      // Try the next reading.
    }
  }
  throw new BackendError(
    `the model's explanation is not the JSON that was asked for: ${JSON.stringify(text.slice(0, 80))}`,
  );
}
