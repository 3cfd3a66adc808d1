// A wrong first answer is never a dead end, in real zsh, bash and fish under tmux: Ctrl-G again
// gives another candidate (undo walks back), `cmd # words` refines in place, Ctrl-G on an empty
// line fixes the command that just failed, a second key explains, and keys typed while caro
// thinks are kept.

import { afterEach, describe, expect, it } from "vitest";
import { modelConfig, sleep } from "./helpers/caro.js";
import { ShellUnderTest, sharedShell, waitForFinished, type WidgetShell } from "./helpers/shells.js";
import { type ChatRequest, ollamaStandin, type Standin, type StandinOptions } from "./helpers/standins.js";

const running: { kill(): void }[] = [];
const standins: Standin[] = [];
afterEach(async () => {
  for (const r of running.splice(0)) r.kill();
  await Promise.all(standins.splice(0).map((s) => s.close()));
});

const lastMessage = (chat: ChatRequest) => chat.messages.at(-1)?.content ?? "";

/**
 * A model that answers each call differently: `ls -l`, `ls -la`, `ls -lh`, … in turn, whatever
 * was asked; an explanation where one is asked for.
 */
function turns(): NonNullable<StandinOptions["reply"]> {
  const answers = ["ls -l", "ls -la", "ls -lh", "ls -lt", "ls -lS"];
  let call = 0;
  return (request) => {
    const schema = JSON.stringify(request.format ?? request.response_format ?? {});
    if (schema.includes('"explanation"') && !schema.includes('"command"'))
      return JSON.stringify({ explanation: "ls lists a folder.\n-la shows hidden files, long format." });
    return JSON.stringify({ command: answers[call++ % answers.length] });
  };
}

const ollamaConfig = (url: string) => `backend = "ollama"\n[backends.ollama]\nhost = "${url}"\n`;
// fish --no-config keeps no history and runs no fish_postexec for a private session: a plain fish.
const COMMAND = { zsh: undefined, bash: undefined, fish: "fish" };

async function shellWith(shell: WidgetShell, options: StandinOptions = {}, prelude?: string) {
  const ollama = await ollamaStandin({ reply: turns(), ...options });
  standins.push(ollama);
  const sh = new ShellUnderTest(shell, ollamaConfig(ollama.url), undefined, { command: COMMAND[shell], prelude });
  running.push(sh);
  await sh.ready();
  return { sh, ollama };
}

// The explain key as tmux names it: caro's default.
const EXPLAIN_KEY = "M-m";

describe.each(["zsh", "bash", "fish"] as WidgetShell[])("when the answer is wrong, in %s", (shell) => {
  // Each case asks its own words: the shared daemon would answer words asked before from its cache.
  const shared = sharedShell(shell, () => ({ reply: turns() }), ollamaConfig, { command: COMMAND[shell] });

  it("Ctrl-G again gives another command, never one shown; undo walks back to the typed request", async () => {
    const { sh, finished, chats } = await shared();
    sh.session.type("list files");
    sh.session.sendKeys("C-g");
    await finished(1);
    expect((await sh.dump()).buffer).toBe("ls -l");
    sh.session.sendKeys("C-g");
    await finished(2);
    expect((await sh.dump()).buffer).toBe("ls -la");
    expect(await sh.session.settledScreen()).toContain("caro: 2nd answer");
    sh.session.sendKeys("C-g");
    await finished(3);
    expect((await sh.dump()).buffer).toBe("ls -lh");
    // Which answer it is: the stand-in tests above read it; the model's nonsense lines wrap, and
    // bash and fish redraw a wrapped prompt over the message line.
    if (shell === "zsh") expect(await sh.session.settledScreen()).toContain("caro: 3rd answer");
    // The backend was asked the same request each time, told what it had shown.
    expect(chats()).toHaveLength(3);
    for (const chat of chats()) expect(lastMessage(chat)).toContain("list files");
    expect(lastMessage(chats()[2])).toContain("ls -l");
    expect(lastMessage(chats()[2])).toContain("ls -la");
    for (const expected of ["ls -la", "ls -l", "list files"]) {
      sh.session.sendKeys(sh.undoKey());
      expect((await sh.dump()).buffer).toBe(expected);
    }
  });

  it("an edited answer is a new request, not another candidate", async () => {
    const { sh, finished, chats } = await shared();
    sh.session.type("list the files");
    sh.session.sendKeys("C-g");
    await finished(1);
    sh.session.type(" ~");
    sh.session.sendKeys("C-g");
    await finished(2);
    expect(lastMessage(chats()[1])).toContain("ls -l ~");
    expect(await sh.session.settledScreen()).not.toContain("2nd answer");
  });

  it("`command # words` rewrites the command as the words say; the backend gets both", async () => {
    const { sh, finished, chats } = await shared();
    await sh.load("find . -name '*.log' # only files over 1MB, newest first");
    sh.session.sendKeys("C-g");
    await finished(1);
    expect((await sh.dump()).buffer).toBe("ls -l");
    const asked = lastMessage(chats()[0]);
    expect(asked).toContain("find . -name '*.log'");
    expect(asked).toContain("only files over 1MB, newest first");
  });

  it("Ctrl-G on an empty line after a failed command proposes a fix; after a success it does nothing", async () => {
    const { sh, finished, chats } = await shared();
    sh.session.type("ls /nonexistent");
    sh.session.sendKeys("Enter");
    await sh.session.waitFor((s) => s.includes("No such file"));
    await sh.waitForPrompt();
    sh.session.sendKeys("C-g");
    await finished(1);
    expect((await sh.dump()).buffer).toBe("ls -l");
    const asked = lastMessage(chats()[0]);
    expect(asked).toContain("ls /nonexistent");
    expect(asked).toMatch(/\b2\b/);
    sh.session.sendKeys("C-u");
    sh.session.type("true");
    sh.session.sendKeys("Enter");
    await sh.waitForPrompt();
    sh.session.sendKeys("C-g");
    expect((await sh.dump()).buffer).toBe("");
    // A real request after it: once answered, the empty Ctrl-G before it was handled, and sent nothing.
    sh.session.type("list all files");
    sh.session.sendKeys("C-g");
    await finished(2);
    expect(chats()).toHaveLength(2);
    expect(lastMessage(chats()[1])).toContain("list all files");
  });

  it("the fix path takes the command the shell ran, whatever its history keeps or how it shows it", async () => {
    // History that leaves space-led commands out (Debian's bashrc: ignoreboth) and stamps the rest.
    const prelude = {
      zsh: "setopt hist_ignore_space",
      bash: "HISTCONTROL=ignoreboth HISTTIMEFORMAT='%F %T '",
      fish: "",
    };
    const { sh, ollama } = await shellWith(shell, {}, prelude[shell]);
    const run = async (line: string) => {
      sh.session.sendKeys("C-u");
      sh.session.type(line);
      sh.session.sendKeys("Enter");
      await sh.waitForPrompt();
    };
    await run("ls /nonexistent");
    // A success the history leaves out: the failure before it is no longer the last command.
    await run(" echo ok");
    sh.session.sendKeys("C-g");
    expect((await sh.dump()).buffer).toBe("");
    // A failure the history leaves out: zsh and fish hooks still see it; bash cannot know its text
    // and sends nothing rather than an older command.
    await run(" ls /nope-space");
    sh.session.sendKeys("C-g");
    let finished = 0;
    if (shell === "bash") expect((await sh.dump()).buffer).toBe("");
    else await waitForFinished(sh.home, ++finished);
    // Stamped in bash's history, but sent as it ran.
    await run("ls /nope-plain");
    sh.session.sendKeys("C-g");
    await waitForFinished(sh.home, ++finished);
    const fixed = ollama.chats.map(
      (chat) => /This command failed with exit status \d+: (.*)/.exec(lastMessage(chat))?.[1],
    );
    expect(fixed).toEqual(shell === "bash" ? ["ls /nope-plain"] : ["ls /nope-space", "ls /nope-plain"]);
  });

  it("the explain key explains the buffer's command below the prompt and leaves the buffer alone", async () => {
    const { sh, finished } = await shared();
    sh.session.type("ls -la");
    sh.session.sendKeys(EXPLAIN_KEY);
    await sh.session.waitFor((s) => s.includes("-la shows hidden files, long format."));
    await finished(1);
    expect(await sh.session.settledScreen()).toContain("ls lists a folder.");
    expect(await sh.session.settledScreen()).toMatch(/caro: rated safe/);
    expect(await sh.dump()).toEqual({ buffer: "ls -la", cursor: 6 });
  });

  it("keys typed while caro thinks go after the answer; Enter among them runs nothing", async () => {
    const { sh, live, finished } = await shared();
    live.firstByteDelayMs = 1500;
    sh.session.type("list my files");
    sh.session.sendKeys("C-g");
    await sh.session.waitFor((s) => s.includes("caro: thinking"));
    sh.session.type(" | wc");
    sh.session.sendKeys("Enter");
    sh.session.type(" -l");
    await finished(1);
    expect((await sh.dump()).buffer).toBe("ls -l | wc -l");
  });

  it("keys typed while caro thinks are kept when the request fails, after the line as typed", async () => {
    const { sh, live, finished } = await shared();
    Object.assign(live, { firstByteDelayMs: 1500, fail: { status: 500, body: '{"error":"out of memory"}' } });
    sh.session.type("list some files");
    sh.session.sendKeys("C-g");
    await sh.session.waitFor((s) => s.includes("caro: thinking"));
    sh.session.type(" please");
    await finished(1);
    await sh.session.waitFor((s) => s.includes("caro: Ollama answered HTTP 500: out of memory"));
    expect((await sh.dump()).buffer).toBe("list some files please");
  });

  it("redraws the thinking line for a narrower window", async () => {
    const { sh } = await shellWith(shell, { firstByteDelayMs: 2000 });
    sh.session.type("list files");
    sh.session.sendKeys("C-g");
    await sh.session.waitFor((s) => s.includes("caro: thinking"));
    sh.session.tmux(["resize-window", "-t", sh.session.name, "-x", "12"]);
    await sleep(300);
    const lines = (await sh.session.screen()).split("\n");
    // One line, cut to the new width: nothing of the old one wrapped onto another row.
    expect(lines.filter((l) => l.includes("caro: thi"))).toHaveLength(1);
    expect(lines.filter((l) => /^n?g…/.test(l))).toHaveLength(0);
    await waitForFinished(sh.home, 1);
    // dump() waits for "caro: thinking" to go, which a line cut to 12 columns never shows whole: a key
    // pressed while caro still holds the terminal would be caro's, not the shell's dump key.
    await sh.session.waitFor((s) => !s.includes("caro: thi"));
    expect((await sh.dump()).buffer).toBe("ls -l");
  });
});

describe.each(["zsh", "bash", "fish"] as WidgetShell[])("another candidate from llama.cpp, in %s", (shell) => {
  it("two more Ctrl-G give two new commands from the generated model; undo walks back to the typed text", async () => {
    const sh = new ShellUnderTest(shell, `backend = "embedded"\n${modelConfig("tiny")}`);
    running.push(sh);
    await sh.ready();
    sh.session.type("list files");
    const shown: string[] = [];
    for (let i = 1; i <= 3; i++) {
      sh.session.sendKeys("C-g");
      await waitForFinished(sh.home, i, 60_000);
      const { buffer } = await sh.dump();
      expect(buffer).not.toBe(i === 1 ? "list files" : shown.at(-1));
      expect(shown).not.toContain(buffer);
      shown.push(buffer);
    }
    // Which answer it is: the stand-in tests above read it; the model's nonsense lines wrap, and
    // bash and fish redraw a wrapped prompt over the message line.
    if (shell === "zsh") expect(await sh.session.settledScreen()).toContain("caro: 3rd answer");
    for (const expected of [shown[1], shown[0], "list files"]) {
      sh.session.sendKeys(sh.undoKey());
      expect((await sh.dump()).buffer).toBe(expected);
    }
  });
});
