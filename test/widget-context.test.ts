// What the Ctrl-G widget tells the model about the shell and the machine, in real zsh, bash and
// fish under tmux: one shell per shell runs every case in turn (CI time), against one stand-in
// whose chats show the prompts; and once against the embedded backend with a generated model.
// PATH, MANPATH and the folder are fixtures, so nothing depends on what this machine has installed.

import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { makeHome, modelConfig, ollamaConfig } from "./helpers/caro.js";
import { fixtureFolder, fixtureManPath, fixtureTemp } from "./helpers/fixture-machine.js";
import { ShellUnderTest, waitForFinished, type WidgetShell } from "./helpers/shells.js";
import { type ChatRequest, lastUserMessage, ollamaStandin, requestText, type Standin } from "./helpers/standins.js";

const running: ShellUnderTest[] = [];
afterEach(() => {
  for (const sh of running.splice(0)) sh.kill();
});

/** The programs the shells, the widget and the test keys run, from this machine; nothing else. */
const NEEDED = ["zsh", "bash", "fish", "sh", "env", "tmux", "mkdir", "rm", "mkfifo", "stty", "mv", "cat", "id"];
const NEEDED_TOO = ["kill", "sleep", "date", "find"];

/**
 * A machine of the test's making: apt (a stand-in), find, and frob, which fails saying why; frob's
 * manual page names --fast only. A folder of twenty entries in a git repository.
 */
function fixtureMachine() {
  const bin = fixtureTemp();
  for (const name of [...NEEDED, ...NEEDED_TOO]) {
    const found = execFileSync("sh", ["-c", 'command -v "$1" || :', "sh", name], { encoding: "utf8" }).trim();
    if (found.startsWith("/")) symlinkSync(found, join(bin, name));
  }
  writeFileSync(join(bin, "apt"), "#!/bin/sh\n", { mode: 0o755 });
  writeFileSync(join(bin, "frob"), "#!/bin/sh\necho \"frob: unrecognized option '$1'\" >&2\nexit 3\n", {
    mode: 0o755,
  });
  return { bin, man: fixtureManPath(), cwd: fixtureFolder() };
}

// The stand-in's answers, by what was asked: a fix; a user's function and alias; a program that is
// not there and an option frob's page does not name, every time; broken characters, every time.
function reply(chat: ChatRequest): string {
  const asked = requestText(chat);
  if (lastUserMessage(chat).includes("This command failed")) return JSON.stringify({ command: "frob --fast" });
  if (asked === "list the notes") return JSON.stringify({ command: "t_fn && t_al" });
  if (asked === "python files") return JSON.stringify({ command: "fd -e py | frob --fastest" });
  if (asked === "broken") return JSON.stringify({ command: "ls \uFFFD" });
  return JSON.stringify({ command: "false" });
}

// The user's function and alias; the folder the shell starts in.
const PRELUDE: Record<WidgetShell, (cwd: string) => string> = {
  zsh: (cwd) => `t_fn() { :; }\nalias t_al=true\ncd '${cwd}'`,
  bash: (cwd) => `t_fn() { :; }\nalias t_al=true\ncd '${cwd}'`,
  fish: (cwd) => `function t_fn; end\nalias t_al=true\ncd '${cwd}'`,
};

/**
 * Makes the shell one that runs in tmux, as tmux itself would: the panes run under `env -i`, so
 * TMUX and TMUX_PANE are set from what this tmux server says of itself.
 */
async function inTmux(sh: ShellUnderTest): Promise<void> {
  const [socket, pane] = sh.session
    .tmux(["display-message", "-p", "-t", sh.session.name, "#{socket_path},#{pid},0 #{pane_id}"])
    .trim()
    .split(" ");
  sh.session.type(
    sh.shell === "fish"
      ? `set -gx TMUX '${socket}'; set -gx TMUX_PANE '${pane}'`
      : `export TMUX='${socket}' TMUX_PANE='${pane}'`,
  );
  sh.session.sendKeys("Enter");
  await sh.waitForPrompt();
}

/** The session client's word on how many history lines to send, once it says `lines`. */
async function untilWanted(runDir: string, lines: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const folder = readdirSync(runDir).find((name) => name.startsWith("caro-session-"));
    const path = folder && join(runDir, folder, "wants");
    if (path && existsSync(path) && readFileSync(path, "utf8") === `${lines}\n`) return;
    if (Date.now() > deadline) throw new Error(`the session client never asked for ${lines} history lines`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Types a request on an empty line, presses Ctrl-G, and waits for the daemon's `count`th finished request. */
async function ask(sh: ShellUnderTest, words: string, count: number): Promise<void> {
  sh.session.sendKeys("C-u");
  sh.session.type(words);
  sh.session.sendKeys("C-g");
  await waitForFinished(sh.home, count);
}

describe("the widget's context, per shell: one shell runs every case", () => {
  let server: Standin;
  beforeAll(async () => {
    server = await ollamaStandin({ reply });
  });
  afterAll(async () => {
    await server.close();
  });

  it.each(["zsh", "bash", "fish"] as const)(
    "%s: pane and history for a fix, then history off; machine, folder, names; checks' warnings; broken text",
    async (shell) => {
      const machine = fixtureMachine();
      // The real `caro init`, which reads history = 2 for the first Ctrl-G, before the session
      // client (started by that Ctrl-G) has said anything.
      const made = makeHome(ollamaConfig(server.url, "[context]\nhistory = 2\n"));
      mkdirSync(made.env.XDG_RUNTIME_DIR);
      made.env.PATH = machine.bin;
      made.env.MANPATH = machine.man;
      const sh = new ShellUnderTest(shell, "", made, { prelude: PRELUDE[shell](machine.cwd), realInit: true });
      running.push(sh);
      await sh.ready();
      await inTmux(sh);
      const chatsOf = (from: number) => server.chats.slice(from);

      // A command fails in tmux; Ctrl-G on the empty line: its output and the last two commands
      // reach the prompt.
      for (const line of ["echo one", "frob --fastest"]) {
        sh.session.type(line);
        sh.session.sendKeys("Enter");
        await sh.waitForPrompt();
      }
      let from = server.chats.length;
      sh.session.sendKeys("C-g");
      await waitForFinished(sh.home, 1);
      expect((await sh.dump()).buffer).toBe("frob --fast");
      // Nothing of the shell's own on the screen: this Ctrl-G read a session folder the client
      // had not yet written to, quietly.
      expect(await sh.session.settledScreen()).not.toMatch(/_caro_|no such file/i);
      const fix = lastUserMessage(chatsOf(from)[0]);
      expect(fix).toContain('Recent commands:\n"echo one"\n"frob --fastest"\n');
      expect(fix).toContain("This command failed with exit status 3: frob --fastest\nIt printed:\n");
      expect(fix).toMatch(/It printed:\n[\s\S]*frob: unrecognized option '--fastest'/);

      // Back to the default config, which the session client reads again: no history. The tools
      // and the folder, bounded; the user's function and alias need no program (no second try).
      writeFileSync(made.configPath, ollamaConfig(server.url));
      await untilWanted(made.env.XDG_RUNTIME_DIR, 0);
      from = server.chats.length;
      await ask(sh, "list the notes", 2);
      expect((await sh.dump()).buffer).toBe("t_fn && t_al");
      const [first, ...more] = chatsOf(from);
      expect(more).toHaveLength(0);
      expect(first.messages[0].content).toContain("Package manager: apt.\nInstalled: find.\nNot installed: rg, grep,");
      expect(lastUserMessage(first)).toContain(
        "folder: package.json docs/ src/ note-00.txt note-01.txt note-02.txt note-03.txt note-04.txt …\n",
      );
      expect(lastUserMessage(first)).not.toContain("Recent commands");

      // A program that is not here and an option frob's page lacks: one more try naming both,
      // then the answer goes in with the warnings on the message line.
      from = server.chats.length;
      await ask(sh, "python files", 3);
      expect((await sh.dump()).buffer).toBe("fd -e py | frob --fastest");
      const tries = chatsOf(from);
      expect(tries).toHaveLength(2);
      expect(lastUserMessage(tries[1])).toContain(
        'Fails here: "fd -e py | frob --fastest" (`fd` is not installed here; `frob` has no option `--fastest`)',
      );
      await sh.session.waitFor((s) =>
        s.includes("caro: `fd` is not installed here · `frob` has no option `--fastest`"),
      );

      // Broken characters: never an answer; one line, the buffer as typed.
      await ask(sh, "broken", 4);
      await sh.session.waitFor((s) => s.includes("caro: the model wrote broken characters (U+FFFD) twice"));
      expect((await sh.dump()).buffer).toBe("broken");
    },
  );
});

describe("the widget's context with the embedded backend", () => {
  it("zsh in tmux, history on: a fix of a failed command gets an answer from a generated model", async () => {
    const made = makeHome(modelConfig("tiny", "[context]\nhistory = 2\n"));
    mkdirSync(made.env.XDG_RUNTIME_DIR);
    const sh = new ShellUnderTest("zsh", "", made);
    running.push(sh);
    await sh.ready();
    await inTmux(sh);
    sh.session.type("ls /nonexistent-caro-folder");
    sh.session.sendKeys("Enter");
    await sh.waitForPrompt();
    sh.session.sendKeys("C-g");
    await waitForFinished(sh.home, 1, 60_000);
    const log = readFileSync(join(made.home, ".local", "state", "caro", "daemon.log"), "utf8");
    expect(log).toMatch(/answered request/);
    expect((await sh.dump()).buffer.trim()).not.toBe("");
  });
});
