// Trust: nobody else can stand behind the socket, and nothing a daemon, a server or a model sends
// can skip the client's own safety rating or control the terminal.

import { execFileSync, spawn } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { encodeFrame } from "../src/wire/protocol.js";
import { daemonVersion } from "../src/wire/version.js";
import { StreamedCommand } from "../src/shell/streamed-command.js";
import { CARO_BIN, caro, makeHome, ollamaConfig, sleep, waitForSocket } from "./helpers/caro.js";
import { alive, fakeDaemon, lyingAnswer } from "./helpers/daemon-client.js";
import { ShellUnderTest, type WidgetShell } from "./helpers/shells.js";
import { ollamaStandin, type Standin } from "./helpers/standins.js";

const servers: Server[] = [];
const shells: ShellUnderTest[] = [];
const standins: Standin[] = [];
const stopped: number[] = [];
afterEach(async () => {
  for (const sh of shells.splice(0)) sh.kill();
  for (const pid of stopped.splice(0)) {
    try {
      process.kill(pid, "SIGCONT");
    } catch {
      // Gone already.
    }
  }
  for (const server of servers.splice(0)) server.close();
  await Promise.all(standins.splice(0).map((s) => s.close()));
});

const ESC = "\x1b";

const isRoot = process.getuid?.() === 0;
const DIST = join(import.meta.dirname, "..", "dist");

describe("the runtime folder", () => {
  it.skipIf(!isRoot)("another user's folder at the socket's path gets nothing: one line, exit 1", async () => {
    // A world-writable, sticky parent, as /tmp is; "nobody" makes caro's folder there first and listens.
    const base = mkdtempSync(join(tmpdir(), "caro-runtime-"));
    chmodSync(base, 0o1777);
    const log = join(base, "received");
    const script = `
      const fs = require("node:fs"), net = require("node:net");
      fs.mkdirSync(${JSON.stringify(join(base, "caro"))}, { mode: 0o700 });
      net.createServer((s) => s.on("data", (d) => fs.appendFileSync(${JSON.stringify(log)}, d)))
        .listen(${JSON.stringify(join(base, "caro", "daemon.sock"))}, () => console.log("listening"));`;
    const attacker = spawn(
      "setpriv",
      ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, "-e", script],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    await new Promise((resolve) => attacker.stdout!.once("data", resolve));
    try {
      const { env } = makeHome();
      const result = await caro(["list", "files"], { env: { ...env, XDG_RUNTIME_DIR: base, HF_TOKEN: "secret" } });
      expect(result.exitCode).toBe(1);
      expect(result.stderr).toMatch(
        new RegExp(`^caro: ${join(base, "caro")} belongs to another user \\(uid 65534\\).*XDG_RUNTIME_DIR`),
      );
      expect(result.stderr.trim().split("\n")).toHaveLength(1);
      await sleep(200);
      expect(existsSync(log)).toBe(false);
      // The daemon refuses it too, rather than stepping aside for whoever listens there.
      const daemon = await caro(["daemon", "run"], { env: { ...env, XDG_RUNTIME_DIR: base } });
      expect(daemon.exitCode).toBe(1);
      expect(daemon.stderr).toContain("belongs to another user");
    } finally {
      attacker.kill();
    }
  });

  it("a symbolic link in place of the folder is refused, and what it points to keeps its mode", async () => {
    const { env, home } = makeHome();
    const target = join(home, "elsewhere");
    mkdirSync(target, { mode: 0o755 });
    chmodSync(target, 0o755);
    mkdirSync(join(home, "run"));
    symlinkSync(target, join(home, "run", "caro"));
    const result = await caro(["list", "files"], { env });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/run\/caro is a symbolic link, not a folder: caro will not use it/);
    const daemon = await caro(["daemon", "run"], { env });
    expect(daemon.exitCode).toBe(1);
    expect(statSync(target).mode & 0o777).toBe(0o755);
    expect(existsSync(join(target, "daemon.sock"))).toBe(false);
  });

  it("a folder others can open is refused with the chmod that fixes it", async () => {
    const { env, home } = makeHome();
    const dir = join(home, "run", "caro");
    mkdirSync(dir, { recursive: true });
    chmodSync(dir, 0o755);
    const result = await caro(["list", "files"], { env });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain(
      `${dir} can be opened by other users (mode 755): caro will not use it; run chmod 700 ${dir}`,
    );
  });

  it("something other than a socket at the socket's path is refused", async () => {
    const { env, home } = makeHome();
    const dir = join(home, "run", "caro");
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(join(dir, "daemon.sock"), "");
    const result = await caro(["list", "files"], { env });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/daemon\.sock is not a socket of yours \(not a socket\)/);
  });

  it("keeps the daemon's log private", async () => {
    const ollama = await ollamaStandin({ commands: { x: "pwd" } });
    standins.push(ollama);
    const { env, home } = makeHome(ollamaConfig(ollama.url));
    const logDir = join(home, ".local", "state", "caro");
    mkdirSync(logDir, { recursive: true });
    writeFileSync(join(logDir, "daemon.log"), "left by an older caro\n", { mode: 0o644 });
    expect((await caro(["x"], { env })).stdout).toBe("pwd");
    expect(statSync(join(logDir, "daemon.log")).mode & 0o777).toBe(0o600);
  });
});

describe("the client's own rating", () => {
  it("rates the command itself and applies its own safety level, whatever the daemon claims", async () => {
    const { env, home } = makeHome('[safety]\nlevel = "moderate"\n');
    const dir = join(home, "run", "caro");
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    servers.push(await fakeDaemon(dir, lyingAnswer("rm -rf ~")));
    const json = await caro(["--json", "clean", "up"], { env });
    expect(JSON.parse(json.stdout)).toMatchObject({ command: "rm -rf ~", risk: "critical" });
    // The widget's client comments it out, as the rating and this user's level say.
    const widget = await caro(["widget", "bash", "--comments", "clean up"], { env });
    expect(widget.stdout).toBe(
      "caro: rated critical and commented out: deletes your home directory (~) and everything in it\n# rm -rf ~",
    );
    // And -x refuses to run it.
    const run = await caro(["-x", "--yes", "clean", "up"], { env });
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toContain("not run: the command is rated critical");
  });

  it("refuses a command with a NUL or another control character, from the daemon or from a server", async () => {
    const { env, home } = makeHome();
    const dir = join(home, "run", "caro");
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    servers.push(await fakeDaemon(dir, lyingAnswer("# x\n rm -rf ~\u0000")));
    const widget = await caro(["widget", "bash", "clean up"], { env });
    expect(widget.exitCode).toBe(1);
    expect(widget.stdout).toBe("caro: refused the answer: the command holds a control character (U+0000)");
    for (const server of servers.splice(0)) server.close();

    for (const command of ["rm -rf ~\u0000", "ls\r rm -rf ~", `echo ${ESC}]0;pwned${ESC}\\`]) {
      const ollama = await ollamaStandin({ reply: () => JSON.stringify({ command }) });
      standins.push(ollama);
      const home2 = makeHome(ollamaConfig(ollama.url));
      const result = await caro(["clean", "up"], { env: home2.env });
      expect(result.exitCode).toBe(1);
      expect(result.stdout).toBe("");
      expect(result.stderr).toMatch(/the command holds a control character \(U\+00(00|0D|1B)\)/);
      expect(result.stderr).not.toContain(ESC);
    }
  });

  it("holds every backend's answer to max_command_length", async () => {
    // Within what is worth reading of a stream, yet longer than the setting allows a command.
    const long = `echo ${"a".repeat(1000)}`;
    const ollama = await ollamaStandin({ reply: () => JSON.stringify({ command: long }) });
    standins.push(ollama);
    const { env } = makeHome(
      `backend = "ollama"\nmax_command_length = 400\n[backends.ollama]\nhost = "${ollama.url}"\n`,
    );
    const result = await caro(["say", "a", "lot"], { env });
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain("the command is 1005 characters long, over max_command_length = 400");
  });
});

describe("text from a model or a server never reaches the terminal as control", () => {
  it("escape sequences in an explanation or a server's error are made inert", async () => {
    const title = `${ESC}]0;pwned${String.fromCharCode(7)}${ESC}[2J${ESC}[31m`;
    const ollama = await ollamaStandin({
      reply: () => JSON.stringify({ command: "ls", explanation: `lists ${title}files` }),
    });
    standins.push(ollama);
    const { env } = makeHome(ollamaConfig(ollama.url));
    const result = await caro(["--explain", "list"], { env });
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toContain("caro: lists files");
    expect(result.stderr).not.toContain(ESC);

    const failing = await ollamaStandin({ fail: { status: 500, body: JSON.stringify({ error: `boom ${title}` }) } });
    standins.push(failing);
    const home2 = makeHome(ollamaConfig(failing.url));
    for (const args of [["list"], ["widget", "bash", "list"]]) {
      const failed = await caro(args, { env: home2.env });
      expect(failed.exitCode).toBe(1);
      expect(`${failed.stdout}${failed.stderr}`).toContain("boom");
      expect(`${failed.stdout}${failed.stderr}`).not.toContain(ESC);
      expect(`${failed.stdout}${failed.stderr}`).not.toContain(String.fromCharCode(7));
    }
  });
});

describe("every wait can be cancelled, and ends", () => {
  async function stoppedDaemon() {
    const ollama = await ollamaStandin({ commands: { x: "pwd", "make marker": `touch marker` } });
    standins.push(ollama);
    const made = makeHome(ollamaConfig(ollama.url));
    expect((await caro(["daemon", "start"], { env: made.env })).exitCode).toBe(0);
    const pid = Number(readFileSync(join(made.home, "run", "caro", "daemon.pid"), "utf8"));
    process.kill(pid, "SIGSTOP");
    stopped.push(pid);
    return { ...made, pid };
  }

  it("a daemon that accepts but does not answer: one clear line within seconds; caro daemon stop ends it", async () => {
    const { env, pid } = await stoppedDaemon();
    const result = await caro(["x"], { env, timeout: 15_000 });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toBe(
      `caro: the caro daemon (pid ${pid}) accepted the connection but did not answer within 3 s (stopped or stuck): ` +
        `run caro daemon restart`,
    );
    const stop = await caro(["daemon", "stop"], { env, timeout: 15_000 });
    expect(stop.stdout).toBe("caro daemon: stopped");
    expect(alive(pid)).toBe(false);
    expect((await caro(["x"], { env })).stdout).toBe("pwd");
  });

  it("Ctrl-C while waiting for the daemon's hello exits 130 at once, and -x never runs the command later", async () => {
    const { env, home, pid } = await stoppedDaemon();
    const cwd = mkdtempSync(join(home, "work-"));
    const child = caro(["-x", "--yes", "make", "marker"], { env, cwd });
    // Once it waits for the hello (a busy machine may take seconds to start Node).
    await waitForSocket(child.pid!);
    child.kill("SIGINT");
    const result = await child;
    expect(result.exitCode).toBe(130);
    // The daemon wakes and answers now; nobody may act on it.
    process.kill(pid, "SIGCONT");
    await sleep(1500);
    expect(existsSync(join(cwd, "marker"))).toBe(false);
  });

  it("the widget's client: SIGTERM while waiting for the hello ends it, the line kept", async () => {
    const { env } = await stoppedDaemon();
    const child = caro(["widget", "bash", "x"], { env });
    await waitForSocket(child.pid!);
    child.kill("SIGTERM");
    const result = await child;
    expect(result.exitCode).toBe(130);
    expect(result.stdout).toBe("caro: cancelled");
  });
});

describe.each(["zsh", "bash", "fish"] as WidgetShell[])("Ctrl-G in %s with a stopped daemon", (shell) => {
  async function stoppedDaemonShell() {
    const ollama = await ollamaStandin({ commands: { "list files": "ls" } });
    standins.push(ollama);
    const config = ollamaConfig(ollama.url);
    const made = makeHome(config);
    expect((await caro(["daemon", "start"], { env: made.env })).exitCode).toBe(0);
    const pid = Number(readFileSync(join(made.home, "run", "caro", "daemon.pid"), "utf8"));
    process.kill(pid, "SIGSTOP");
    stopped.push(pid);
    const sh = new ShellUnderTest(shell, config, made);
    shells.push(sh);
    await sh.ready();
    return sh;
  }

  it("Ctrl-C while the client waits for the hello cancels at once, the line kept", async () => {
    const sh = await stoppedDaemonShell();
    sh.session.type("list files");
    sh.session.sendKeys("C-g");
    // Once "thinking" shows, the client holds the terminal and Ctrl-C is its key. Before that, a
    // session client still loading Node (seconds on a busy machine) would die of the SIGINT, and
    // the shell would ask the one-shot client instead, which then waits out the 3 s.
    await sh.session.waitFor((screen) => screen.includes("caro: thinking"), 30_000);
    sh.session.sendKeys("C-c");
    await sh.session.waitFor((screen) => screen.includes("caro: cancelled"), 5000);
    expect((await sh.dump()).buffer).toBe("list files");
  });

  it("gives up on a daemon that does not answer with one line, the line kept", async () => {
    const sh = await stoppedDaemonShell();
    sh.session.type("list files");
    sh.session.sendKeys("C-g");
    await sh.session.waitFor((screen) => screen.includes("did not answer within 3 s"), 10_000);
    expect((await sh.dump()).buffer).toBe("list files");
  });
});

describe("two caro versions side by side", () => {
  it("only a newer caro replaces the daemon; an older one of its protocol is served, of another is told", async () => {
    const ollama = await ollamaStandin({ commands: { x: "pwd" } });
    standins.push(ollama);
    const { env, home } = makeHome(ollamaConfig(ollama.url));
    expect((await caro(["daemon", "start"], { env })).exitCode).toBe(0);
    const pidFile = join(home, "run", "caro", "daemon.pid");
    const pid = readFileSync(pidFile, "utf8");
    const [protocol] = daemonVersion().split("/");
    const hello = (v: string) =>
      execFileSync(
        process.execPath,
        [
          "--input-type=module",
          "-e",
          `
        import { connect } from "node:net";
        import { encodeFrame, FrameReader } from ${JSON.stringify(join(DIST, "wire", "protocol.js"))};
        const s = connect(${JSON.stringify(join(home, "run", "caro", "daemon.sock"))});
        const r = new FrameReader();
        s.on("data", (d) => { for (const m of r.push(d)) { console.log(JSON.stringify(m)); s.destroy(); } });
        s.write(encodeFrame({ t: "hello", v: ${"process.argv[1]"} }));`,
          v,
        ],
        { encoding: "utf8" },
      );
    expect(JSON.parse(hello(`${protocol}/0.0.1`))).toMatchObject({ accepted: true });
    expect(JSON.parse(hello(`${Number(protocol) - 1}/0.0.1`))).toMatchObject({ accepted: false });
    await sleep(300);
    expect(readFileSync(pidFile, "utf8")).toBe(pid);
    expect(JSON.parse(hello(`${protocol}/999.0.0`))).toMatchObject({ accepted: false });
    const deadline = Date.now() + 5000;
    while (existsSync(pidFile) && Date.now() < deadline) await sleep(20);
    expect(existsSync(pidFile)).toBe(false);
  });

  it("a client facing a newer daemon it cannot speak to says so instead of restarting it", async () => {
    const { env, home } = makeHome();
    const dir = join(home, "run", "caro");
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const server = createServer((socket) =>
      socket.on("data", () => socket.end(encodeFrame({ t: "hello", v: "999/9.9.9", accepted: false, pid: 1 }))),
    );
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(join(dir, "daemon.sock"), resolve));
    const result = await caro(["x"], { env, timeout: 15_000 });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/^caro: a newer caro \(9\.9\.9\) runs this user's daemon and cannot serve this caro/);
  });
});

describe("the widget's view of a streaming answer", () => {
  it("reads the command as it grows, escapes split across chunks, and keeps only what one line can show", () => {
    const streamed = new StreamedCommand();
    const json = JSON.stringify({ command: 'echo "a\\b" \u00e9\ttab' });
    for (const char of json) streamed.push(char);
    expect(streamed.text).toBe('echo "a\\b" \u00e9\ttab');

    const huge = new StreamedCommand();
    huge.push('{"comm');
    huge.push('and": "');
    const piece = "x".repeat(1 << 16);
    for (let i = 0; i < 1600; i++) huge.push(piece); // 100 MB, read once
    expect(huge.text.length).toBe(4096);

    const never = new StreamedCommand();
    for (let i = 0; i < 1000; i++) never.push("y".repeat(1000));
    expect(never.text).toBe("");
  });
});

// The CLI binary used directly above, for the widget and the daemon.
void CARO_BIN;
