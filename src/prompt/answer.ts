import { BackendError } from "../errors.js";

// Caps keep a runaway model short: the grammar closes the string at this length.
export const MAX_EXPLANATION_LENGTH = 300;

export interface Answer {
  command: string;
  explanation: string;
}

/** The JSON schema every backend constrains its answer to. The command comes first so it can be delivered first. */
export function answerSchema(withExplanation: boolean, maxCommandLength = 400) {
  const properties: Record<string, object> = {
    command: { type: "string", maxLength: maxCommandLength },
  };
  if (withExplanation) properties.explanation = { type: "string", maxLength: MAX_EXPLANATION_LENGTH };
  return { type: "object", properties, required: Object.keys(properties), additionalProperties: false } as const;
}

/** Reads a model's reply: strict JSON first, then the first JSON object inside any chatter around it. */
export function parseAnswer(text: string): Answer {
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
