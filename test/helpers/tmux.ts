import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";

// A real terminal for tests: tmux runs a program in a pane; the test types with send-keys and
// reads the screen with capture-pane. Each session gets its own tmux server socket.

export class TmuxSession {
  private static next = 0;
  readonly socket = `caro-test-${process.pid}-${TmuxSession.next++}`;
  readonly name = "t";

  constructor(command: string, env: Record<string, string>, options: { width?: number; height?: number } = {}) {
    const exports = Object.entries(env).map(([k, v]) => `${k}=${shellQuote(v)}`);
    this.tmux([
      "new-session",
      "-d",
      "-s",
      this.name,
      "-x",
      String(options.width ?? 200),
      "-y",
      String(options.height ?? 50),
      `env -i ${exports.join(" ")} ${command}`,
    ]);
    // Keep the pane after its program ends, so the test can read the last screen.
    this.tmux(["set-option", "-t", this.name, "remain-on-exit", "on"]);
  }

  tmux(args: string[]): string {
    return execFileSync("tmux", ["-L", this.socket, "-f", "/dev/null", ...args], { encoding: "utf8" });
  }

  sendKeys(...keys: string[]): void {
    this.tmux(["send-keys", "-t", this.name, ...keys]);
  }

  /** Types text literally (no key-name lookup), so "Enter" in the text is five letters. */
  type(text: string): void {
    this.tmux(["send-keys", "-t", this.name, "-l", text]);
  }

  screen(): string {
    return this.tmux(["capture-pane", "-p", "-t", this.name]);
  }

  async waitFor(predicate: (screen: string) => boolean, timeoutMs = 20_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let screen = "";
    while (Date.now() < deadline) {
      screen = this.screen();
      if (predicate(screen)) return screen;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`timed out waiting; the screen shows:\n${screen}`);
  }

  kill(): void {
    try {
      this.tmux(["kill-server"]);
    } catch {
      // Already gone.
    }
  }
}

export function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

export async function waitForFile(path: string, timeoutMs = 20_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (existsSync(path)) {
      const text = readFileSync(path, "utf8");
      if (text.endsWith("\n")) return text;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${path}`);
}
