// The session client (`caro session`): one Node process per shell answers every Ctrl-G, so none
// starts per keystroke. Driven as a user would: real zsh and bash under tmux, a stand-in Ollama.

import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parseRequest } from "../src/shell/contract.js";
import { caro, sleep } from "./helpers/caro.js";
import { daemonFiles, daemonPid } from "./helpers/daemon-client.js";
import { execFileSync, spawnSync } from "node:child_process";
import { ShellUnderTest, waitForFinished, type WidgetShell } from "./helpers/shells.js";
import { ollamaStandin, requestText, type Standin, type StandinOptions } from "./helpers/standins.js";
import { waitForFile } from "./helpers/tmux.js";

const running: { kill(): void }[] = [];
const stopped: number[] = [];
const standins: Standin[] = [];
const helpers: number[] = [];
afterEach(async () => {
  for (const pid of stopped.splice(0)) if (alive(pid)) process.kill(pid, "SIGKILL");
  for (const r of running.splice(0)) r.kill();
  await Promise.all(standins.splice(0).map((s) => s.close()));
  for (const pid of helpers.splice(0)) if (alive(pid)) process.kill(pid, "SIGKILL");
});

function alive(pid: number): boolean {
  try {
    // A zombie waiting for its parent to reap it is gone.
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

const reply = (request: Parameters<NonNullable<StandinOptions["reply"]>>[0]) =>
  JSON.stringify({ command: requestText(request) === "list files" ? "ls -la" : "echo other" });

// Strict options, as a user's rc file may set them.
const STRICT: Record<string, string> = { zsh: "setopt err_exit no_unset pipe_fail", bash: "set -euo pipefail" };

async function shellWith(shell: WidgetShell, options: StandinOptions = {}, prelude?: string) {
  // Kept, so a test can slow the stand-in down later: it reads its options at each request.
  const live: StandinOptions = { reply, ...options };
  const ollama = await ollamaStandin(live);
  standins.push(ollama);
  const config = `backend = "ollama"\n[backends.ollama]\nhost = "${ollama.url}"\n`;
  const sh = new ShellUnderTest(shell, config, undefined, { prelude });
  running.push(sh);
  await sh.ready();
  return { sh, ollama, live };
}

/** The session folder the shell named, as the shell itself says. */
async function sessionDir(sh: ShellUnderTest): Promise<string> {
  const file = join(sh.dir, "session-dir");
  sh.session.sendKeys("C-u");
  const clobber = sh.shell === "fish" ? ">" : ">|";
  sh.session.type(`builtin printf '%s\\n' "$_caro_session_dir" ${clobber} ${file}`);
  sh.session.sendKeys("Enter");
  await sh.waitForPrompt();
  // Whole, with its newline: the shell creates the file before it writes the line.
  const dir = (await waitForFile(file, 10_000)).trim();
  if (!dir.startsWith("/")) throw new Error(`the shell named no session folder: ${JSON.stringify(dir)}`);
  return dir;
}

/** The session client's pid, once it is running; remembered so that none outlives the test. */
function helperPid(dir: string): number {
  const pid = Number(readFileSync(join(dir, "pid"), "utf8").trim());
  expect(readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")).toContain("session");
  helpers.push(pid);
  return pid;
}

async function ask(sh: ShellUnderTest, done: number, typed = "list files") {
  sh.session.sendKeys("C-u");
  sh.session.type(typed);
  sh.session.sendKeys("C-g");
  await waitForFinished(sh.home, done);
}

describe.each(["zsh", "bash", "fish"] as WidgetShell[])("the session client in %s", (shell) => {
  it("answers Ctrl-G again and again from one process that keeps running, under strict options", async () => {
    const { sh, ollama } = await shellWith(shell, {}, STRICT[shell]);
    const dir = await sessionDir(sh);
    await ask(sh, 1);
    expect((await sh.dump()).buffer).toBe("ls -la");
    const pid = helperPid(dir);
    await ask(sh, 2, "something else");
    expect((await sh.dump()).buffer).toBe("echo other");
    await ask(sh, 3, "a third thing");
    expect((await sh.dump()).buffer).toBe("echo other");
    expect(helperPid(dir)).toBe(pid);
    expect(alive(pid)).toBe(true);
    expect(ollama.chats.map(requestText)).toEqual(["list files", "something else", "a third thing"]);
  });

  it("takes the shell's cwd and environment as they are at each Ctrl-G", async () => {
    const { sh, ollama } = await shellWith(shell);
    const dir = await sessionDir(sh);
    await ask(sh, 1);
    const pid = helperPid(dir);
    sh.session.sendKeys("C-u");
    sh.session.type(`cd ${sh.dir}`);
    sh.session.sendKeys("Enter");
    await sh.waitForPrompt();
    await ask(sh, 2, "something else");
    expect(helperPid(dir)).toBe(pid);
    const prompt = ollama.chats[1].messages.map((m) => m.content).join("\n");
    expect(prompt).toContain(`cwd: ${sh.dir}`);
    // A variable exported since: the next request reads it.
    sh.session.sendKeys("C-u");
    sh.session.type("export CARO_BACKEND=nope");
    sh.session.sendKeys("Enter");
    await sh.waitForPrompt();
    sh.session.type("list files");
    sh.session.sendKeys("C-g");
    await sh.session.waitFor((s) => s.includes('backend must be one of auto, embedded, ollama, vllm (got "nope")'));
    expect((await sh.dump()).buffer).toBe("list files");
    expect(helperPid(dir)).toBe(pid);
  });

  it("Ctrl-C while it thinks cancels and keeps the line; Ctrl-C at the prompt leaves it running", async () => {
    const { sh, ollama, live } = await shellWith(shell);
    const dir = await sessionDir(sh);
    await ask(sh, 1);
    const pid = helperPid(dir);
    // At the prompt, Ctrl-C reaches the shell's whole process group, the session client too.
    sh.session.sendKeys("C-c");
    await sh.waitForPrompt();
    sh.session.sendKeys("C-c");
    await sh.waitForPrompt();
    expect(alive(pid)).toBe(true);
    live.firstByteDelayMs = 10_000;
    sh.session.sendKeys("C-u");
    sh.session.type("something slow");
    sh.session.sendKeys("C-g");
    while (ollama.chats.length < 2) await sleep(20);
    sh.session.sendKeys("C-c");
    await waitForFinished(sh.home, 2);
    // Keys pressed before caro gives the terminal back are caro's (typed ahead): wait for its line.
    await sh.session.waitFor((screen) => screen.includes("caro: cancelled"));
    expect((await sh.dump()).buffer).toBe("something slow");
    expect(alive(pid)).toBe(true);
    live.firstByteDelayMs = 0;
    await ask(sh, 3);
    expect((await sh.dump()).buffer).toBe("ls -la");
    expect(helperPid(dir)).toBe(pid);
  });

  it("a killed session client is noticed: the next Ctrl-G is answered and a new one started", async () => {
    const { sh } = await shellWith(shell);
    const dir = await sessionDir(sh);
    await ask(sh, 1);
    const pid = helperPid(dir);
    process.kill(pid, "SIGKILL");
    while (alive(pid)) await sleep(20);
    await ask(sh, 2, "something else");
    expect((await sh.dump()).buffer).toBe("echo other");
    await ask(sh, 3);
    expect((await sh.dump()).buffer).toBe("ls -la");
    const again = helperPid(dir);
    expect(again).not.toBe(pid);
    expect(alive(again)).toBe(true);
  });

  it("answers the first Ctrl-G even when it takes seconds to start, as Node may on a busy machine", async () => {
    const { sh } = await shellWith(shell);
    // Every Node started from here on waits 4 s before it runs anything.
    const slow = join(sh.dir, "slow.cjs");
    writeFileSync(slow, "Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 4000);\n");
    sh.session.type(
      shell === "fish" ? `set -gx NODE_OPTIONS "--require ${slow}"` : `export NODE_OPTIONS="--require ${slow}"`,
    );
    sh.session.sendKeys("Enter");
    await sh.waitForPrompt();
    await ask(sh, 1);
    expect((await sh.dump()).buffer).toBe("ls -la");
    expect(await sh.session.settledScreen()).not.toContain("did not answer");
  });

  it("ends, removing its folder, when the shell exits", async () => {
    const { sh } = await shellWith(shell);
    const dir = await sessionDir(sh);
    await ask(sh, 1);
    const pid = helperPid(dir);
    sh.session.sendKeys("C-u");
    sh.session.type("exit");
    sh.session.sendKeys("Enter");
    const deadline = Date.now() + 10_000;
    while ((alive(pid) || existsSync(dir)) && Date.now() < deadline) await sleep(50);
    expect(alive(pid)).toBe(false);
    expect(existsSync(dir)).toBe(false);
  });
});

/** The terminal's settings as `stty -g` gives them, read from outside the shell. */
function ttyState(sh: ShellUnderTest): string {
  const tty = sh.session.tmux(["display", "-p", "-t", sh.session.name, "#{pane_tty}"]).trim();
  return execFileSync("stty", ["-g", "-F", tty], { encoding: "utf8" }).trim();
}

/** The session clients (`caro session <shell> <dir> <pid>`) serving the shell process `pid`. */
function clientsOf(pid: number): number[] {
  return readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .filter((name) => {
      try {
        const words = readFileSync(`/proc/${name}/cmdline`, "utf8").split("\0");
        return words.includes("session") && words.at(-2) === String(pid);
      } catch {
        return false;
      }
    })
    .map(Number);
}

// Exported secrets: none may reach the request file, which holds only what caro forwards.
const SECRET: Record<WidgetShell, string> = {
  zsh: "export AWS_SECRET_ACCESS_KEY=s3cr3t-value",
  bash: "export AWS_SECRET_ACCESS_KEY=s3cr3t-value",
  fish: "set -gx AWS_SECRET_ACCESS_KEY s3cr3t-value",
};

const EXEC: Record<WidgetShell, string> = {
  zsh: "exec zsh -f",
  bash: "exec bash --norc --noprofile",
  fish: "exec fish --no-config",
};

describe.each(["zsh", "bash", "fish"] as WidgetShell[])("a session client that stops answering, in %s", (shell) => {
  it("costs one bounded wait and one line, the line kept, the terminal given back; a new one answers", async () => {
    const { sh, live, ollama } = await shellWith(shell, {}, SECRET[shell]);
    const dir = await sessionDir(sh);
    const requests = () => readdirSync(dir).filter((name) => name.startsWith("request."));
    await ask(sh, 1);
    expect((await sh.dump()).buffer).toBe("ls -la");
    expect(requests()).toEqual([]);
    const first = helperPid(dir);
    // Stopped at the prompt (SIGSTOP): the shell's next request waits for it.
    process.kill(first, "SIGSTOP");
    stopped.push(first);
    sh.session.sendKeys("C-u");
    sh.session.type("list files");
    const asked = Date.now();
    sh.session.sendKeys("C-g");
    // Meanwhile the request waits in its file: private, and only forwarded variables in it.
    let file = "";
    while (!file && Date.now() - asked < 3000) file = requests()[0] ?? (await sleep(20)) ?? "";
    const written = join(dir, file);
    expect(statSync(written).mode & 0o777).toBe(0o600);
    const text = readFileSync(written, "utf8");
    expect(parseRequest(text)).toMatchObject({ argv: expect.arrayContaining(["list files"]) });
    expect(text).toContain("HOME=");
    expect(text).not.toContain("s3cr3t");
    await sh.session.waitFor(
      (s) => s.includes(`caro: the session client (pid ${first}) is stopped (SIGSTOP) and did not answer for 3 s`),
      10_000,
    );
    expect(Date.now() - asked).toBeLessThan(8000);
    expect((await sh.dump()).buffer).toBe("list files");
    // SIGKILL is sent, not waited for: a busy machine may take a moment to tear the process down.
    const killed = Date.now();
    while (alive(first) && Date.now() - killed < 3000) await sleep(20);
    expect(alive(first)).toBe(false);
    expect(requests()).toEqual([]);
    await ask(sh, 2);
    expect((await sh.dump()).buffer).toBe("ls -la");
    const second = helperPid(dir);
    expect(second).not.toBe(first);

    // Stopped mid-request, holding the terminal in raw mode.
    const cooked = ttyState(sh);
    live.firstByteDelayMs = 10_000;
    sh.session.sendKeys("C-u");
    sh.session.type("something slow");
    const chats = ollama.chats.length;
    sh.session.sendKeys("C-g");
    await sh.session.waitFor((s) => s.includes("caro: thinking"));
    expect(ttyState(sh)).not.toBe(cooked);
    // "thinking" shows before the request is sent: stopped earlier, it would never reach the daemon.
    const sent = Date.now();
    while (ollama.chats.length === chats && Date.now() - sent < 10_000) await sleep(20);
    process.kill(second, "SIGSTOP");
    stopped.push(second);
    await sh.session.waitFor((s) => s.includes(`(pid ${second}) is stopped (SIGSTOP) and did not answer`), 10_000);
    expect((await sh.dump()).buffer).toBe("something slow");
    expect(ttyState(sh)).toBe(cooked);
    // Typing works as ever: the keys reach the line editor, Enter runs the line.
    sh.session.sendKeys("C-u");
    sh.session.type("echo typed fine");
    sh.session.sendKeys("Enter");
    await sh.session.waitFor((s) => /^typed fine$/m.test(s));
    live.firstByteDelayMs = 0;
    // The daemon counts the slow request as finished too: its client's connection ended with it.
    await ask(sh, 4);
    expect((await sh.dump()).buffer).toBe("ls -la");
  });

  it("is one per shell process: after exec twice, Ctrl-G leaves one; a gone shell's folder is cleared", async () => {
    const { sh } = await shellWith(shell);
    // The folder a client that died left behind, its shell gone too: the next client removes it.
    const gone = spawnSync("true").pid ?? 0;
    const left = join(dirname(await sessionDir(sh)), `caro-session-${process.getuid?.()}-${gone}-42`);
    mkdirSync(left, { mode: 0o700 });
    writeFileSync(join(left, "request.1"), "secret\0", { mode: 0o600 });
    await ask(sh, 1);
    expect(existsSync(left)).toBe(false);
    const pid = Number(sh.session.tmux(["display", "-p", "-t", sh.session.name, "#{pane_pid}"]).trim());
    expect(clientsOf(pid)).toHaveLength(1);
    for (const round of [1, 2]) {
      sh.session.sendKeys("C-u");
      sh.session.type(EXEC[shell]);
      sh.session.sendKeys("Enter");
      // Typed ahead: the new shell reads it once it starts.
      sh.session.type(`source ${sh.dir}/setup; echo exec-round-${round}`);
      sh.session.sendKeys("Enter");
      await sh.session.waitFor((s) => new RegExp(`^exec-round-${round}$`, "m").test(s));
      await sh.waitForPrompt();
    }
    await ask(sh, 2);
    expect((await sh.dump()).buffer).toBe("ls -la");
    const deadline = Date.now() + 5000;
    while (clientsOf(pid).length !== 1 && Date.now() < deadline) await sleep(50);
    expect(clientsOf(pid)).toHaveLength(1);
    helpers.push(...clientsOf(pid));
  });
});

// The daemon numbers a connection's requests by the client's ids: a connection made per Ctrl-G
// would number each one 1.
const answeredIds = (home: string) =>
  [...readFileSync(daemonFiles(home).log, "utf8").matchAll(/answered request (\d+) /g)].map((m) => Number(m[1]));

describe("the session client's daemon connection", () => {
  it("is kept from one Ctrl-G to the next, and made afresh when the daemon is restarted", async () => {
    const { sh } = await shellWith("zsh");
    await ask(sh, 1);
    await ask(sh, 2, "something else");
    await ask(sh, 3);
    expect(answeredIds(sh.home)).toEqual([1, 2, 3]);
    expect((await caro(["daemon", "restart"], { env: sh.env })).exitCode).toBe(0);
    await ask(sh, 4, "something else");
    expect((await sh.dump()).buffer).toBe("echo other");
    expect(answeredIds(sh.home)).toEqual([1, 2, 3, 1]);
  });

  it("a kept daemon that stops answering: one line within seconds, the line kept; then a new one answers", async () => {
    const { sh } = await shellWith("zsh");
    await ask(sh, 1);
    const pid = daemonPid(sh.home);
    process.kill(pid, "SIGSTOP");
    stopped.push(pid);
    sh.session.sendKeys("C-u");
    sh.session.type("list files");
    sh.session.sendKeys("C-g");
    await sh.session.waitFor(
      (screen) => screen.includes(`the caro daemon (pid ${pid}) accepted the connection but did not answer within 3 s`),
      10_000,
    );
    expect((await sh.dump()).buffer).toBe("list files");
    process.kill(pid, "SIGKILL");
    while (alive(pid)) await sleep(20);
    await ask(sh, 2, "something else");
    expect((await sh.dump()).buffer).toBe("echo other");
  });
});
