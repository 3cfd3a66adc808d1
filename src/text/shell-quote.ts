/** `text` as one word in any POSIX shell (sh, bash, zsh): single-quoted, each ' written as '\''. */
export function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}
