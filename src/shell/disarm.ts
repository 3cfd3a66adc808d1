// A blocked command (rated critical under the default level) still goes into the buffer, whole,
// so the user can read it and take it deliberately; but in a form Enter cannot run.
//
// `# ` before each line is the plain form, and inert where `#` starts a comment at the prompt:
// fish always, bash unless `shopt -u interactive_comments`, zsh only with `setopt
// interactive_comments`. zsh leaves that option off by default, and then `# x; touch y` is a
// command named `#` whose redirections, substitutions and every command after `;`, `&&`, `|` or
// `&` run. Where the shell cannot vouch for comments, the command goes in as the value of an
// assignment, `_caro_blocked='…'`: no command word at all, so no alias, function or option can
// make it run, and a quoted value is never expanded. It is kept on one line (`$'…'` with `\n`),
// since zsh's csh_junkie_quotes refuses a newline inside quotes.

const ASSIGNED = "_caro_blocked=";

/** The buffer that shows `command` without running it; `comments`: a line starting with `#` is a comment here. */
export function disarm(command: string, comments: boolean): string {
  if (comments)
    return command
      .split("\n")
      .map((line) => `# ${line}`)
      .join("\n");
  if (!/[\x00-\x1f\x7f']/.test(command)) return `${ASSIGNED}'${command}'`;
  const escaped = command.replace(/[\x00-\x1f\x7f'\\]/g, (char) => {
    if (char === "\n") return "\\n";
    if (char === "\t") return "\\t";
    if (char === "'" || char === "\\") return `\\${char}`;
    return `\\x${char.charCodeAt(0).toString(16).padStart(2, "0")}`;
  });
  return `${ASSIGNED}$'${escaped}'`;
}

const ESCAPES: Record<string, string> = { n: "\n", t: "\t", "'": "'", "\\": "\\" };

/** The command a disarmed buffer holds (either form); any other buffer is a command as it stands. */
export function commandOf(buffer: string): string {
  const lines = buffer.split("\n");
  if (lines.every((line) => line.startsWith("# "))) return lines.map((line) => line.slice(2)).join("\n");
  const plain = /^_caro_blocked='([^']*)'$/.exec(buffer);
  if (plain) return plain[1];
  const quoted = /^_caro_blocked=\$'((?:[^'\\]|\\n|\\t|\\'|\\\\|\\x[0-9a-f]{2})*)'$/.exec(buffer);
  if (quoted)
    return quoted[1].replace(/\\(x[0-9a-f]{2}|.)/g, (_, code: string) =>
      code.length === 3 ? String.fromCharCode(Number.parseInt(code.slice(1), 16)) : ESCAPES[code],
    );
  return buffer;
}
