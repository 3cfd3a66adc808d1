// Secrets masked out of text that is kept (the daemon's log): a model that echoes a failed command,
// or an error that quotes a URL, may carry a token, a key or a password.

const MASK = "***";

const RULES: [RegExp, string][] = [
  // Credentials in a URL: https://user:password@host, or https://token@host.
  [/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/@:]+:[^\s/@]*@/gi, `$1${MASK}:${MASK}@`],
  [/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/@:]+@/gi, `$1${MASK}@`],
  // Authorization: Bearer …, Basic …, token …
  [/\b(bearer|basic|token)(\s+)[A-Za-z0-9._~+/=-]{6,}/gi, `$1$2${MASK}`],
  // NAME=value and "name": "value" where the name says what it is: api_key, token, secret, password…
  [
    /\b([\w-]*(?:api[_-]?key|token|secret|passw(?:or)?d|pwd|credential|auth)[\w-]*)(["']?\s*[:=]\s*["']?)[^\s"',;&]+/gi,
    `$1$2${MASK}`,
  ],
  // Known shapes of keys: OpenAI and Anthropic (sk-…), GitHub (ghp_…), Hugging Face (hf_…), AWS
  // (AKIA…), Slack (xox…-), GitLab (glpat-), JSON web tokens.
  [/\b(?:sk-[A-Za-z0-9_-]{16,}|gh[pousr]_[A-Za-z0-9]{20,}|hf_[A-Za-z0-9]{20,}|AKIA[0-9A-Z]{16})\b/g, MASK],
  [/\b(?:xox[abprs]-[A-Za-z0-9-]{10,}|glpat-[A-Za-z0-9_-]{16,})/g, MASK],
  [/\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g, MASK],
  // Any other long run of letters and digits mixed, as keys are.
  [/\b(?=[A-Za-z0-9_+=-]*[0-9])(?=[A-Za-z0-9_+=-]*[A-Za-z])[A-Za-z0-9_+=-]{32,}/g, MASK],
];

/** The text with whatever looks like a secret replaced by ***. */
export function redactSecrets(text: string): string {
  let out = text;
  for (const [pattern, replacement] of RULES) out = out.replace(pattern, replacement);
  return out;
}
