// The values a few settings take. A file of its own: `caro --help` and the completions list them
// without loading the whole settings schema.
export const BACKENDS = ["auto", "embedded", "ollama", "vllm"] as const;
export const SAFETY_LEVELS = ["strict", "moderate", "permissive"] as const;
