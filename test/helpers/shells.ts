import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "vitest";
import { CARO_BIN, makeHome, stopDaemons } from "./caro.js";
import { ollamaStandin, type Standin, type StandinOptions } from "./standins.js";
import { shellQuote, TmuxSession } from "./tmux.js";

export type WidgetShell = "zsh" | "bash" | "fish";

// Each shell starts without its rc files, loads `caro init`, and gets two test-only keys:
// Ctrl-T writes the buffer and cursor to files, Ctrl-O sets the buffer from a file (for bytes a
// keyboard cannot type, such as a tab, without triggering completion). A prelude (a user's aliases and options)
// runs before caro loads; the test keys go through builtin and command so that it cannot break them.
// `init` is the line that loads caro: the user's `eval "$(caro init zsh)"`, or the same code from a file.
type Setup = (dir: string, init: string, prelude: string) => string;
const SETUP: Record<WidgetShell, { command: string; setup: Setup; undo: string; vi: string }> = {
  zsh: {
    command: "zsh -f",
    undo: "C-_",
    vi: "bindkey -v",
    setup: (dir, init, prelude) => `PS1='$ '
${prelude}
${init}
_t_dump() {
  builtin print -rn -- "$BUFFER" > ${dir}/dump.tmp; builtin print -rn -- "$CURSOR" > ${dir}/cursor
  command mv ${dir}/dump.tmp ${dir}/dump
}
_t_load() { BUFFER=$(<${dir}/load); CURSOR=$#BUFFER }
builtin zle -N _t_dump; builtin zle -N _t_load
for m in emacs viins vicmd; do builtin bindkey -M $m '^T' _t_dump; builtin bindkey -M $m '^O' _t_load; done
`,
  },
  bash: {
    command: "bash --norc --noprofile",
    undo: "C-_",
    vi: "set -o vi",
    setup: (dir, init, prelude) => `PS1='$ '
${prelude}
${init}
_t_dump() {
  builtin printf %s "$READLINE_LINE" > ${dir}/dump.tmp; builtin printf %s "$READLINE_POINT" > ${dir}/cursor
  command mv ${dir}/dump.tmp ${dir}/dump
}
_t_load() { READLINE_LINE=$(<${dir}/load); READLINE_POINT=\${#READLINE_LINE}; }
for m in emacs vi-insert vi-command; do
  builtin bind -m $m -x '"\\C-t": _t_dump'; builtin bind -m $m -x '"\\C-o": _t_load'
done
`,
  },
  fish: {
    command: "fish --no-config",
    undo: "C-z",
    vi: "fish_vi_key_bindings",
    // --no-config empties fish_history (no history file); a user's fish has one, so name one.
    setup: (dir, init, prelude) => `set -g fish_history caro_test
function fish_prompt; builtin echo -n '$ '; end
function fish_greeting; end
${prelude}
${init}
function _t_dump
  builtin commandline | string collect --no-trim-newlines > ${dir}/dump.tmp; builtin commandline -C > ${dir}/cursor
  command mv ${dir}/dump.tmp ${dir}/dump
end
function _t_load; builtin commandline -r -- "$(command cat ${dir}/load)"; end
function _t_keys; for m in default insert; builtin bind -M $m \\ct _t_dump; builtin bind -M $m \\co _t_load; end; end
_t_keys
function fish_user_key_bindings; _t_keys; end
`,
  },
};

// `caro init <shell> --no-start`'s code, made once per shell and test file: the code depends on nothing
// else but the config's `context.history` (the history lines the widget sends until its session
// client says how many; made here under the default, 0), and a Node start per shell is a tenth of a
// widget test's CPU. Without the start at init, the first Ctrl-G starts the daemon, as under start_on_init = false.
// init-start.test.ts loads the real `eval "$(caro init …)"` (realInit) to test the start itself.
const initFiles = new Map<WidgetShell, string>();
function initFile(shell: WidgetShell): string {
  let file = initFiles.get(shell);
  if (!file) {
    const dir = mkdtempSync(join(tmpdir(), "caro-test-init-"));
    file = join(dir, `init.${shell}`);
    // An empty home: the default config, whatever /tmp holds.
    const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir };
    writeFileSync(file, execFileSync(process.execPath, [CARO_BIN, "init", shell, "--no-start"], { env }));
    initFiles.set(shell, file);
  }
  return file;
}

function initLine(shell: WidgetShell, realInit: boolean): string {
  const caro = `${shellQuote(process.execPath)} ${shellQuote(CARO_BIN)}`;
  if (shell === "fish") return realInit ? `${caro} init fish | source` : `source ${shellQuote(initFile(shell))}`;
  return `eval "$(${realInit ? `${caro} init ${shell}` : `<${shellQuote(initFile(shell))}`})"`;
}

export class ShellUnderTest {
  readonly session: TmuxSession;
  readonly dir: string;
  readonly env: Record<string, string>;
  readonly home: string;

  constructor(
    readonly shell: WidgetShell,
    config: string,
    home?: { home: string; env: Record<string, string> },
    options: { command?: string; prelude?: string; realInit?: boolean } = {},
  ) {
    const made = home ?? makeHome(config);
    this.home = made.home;
    this.dir = join(made.home, `shell-${shell}-${Math.random().toString(36).slice(2, 8)}`);
    mkdirSync(this.dir);
    this.env = { ...made.env, TERM: "screen", LANG: "C.UTF-8" };
    const init = initLine(shell, options.realInit ?? false);
    writeFileSync(join(this.dir, "setup"), SETUP[shell].setup(this.dir, init, options.prelude ?? ""));
    this.session = new TmuxSession(options.command ?? SETUP[shell].command, this.env, { width: 160, height: 40 });
  }

  async ready(): Promise<void> {
    await this.session.waitFor((s) => s.trim().length > 0);
    this.session.type(`source ${this.dir}/setup`);
    this.session.sendKeys("Enter");
    await this.waitForPrompt();
  }

  async waitForPrompt(): Promise<void> {
    // "$", or fish's vi-mode "[I] $".
    await this.session.waitFor((s) =>
      /(^|\s)\$$/.test(
        s
          .split("\n")
          .filter((l) => l.trim())
          .at(-1)
          ?.trimEnd() ?? "",
      ),
    );
  }

  undoKey(): string {
    return SETUP[this.shell].undo;
  }

  viCommand(): string {
    return SETUP[this.shell].vi;
  }

  /** The buffer and cursor, exactly, as the shell holds them. */
  async dump(): Promise<{ buffer: string; cursor: number }> {
    const file = join(this.dir, "dump");
    rmSync(file, { force: true });
    // A key pressed while caro still holds the terminal is caro's (typed ahead), not the shell's:
    // wait for its line to go (the daemon logs an answer before the client has rated it).
    await this.session.waitFor((screen) => !screen.includes("caro: thinking"));
    this.session.sendKeys("C-t");
    const deadline = Date.now() + 10_000;
    while (!existsSync(file) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    if (!existsSync(file))
      throw new Error(`${this.shell} did not run its dump key; the screen shows:\n${await this.session.screen()}`);
    let buffer = readFileSync(file, "utf8");
    if (this.shell === "fish") buffer = buffer.replace(/\n$/, "");
    return { buffer, cursor: Number(readFileSync(join(this.dir, "cursor"), "utf8").trim()) };
  }

  /** Sets the buffer to exact bytes. */
  async load(text: string): Promise<void> {
    writeFileSync(join(this.dir, "load"), text);
    this.session.sendKeys("C-o");
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if ((await this.dump()).buffer === text) return;
    }
    throw new Error("the buffer did not take the loaded text");
  }

  kill(): void {
    this.session.kill();
  }
}

/** Requests the daemon has finished, answered or failed, from its log. */
export function finishedRequests(home: string): number {
  try {
    return (
      readFileSync(join(home, ".local", "state", "caro", "daemon.log"), "utf8").match(
        /answered request|request \d+ failed/g,
      ) ?? []
    ).length;
  } catch {
    return 0;
  }
}

export async function waitForFinished(home: string, count: number, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (finishedRequests(home) < count && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 20));
  if (finishedRequests(home) < count)
    throw new Error(`the daemon finished ${finishedRequests(home)} of ${count} requests`);
  // The client prints and exits just after the daemon's reply; the shell then redraws.
  await new Promise((resolve) => setTimeout(resolve, 300));
}

/** One case's view of a shared shell: the counts start at the case. */
export interface SharedCase {
  sh: ShellUnderTest;
  ollama: Standin;
  /** The stand-in's options, read at each request: a case may change them for its own requests. */
  live: StandinOptions;
  /** Waits until the daemon has finished `count` of this case's requests. */
  finished(count: number): Promise<void>;
  /** The chats this case's requests sent. */
  chats(): Standin["chats"];
  /** The chats this case's requests abandoned. */
  aborted(): number;
}

/**
 * One shell, stand-in and daemon for the cases of a describe block that need nothing of their own
 * (no rc file, home or keymap): a fresh set costs about a CPU-second, most of such a case. Each
 * case gets the line empty, the screen cleared and the stand-in's options made afresh. The daemon
 * answers a request it has answered before from its cache: each case asks its own.
 */
export function sharedShell(
  shell: WidgetShell,
  options: () => StandinOptions,
  config: (url: string) => string,
  { command }: { command?: string } = {},
): () => Promise<SharedCase> {
  let made: Promise<{ sh: ShellUnderTest; ollama: Standin; live: StandinOptions }> | undefined;
  afterAll(async () => {
    if (!made) return;
    const { sh, ollama } = await made;
    sh.kill();
    await ollama.close();
    await stopDaemons([sh.home]);
  });
  return async () => {
    made ??= (async () => {
      const live = options();
      const ollama = await ollamaStandin(live);
      const text = config(ollama.url);
      const sh = new ShellUnderTest(shell, text, makeHome(text, { shared: true }), { command });
      await sh.ready();
      return { sh, ollama, live };
    })();
    const { sh, ollama, live } = await made;
    for (const key of Object.keys(live) as (keyof StandinOptions)[]) delete live[key];
    Object.assign(live, options());
    await sh.load("");
    sh.session.sendKeys("C-l");
    await sh.session.waitFor((screen) => screen.trim() === "$");
    const finished = finishedRequests(sh.home);
    const chats = ollama.chats.length;
    const aborted = ollama.aborted;
    return {
      sh,
      ollama,
      live,
      finished: (count) => waitForFinished(sh.home, finished + count),
      chats: () => ollama.chats.slice(chats),
      aborted: () => ollama.aborted - aborted,
    };
  };
}
