// The chat every backend is given: a leaf, so backends, the worker and the prompt builder share it
// without importing one another.

/** A chat: the fixed part first (system, examples), what changes per request last, so it can be cached. */
export interface ChatPrompt {
  system: string;
  examples: { user: string; assistant: string }[];
  user: string;
}

/** The same chat as OpenAI-style messages, for servers that take them (Ollama, vLLM). */
export function chatMessages(prompt: ChatPrompt): { role: "system" | "user" | "assistant"; content: string }[] {
  return [
    { role: "system", content: prompt.system },
    ...prompt.examples.flatMap((e) => [
      { role: "user" as const, content: e.user },
      { role: "assistant" as const, content: e.assistant },
    ]),
    { role: "user", content: prompt.user },
  ];
}
