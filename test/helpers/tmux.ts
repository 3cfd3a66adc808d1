import { type ChildProcessWithoutNullStreams, execFileSync, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";

// A real terminal for tests: tmux runs a program in a pane; the test types with send-keys and
// reads the screen with capture-pane. Each session gets its own tmux server socket.
// Keys and looks go through one control-mode client (tmux -C) per session, in order, rather than a
// tmux process each: a case sends some dozens and polls the screen 20 times a second, and each
// tmux process, forked from the test's large process, cost about 16 ms of CPU.

const CONTROL_ENDED = "tmux's control client ended";

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

  /** A tmux command run by a tmux process of its own; it may overtake keys sent before it. */
  tmux(args: string[]): string {
    return execFileSync("tmux", ["-L", this.socket, "-f", "/dev/null", ...args], { encoding: "utf8" });
  }

  /** Presses keys by tmux's names for them ("C-g", "Enter"). */
  sendKeys(...keys: string[]): void {
    this.send(["send-keys", "-t", this.name, ...keys]);
  }

  /** Types text literally (no key-name lookup), so "Enter" in the text is five letters. */
  type(text: string): void {
    this.send(["send-keys", "-t", this.name, "-l", "--", text]);
  }

  /** The screen, once every key sent before has reached the pane. */
  screen(): Promise<string> {
    const capture = ["capture-pane", "-p", "-t", this.name];
    // The pane's program may have ended the control client with it: a last look by a process of its own.
    return this.command(capture).catch((error: Error) => {
      if (error.message !== CONTROL_ENDED) throw error;
      return this.tmux(capture);
    });
  }

  /**
   * The screen once it holds still (two looks 100 ms apart agree): a shell redraws its line just
   * after a key binding's function returns, and a look at that moment finds the line erased.
   */
  async settledScreen(): Promise<string> {
    let last = await this.screen();
    for (let look = 0; look < 50; look++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      const now = await this.screen();
      if (now === last) return now;
      last = now;
    }
    return last;
  }

  private control?: ChildProcessWithoutNullStreams;
  private readonly replies: { resolve(text: string): void; reject(error: Error): void }[] = [];

  /** Why a command sent for its effect failed: the next command that waits throws it. */
  private sendError?: Error;

  private send(args: string[]): void {
    this.command(args).catch((error: Error) => {
      this.sendError ??= error;
    });
  }

  /** Runs a command through the control-mode client; its output, as a tmux process would print it. */
  private command(args: string[]): Promise<string> {
    // A line is one command: a line break in an argument would end it (send-keys as its own process).
    if (args.some((arg) => /[\n\r]/.test(arg))) return Promise.resolve(this.tmux(args));
    if (this.sendError) return Promise.reject(this.sendError);
    const control = this.controlClient();
    return new Promise((resolve, reject) => {
      this.replies.push({ resolve, reject });
      control.stdin.write(`${args.map(tmuxQuote).join(" ")}\n`);
    });
  }

  private controlClient(): ChildProcessWithoutNullStreams {
    if (this.control) return this.control;
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
      for (const reply of this.replies.splice(0)) reply.reject(new Error(CONTROL_ENDED));
      this.control = undefined;
    });
    control.on("error", () => {});
    return control;
  }

  async waitFor(predicate: (screen: string) => boolean, timeoutMs = 20_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let screen = "";
    while (Date.now() < deadline) {
      screen = await this.screen();
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

/** An argument for a command line of tmux's own: single quotes hold anything but a line break. */
function tmuxQuote(text: string): string {
  return /^[\w.,:/=@%+-]+$/.test(text) ? text : shellQuote(text);
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
