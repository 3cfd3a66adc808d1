import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { LOG_MAX_BYTES } from "../src/daemon/log.js";
import { encodeFrame, FrameReader, PROTOCOL_VERSION } from "../src/wire/protocol.js";
import { caro, makeHome, modelConfig, ollamaConfig, sleep } from "./helpers/caro.js";
import { daemonFiles, daemonPid, endOf, RawClient, startedDaemon } from "./helpers/daemon-client.js";
import { ollamaStandin, type Standin } from "./helpers/standins.js";

const standins: Standin[] = [];
afterEach(async () => {
  await Promise.all(standins.splice(0).map((s) => s.close()));
});

async function standin(options: Parameters<typeof ollamaStandin>[0] = {}): Promise<Standin> {
  const s = await ollamaStandin(options);
  standins.push(s);
  return s;
}

const ask = (env: Record<string, string>, request: string, extra: Record<string, unknown> = {}) => ({
  t: "ask",
  id: 7,
  words: request,
  shell: "bash",
  cwd: "/tmp",
  env,
  flags: {},
  ...extra,
});

describe("the daemon", () => {
  it("starts on demand, in a 0700 folder with a 0600 socket, and keeps the model loaded", async () => {
    const { env, home } = makeHome(modelConfig("tiny"));
    const first = await caro(["--verbose", "list", "files"], { env });
    expect(first.exitCode).toBe(0);
    expect(first.stderr).toMatch(/model loaded in \d+ ms/);
    const files = daemonFiles(home);
    expect(statSync(files.dir).mode & 0o777).toBe(0o700);
    expect(statSync(files.socket).mode & 0o777).toBe(0o600);
    const pid = daemonPid(home);
    const second = await caro(["--verbose", "show", "disk", "usage"], { env });
    expect(second.stderr).toContain("caro: model already loaded");
    expect(daemonPid(home)).toBe(pid);
  });

  it("reports pid, uptime, backend, model, GPU, memory and requests served", async () => {
    const { env } = makeHome(modelConfig("tiny"));
    expect((await caro(["daemon", "status"], { env })).stdout).toBe("caro daemon: not running");
    await caro(["list", "files"], { env });
    const status = await caro(["daemon", "status"], { env });
    expect(status.exitCode).toBe(0);
    expect(status.stdout).toMatch(new RegExp(`running \\(pid \\d+, version ${PROTOCOL_VERSION}/[\\d.]+\\)`));
    expect(status.stdout).toMatch(/backend\s+embedded/);
    expect(status.stdout).toMatch(/model\s+tiny-\w+\.gguf/);
    expect(status.stdout).toMatch(/gpu\s+none \(CPU\)/);
    expect(status.stdout).toMatch(/memory\s+\d+ MB/);
    expect(status.stdout).toMatch(/requests\s+1 served, 0 running/);
    const json = JSON.parse(String((await caro(["daemon", "status", "--json"], { env })).stdout));
    expect(json).toMatchObject({ running: true, backend: "embedded", gpu: false, requests_served: 1 });
    expect(json.uptime_s).toBeGreaterThanOrEqual(0);
  });

  it("stops, starts and restarts on command", async () => {
    const { env, home, pid } = await startedDaemon(modelConfig("tiny"));
    expect((await caro(["daemon", "restart"], { env })).exitCode).toBe(0);
    const restarted = daemonPid(home);
    expect(restarted).not.toBe(pid);
    expect((await caro(["daemon", "stop"], { env })).stdout).toBe("caro daemon: stopped");
    expect(existsSync(daemonFiles(home).socket)).toBe(false);
    expect((await caro(["daemon", "stop"], { env })).stdout).toBe("caro daemon: not running");
  });

  it("answers each request under its client's config file, flags and variables, read afresh", async () => {
    const a = await standin({ commands: { x: "echo from-a" } });
    const b = await standin({ commands: { x: "echo from-b" } });
    const { env, configPath, home } = makeHome(ollamaConfig(a.url));
    expect((await caro(["x"], { env })).stdout).toBe("echo from-a");
    const pid = daemonPid(home);
    writeFileSync(configPath, ollamaConfig(b.url));
    expect((await caro(["x"], { env })).stdout).toBe("echo from-b");
    // The client's own OLLAMA_HOST wins over the file, as it would in-process.
    expect((await caro(["x"], { env: { ...env, OLLAMA_HOST: a.url } })).stdout).toBe("echo from-a");
    // A config error is this request's error, and the daemon lives on.
    writeFileSync(configPath, "backend = [");
    const broken = await caro(["x"], { env });
    expect(broken.exitCode).toBe(2);
    expect(broken.stderr).toMatch(new RegExp(`^caro: ${configPath}:1:\\d+: `));
    expect(daemonPid(home)).toBe(pid);
  });

  it("answers several shells at once, none lost, from one daemon", async () => {
    const ollama = await standin({ chunkBytes: 32, chunkDelayMs: 30 });
    const { env, home } = makeHome(ollamaConfig(ollama.url));
    const results = await Promise.all(["one", "two", "three", "four"].map((word) => caro([word], { env })));
    expect(results.map((r) => r.stdout)).toEqual(['echo "one"', 'echo "two"', 'echo "three"', 'echo "four"']);
    // Four clients raced to start it; the log shows one daemon listening.
    const listening = readFileSync(daemonFiles(home).log, "utf8").match(/listening on/g) ?? [];
    expect(listening).toHaveLength(1);
  });

  it("cancels a request when asked by id", async () => {
    const ollama = await standin({ chunkBytes: 160, chunkDelayMs: 200 });
    const { env, files } = await startedDaemon(ollamaConfig(ollama.url));
    const client = await RawClient.helloed(files.socket);
    client.send(ask(env, "slow"));
    await client.until((m) => m.t === "event" && (m.event as { type: string }).type === "text");
    client.send({ t: "cancel", id: 7 });
    expect(await client.until((m) => m.t === "error")).toMatchObject({ id: 7, exitCode: 130 });
    await sleep(100);
    expect(ollama.aborted).toBe(1);
    client.socket.destroy();
  });

  it("cancels a request when its client goes away", async () => {
    const ollama = await standin({ chunkBytes: 160, chunkDelayMs: 200 });
    const { env, files } = await startedDaemon(ollamaConfig(ollama.url));
    const client = await RawClient.helloed(files.socket);
    client.send(ask(env, "slow"));
    await client.until((m) => m.t === "event" && (m.event as { type: string }).type === "text");
    client.socket.destroy();
    const deadline = Date.now() + 5000;
    while (ollama.aborted === 0 && Date.now() < deadline) await sleep(20);
    expect(ollama.aborted).toBe(1);
  });

  describe("survives bad frames and serves the next client", () => {
    it.each([
      ["garbage bytes", Buffer.from([0, 0, 0, 5, 0xc1, 0xc1, 0xc1, 0xc1, 0xc1]), /undecodable frame/],
      [
        "a huge length",
        Buffer.from([0x7f, 0xff, 0xff, 0xff, 1, 2, 3]),
        /^the request is too large: 2147483647 bytes, over the 1048576-byte limit; shorten it$/,
      ],
    ])("%s: an error reply, then the connection closes", async (_name, bytes, pattern) => {
      const ollama = await standin({ commands: { x: "pwd" } });
      const { env, files, pid } = await startedDaemon(ollamaConfig(ollama.url));
      const client = await RawClient.open(files.socket);
      client.socket.write(bytes);
      expect(await client.until((m) => m.t === "error")).toMatchObject({ message: expect.stringMatching(pattern) });
      expect(await client.waitClosed()).toBe(true);
      expect((await caro(["x"], { env })).stdout).toBe("pwd");
      expect(daemonPid(makeHomeOf(files))).toBe(pid);
    });

    it("wrong types and unknown kinds: an error reply, the connection stays open", async () => {
      const ollama = await standin({ commands: { x: "pwd" } });
      const { env, files } = await startedDaemon(ollamaConfig(ollama.url));
      const client = await RawClient.helloed(files.socket);
      client.send({ t: "ask", id: "seven", request: 42 });
      expect(
        await client.until((m) => m.t === "error" && /bad request: id must be an integer/.test(String(m.message))),
      ).not.toBeNull();
      client.send(ask(env, "x", { shell: "powershell" }));
      expect(
        await client.until((m) => m.t === "error" && /shell must be one of/.test(String(m.message))),
      ).not.toBeNull();
      // Flags reach the config loader and the prompt: each must be of its own type, not coerced.
      client.send(ask(env, "x", { flags: { explain: "yes" } }));
      const badFlag = (m: Record<string, unknown>) =>
        m.t === "error" && /flags\.explain must be a boolean/.test(String(m.message));
      expect(await client.until(badFlag)).not.toBeNull();
      client.send(ask(env, "x", { flags: { model: 7 } }));
      const badModel = (m: Record<string, unknown>) =>
        m.t === "error" && /flags\.model must be a string/.test(String(m.message));
      expect(await client.until(badModel)).not.toBeNull();
      client.send({ t: "dance" });
      expect(await client.until((m) => /unknown message kind "dance"/.test(String(m.message)))).not.toBeNull();
      client.send([1, 2, 3]);
      expect(await client.until((m) => /unknown message kind null/.test(String(m.message)))).not.toBeNull();
      client.send(ask(env, "x"));
      expect(await client.until((m) => m.t === "answer")).toMatchObject({ answer: { command: "pwd" } });
      expect(client.closed).toBe(false);
      client.socket.destroy();
    });
  });

  it("exits when a newer caro says hello, and the next request starts a new one", async () => {
    const ollama = await standin({ commands: { x: "pwd" } });
    const { env, home, files, pid } = await startedDaemon(ollamaConfig(ollama.url));
    const client = await RawClient.open(files.socket);
    client.send({ t: "hello", v: "999/999.0.0" });
    expect(await client.until((m) => m.t === "hello")).toMatchObject({ accepted: false, pid });
    const deadline = Date.now() + 5000;
    while (existsSync(files.socket) && Date.now() < deadline) await sleep(20);
    expect(existsSync(files.socket)).toBe(false);
    expect((await caro(["x"], { env })).stdout).toBe("pwd");
    expect(daemonPid(home)).not.toBe(pid);
  });

  it("replaces an old daemon that refuses its hello", async () => {
    const ollama = await standin({ commands: { x: "pwd" } });
    const { env, home } = makeHome(ollamaConfig(ollama.url));
    const files = daemonFiles(home);
    const { mkdirSync } = await import("node:fs");
    mkdirSync(files.dir, { recursive: true, mode: 0o700 });
    // A stand-in for a daemon of an older caro: refuses the hello and goes away, as the real one does.
    const old = createServer((socket) => {
      const reader = new FrameReader();
      socket.on("data", (chunk) => {
        for (const m of reader.push(chunk) as { t: string }[])
          if (m.t === "hello") {
            socket.end(encodeFrame({ t: "hello", v: "0/0.0.1", accepted: false, pid: 1 }));
            old.close();
            rmSync(files.socket, { force: true });
          }
      });
    });
    await new Promise<void>((resolve) => old.listen(files.socket, resolve));
    const result = await caro(["x"], { env });
    expect(result.stdout).toBe("pwd");
    expect(existsSync(files.pid)).toBe(true);
  });

  it("a daemon killed mid-request: the client says so, and the next request starts a new one", async () => {
    const ollama = await standin({ chunkBytes: 4, chunkDelayMs: 200, commands: { x: "pwd" } });
    const { env, home, pid } = await startedDaemon(ollamaConfig(ollama.url));
    const child = caro(["x"], { env });
    const deadline = Date.now() + 10_000;
    while (ollama.chats.length === 0 && Date.now() < deadline) await sleep(10);
    process.kill(pid, "SIGKILL");
    const killed = await child;
    expect(killed.exitCode).toBe(1);
    expect(killed.stderr).toMatch(/^caro: the caro daemon stopped before answering \(see .*daemon\.log\); try again$/);
    const fast = await standin({ commands: { x: "pwd" } });
    writeFileSync(join(home, ".config", "caro", "config.toml"), ollamaConfig(fast.url));
    const next = await caro(["x"], { env });
    expect(next.stdout).toBe("pwd");
    expect(daemonPid(home)).not.toBe(pid);
  });

  it("unloads the model when idle, then exits", async () => {
    // Long enough that a loaded machine still sees the model loaded right after the request.
    const { env, home } = makeHome(
      modelConfig("tiny", "[daemon]\nidle_unload_minutes = 0.05\nidle_exit_minutes = 0.15\n"),
    );
    await caro(["list"], { env });
    const files = daemonFiles(home);
    const loaded = JSON.parse(String((await caro(["daemon", "status", "--json"], { env })).stdout));
    expect(loaded.models_loaded).toBe(1);
    await sleep(4000);
    const unloaded = JSON.parse(String((await caro(["daemon", "status", "--json"], { env })).stdout));
    expect(unloaded.models_loaded).toBe(0);
    expect(unloaded.running).toBe(true);
    const deadline = Date.now() + 10_000;
    while (existsSync(files.socket) && Date.now() < deadline) await sleep(50);
    expect(existsSync(files.socket)).toBe(false);
    expect(readFileSync(files.log, "utf8")).toMatch(/unloading models[\s\S]*exiting/);
  });

  it("runs in-process with --no-daemon", async () => {
    const { env, home } = makeHome(modelConfig("tiny"));
    const result = await caro(["--no-daemon", "list", "files"], { env });
    expect(result.exitCode).toBe(0);
    expect(existsSync(daemonFiles(home).socket)).toBe(false);
  });
});

function makeHomeOf(files: { dir: string }): string {
  return join(files.dir, "..", "..");
}

describe("the daemon's log", () => {
  it("keeps what a model said only as a short excerpt, secrets masked", async () => {
    // A model that echoes a failed command, token and all, instead of answering in JSON.
    const token = "sk-live-0123456789abcdefghijklmnop";
    const echo =
      `I ran curl -H "Authorization: Bearer ${token}" https://api.example.com ` + "and it failed ".repeat(40);
    const s = await standin({ reply: () => echo });
    const { env, home } = makeHome(ollamaConfig(s.url));
    expect((await caro(["list", "files"], { env })).exitCode).toBe(1);
    const log = readFileSync(daemonFiles(home).log, "utf8");
    const failed = log.split("\n").find((line) => / request \d+ failed/.test(line)) ?? "";
    expect(failed).toContain("not the JSON that was asked for");
    expect(failed.length).toBeLessThan(260);
    expect(log).not.toContain("0123456789abcdef");
  });

  it("stays under its bound through a soak of requests, the older part kept in daemon.log.1", async () => {
    const s = await standin({ commands: { x: "pwd" } });
    const { env, home } = makeHome(ollamaConfig(s.url));
    const { log, socket } = daemonFiles(home);
    // A log grown close to its bound over earlier days; each request adds a line.
    mkdirSync(dirname(log), { recursive: true, mode: 0o700 });
    writeFileSync(log, "an older line\n".repeat(Math.floor((LOG_MAX_BYTES - 4000) / 14)), { mode: 0o600 });
    expect((await caro(["daemon", "start"], { env })).exitCode).toBe(0);
    const client = await RawClient.helloed(socket);
    for (let id = 1; id <= 200; id++) {
      client.send({ t: "ask", id, words: "x", shell: "bash", cwd: "/tmp", env, flags: {} });
      expect(await client.until(endOf(id))).toMatchObject({ t: "answer" });
      expect(statSync(log).size).toBeLessThanOrEqual(LOG_MAX_BYTES);
    }
    client.socket.destroy();
    const deadline = Date.now() + 5000;
    while (!readFileSync(log, "utf8").includes("answered request 200 ") && Date.now() < deadline) await sleep(20);
    expect(readFileSync(log, "utf8")).toContain("answered request 200 ");
    expect(readFileSync(`${log}.1`, "utf8")).toContain("an older line");
    expect(statSync(`${log}.1`).size).toBeLessThanOrEqual(LOG_MAX_BYTES);
    expect(statSync(`${log}.1`).mode & 0o777).toBe(0o600);
  });
});
