// The shells caro writes commands for. A file of its own: `caro --help` and the completions name
// them without loading context.ts, which loads child_process to ask the OS about itself.
export const SHELLS = ["zsh", "bash", "fish", "sh"] as const;
export type Shell = (typeof SHELLS)[number];
