// The command out of an answer still streaming in, for the widget to show as it grows: read out of
// a server's JSON, or as the embedded backend writes it, the command alone on one line. Each
// chunk is read once, so a runaway or hostile stream costs time in proportion to its size, and
// only the first MAX_SHOWN characters of the command are kept: nobody reads more on one line.

const MAX_SHOWN = 4096;
const KEY = /"command"\s*:\s*"/;
const ESCAPES: Record<string, string> = { n: "\n", t: "\t", r: "\r", b: "\b", f: "\f", '"': '"', "\\": "\\", "/": "/" };

export class StreamedCommand {
  private phase: "seek" | "string" | "done" = "seek";
  /** Before the command's string starts: the text not yet searched for its key (a short tail at most). */
  private pending = "";
  /** Inside an escape: the backslash and what came after it so far. */
  private escape = "";
  private value = "";

  /** The command so far. */
  get text(): string {
    return this.value;
  }

  push(chunk: string): void {
    if (this.phase === "seek") {
      this.pending += chunk;
      const match = KEY.exec(this.pending);
      if (!match) {
        // The key may straddle chunks; nothing longer than this tail can still start one.
        if (this.pending.length > 64) this.pending = this.pending.slice(-64);
        return;
      }
      chunk = this.pending.slice(match.index + match[0].length);
      this.pending = "";
      this.phase = "string";
    }
    if (this.phase === "string") this.read(chunk);
  }

  /** A chunk of the command itself (the embedded backend's one line): no JSON to read; its newline ends it. */
  pushCommand(chunk: string): void {
    if (this.phase === "done") return;
    const end = chunk.search(/[\r\n]/);
    this.value = (this.value + (end === -1 ? chunk : chunk.slice(0, end))).slice(0, MAX_SHOWN);
    if (end !== -1) this.phase = "done";
  }

  private read(chunk: string): void {
    for (const char of chunk) {
      if (this.value.length >= MAX_SHOWN) return;
      if (this.escape) {
        this.escape += char;
        if (this.escape.length === 2 && char !== "u") {
          this.value += ESCAPES[char] ?? char;
          this.escape = "";
        } else if (this.escape.length === 6) {
          const code = Number.parseInt(this.escape.slice(2), 16);
          if (!Number.isNaN(code)) this.value += String.fromCharCode(code);
          this.escape = "";
        }
      } else if (char === "\\") this.escape = char;
      else if (char === '"') {
        this.phase = "done";
        return;
      } else this.value += char;
    }
  }
}
