import { type ChildProcessWithoutNullStreams, execFileSync, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";

// A real terminal for tests: tmux runs a program in a pane; the test types with send-keys and
// reads the screen with capture-pane. Each session gets its own tmux server socket.
// Waits read the screen through one control-mode client (tmux -C) per session rather than a tmux
// process per look: a test polls the screen some 20 times a second, and forking from the test's
// large process cost more CPU than the shells and caro under test together.

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

  private control?: ChildProcessWithoutNullStreams;
  private readonly replies: { resolve(text: string): void; reject(error: Error): void }[] = [];

  /** The screen, as screen() gives it, through the control-mode client. */
  private captured(): Promise<string> {
    if (!this.control) {
      const control = spawn("tmux", ["-L", this.socket, "-f", "/dev/null", "-C", "attach", "-t", this.name]);
      this.control = control;
      let pending = "";
      let block: string[] | undefined;
      control.stdout.setEncoding("utf8").on("data", (chunk: string) => {
        const lines = (pending + chunk).split("\n");
        pending = lines.pop() ?? "";
        for (const line of lines) {
          // A command's reply is a block; flag 1 marks the commands this client sent (0: its attach).
          if (block === undefined && /^%begin \d+ \d+ 1$/.test(line)) block = [];
          else if (block !== undefined && /^%(end|error) \d+ \d+ 1$/.test(line)) {
            const reply = this.replies.shift();
            if (line.startsWith("%end")) reply?.resolve(block.map((l) => `${l}\n`).join(""));
            else reply?.reject(new Error(`tmux: ${block.join(" ")}`));
            block = undefined;
          } else block?.push(line);
        }
      });
      control.on("close", () => {
        for (const reply of this.replies.splice(0)) reply.reject(new Error("tmux's control client ended"));
        this.control = undefined;
      });
      control.on("error", () => {});
    }
    const control = this.control;
    return new Promise((resolve, reject) => {
      this.replies.push({ resolve, reject });
      control.stdin.write(`capture-pane -p -t ${this.name}\n`);
    });
  }

  async waitFor(predicate: (screen: string) => boolean, timeoutMs = 20_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let screen = "";
    while (Date.now() < deadline) {
      screen = await this.captured().catch(() => this.screen());
      if (predicate(screen)) return screen;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`timed out waiting; the screen shows:\n${screen}`);
  }

  kill(): void {
    this.control?.kill();
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
