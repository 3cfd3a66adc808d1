import { execFileSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  linkSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { caro, makeHome, modelConfig, ollamaConfig } from "./helpers/caro.js";
import { alive, daemonPid, endOf, eventOf, RawClient, startedDaemon } from "./helpers/daemon-client.js";
import { testModelPath } from "./helpers/models.js";
import { ollamaStandin, type Standin } from "./helpers/standins.js";

const standins: Standin[] = [];
const immutable: string[] = [];
afterEach(async () => {
  await Promise.all(standins.splice(0).map((s) => s.close()));
  for (const dir of immutable.splice(0)) execFileSync("chattr", ["-i", dir]);
});

const prefixDir = (home: string) => join(home, ".cache", "caro", "prefix");
const modelAt = (home: string) => join(home, "model.gguf");
/** A config whose model is a file of the test's own, so the test may replace or delete it. */
const ownModelConfig = (home: string, extra = "") =>
  `[backends.embedded]\nmodel = "${modelAt(home)}"\nthreads = 1\n${extra}`;

/** Puts `source` at `target` under a new inode (rename over it), as `mv` or a download would. */
function replaceByRename(source: string, target: string) {
  copyFileSync(source, `${target}.new`);
  renameSync(`${target}.new`, target);
}

/** Makes a folder nobody can write, root included (root ignores modes: chattr +i binds it too). */
function makeReadOnly(dir: string) {
  execFileSync("chmod", ["0500", dir]);
  if (process.getuid?.() === 0) {
    execFileSync("chattr", ["+i", dir]);
    immutable.push(dir);
  }
  const probe = join(dir, "probe");
  let writable = true;
  try {
    writeFileSync(probe, "x");
    rmSync(probe);
  } catch {
    writable = false;
  }
  if (writable) throw new Error(`cannot make ${dir} read-only here`);
}

describe("cancelling never kills the daemon", () => {
  it("survives cancel-then-ask cycles in load, prefix restore and generation; answers as a fresh process", async () => {
    const { env, home, files, pid } = await startedDaemon("");
    // Two model files, alternated under one path: each swap makes the daemon load again, and
    // (after the first time for each) restore that model's prefix state from disk.
    const a = join(home, "a.gguf");
    const b = join(home, "b.gguf");
    copyFileSync(testModelPath("tiny"), a);
    copyFileSync(testModelPath("tiny"), b);
    utimesSync(b, new Date(2001, 1, 1), new Date(2001, 1, 1));
    writeFileSync(join(home, ".config", "caro", "config.toml"), ownModelConfig(home));
    const useModel = (source: string) => {
      rmSync(`${modelAt(home)}.link`, { force: true });
      linkSync(source, `${modelAt(home)}.link`);
      renameSync(`${modelAt(home)}.link`, modelAt(home));
    };
    let id = 0;
    const ask = (client: RawClient, request: string) => {
      client.send({ t: "ask", id: ++id, words: request, shell: "bash", cwd: "/tmp", env, flags: {} });
      return id;
    };
    // Cancel as soon as the daemon says the request reached this phase.
    const phases: [string, string][] = [
      ["load", "selected"],
      ["prefix restore", "loaded"],
      ["generation", "command"],
    ];
    const outcomes: string[] = [];
    for (let cycle = 0; cycle < 4; cycle++) {
      for (const [phase, event] of phases) {
        if (phase === "load") useModel(cycle % 2 === 0 ? a : b);
        const client = await RawClient.helloed(files.socket);
        const cancelled = ask(client, `list files ${cycle}`);
        await client.until((m) => eventOf(cancelled, event)(m) || endOf(cancelled)(m));
        client.send({ t: "cancel", id: cancelled });
        // Ask again at once, while the cancelled request's llama.cpp work may still be running.
        const next = ask(client, "show disk usage");
        const first = await client.until(endOf(cancelled));
        const second = await client.until(endOf(next));
        expect(first, `cancel during ${phase}`).not.toBeNull();
        expect(second, `ask after a cancel during ${phase}`).toMatchObject({ t: "answer" });
        outcomes.push(`${phase}: ${String(first!.t === "error" ? first!.exitCode : "answered")}`);
        client.socket.destroy();
        expect(alive(pid), `daemon alive after a cancel during ${phase} in cycle ${cycle}`).toBe(true);
      }
    }
    // Most cancels land in their phase; one that lost the race to the answer is fine too.
    expect(outcomes.filter((o) => o.endsWith(": 130")).length).toBeGreaterThanOrEqual(6);
    const last = await caro(["--json", "list", "files"], { env });
    expect(last.exitCode).toBe(0);
    expect(daemonPid(home)).toBe(pid);
    const fresh = await caro(["--json", "--no-daemon", "list", "files"], { env });
    expect(fresh.exitCode).toBe(0);
    expect(JSON.parse(String(last.stdout)).command).toBe(JSON.parse(String(fresh.stdout)).command);
    const log = readFileSync(files.log, "utf8");
    expect(log).not.toMatch(/Napi|terminate called|Aborted|unexpected:/);
    // The cancelled requests' states were saved whole: one per model file, no partial files left.
    expect(readdirSync(prefixDir(home)).sort()).toHaveLength(2);
    expect(readdirSync(prefixDir(home)).filter((f) => f.endsWith(".partial"))).toEqual([]);
  }, 300_000);

  it("stops when asked while a cancelled request's model is still loading", async () => {
    const { env, files, pid } = await startedDaemon(modelConfig("slow"));
    const client = await RawClient.helloed(files.socket);
    client.send({ t: "ask", id: 1, words: "list files", shell: "bash", cwd: "/tmp", env, flags: {} });
    await client.until(eventOf(1, "selected"));
    client.send({ t: "cancel", id: 1 });
    expect(await client.until(endOf(1))).toMatchObject({ exitCode: 130 });
    const stopped = await caro(["daemon", "stop"], { env });
    expect(stopped.stdout).toBe("caro daemon: stopped");
    const deadline = Date.now() + 30_000;
    while (alive(pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(alive(pid)).toBe(false);
    expect(readFileSync(files.log, "utf8")).toMatch(/stopped\n$/);
    expect(readFileSync(files.log, "utf8")).not.toMatch(/Napi|terminate called|Aborted/);
  }, 120_000);
});

describe("the prefix cache", () => {
  it("a read-only prefix folder: every request is answered, one warning in the log", async () => {
    const { env, home } = makeHome(modelConfig("tiny"));
    mkdirSync(prefixDir(home), { recursive: true });
    makeReadOnly(prefixDir(home));
    for (const words of [
      ["list", "files"],
      ["show", "disk", "usage"],
      ["count", "lines"],
    ]) {
      const result = await caro(words, { env });
      expect(result.exitCode).toBe(0);
      expect(result.stdout).not.toBe("");
    }
    const log = readFileSync(join(home, ".local", "state", "caro", "daemon.log"), "utf8");
    expect(log.match(/cannot save the prefix cache in .*prefix/g)).toHaveLength(1);
    expect(readdirSync(prefixDir(home))).toEqual([]);
  });

  it("is this user's alone (folder 0700, files 0600), and partial files of dead or old saves are cleaned", async () => {
    const { env, home } = makeHome(modelConfig("tiny"));
    const dir = prefixDir(home);
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    execFileSync("chmod", ["0755", dir]);
    const deadPid = 2 ** 22 + 1; // above pid_max's default: no process has it
    const dead = join(dir, `0123.state.${deadPid}.partial`);
    const old = join(dir, `4567.state.1.partial`);
    const live = join(dir, `89ab.state.${process.pid}.partial`);
    for (const file of [dead, old, live]) writeFileSync(file, "half a state");
    utimesSync(old, new Date(Date.now() - 3 * 3600_000), new Date(Date.now() - 3 * 3600_000));
    expect((await caro(["list", "files"], { env })).exitCode).toBe(0);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const states = readdirSync(dir).filter((f) => f.endsWith(".state"));
    expect(states).toHaveLength(1);
    expect(statSync(join(dir, states[0]!)).mode & 0o777).toBe(0o600);
    expect(existsSync(dead)).toBe(false);
    expect(existsSync(old)).toBe(false);
    // A save in progress in a live process is left alone.
    expect(existsSync(live)).toBe(true);
  });
});

describe("the model file changes under a running daemon", () => {
  it("a file replaced in place is loaded again, and its prefix state is its own", async () => {
    const { env, home } = makeHome();
    writeFileSync(join(home, ".config", "caro", "config.toml"), ownModelConfig(home));
    copyFileSync(testModelPath("tiny"), modelAt(home));
    const first = await caro(["list", "files"], { env });
    expect(first.exitCode).toBe(0);
    const pid = daemonPid(home);

    // Renamed over (a new inode): the unparsable model's nonsense never parses as shell.
    replaceByRename(testModelPath("unparsable"), modelAt(home));
    const swapped = await caro(["--verbose", "list", "files"], { env });
    expect(swapped.stderr).toMatch(/model loaded in \d+ ms/);
    expect(swapped.exitCode).toBe(1);
    expect(swapped.stderr).toMatch(/no usable command in 2 tries/);

    // Copied over (the same inode, the same size, a new mtime): the tiny model again.
    copyFileSync(testModelPath("tiny"), modelAt(home));
    const back = await caro(["--verbose", "list", "files"], { env });
    expect(back.stderr).toMatch(/model loaded in \d+ ms/);
    expect(back.exitCode).toBe(0);
    expect(back.stdout).toBe(first.stdout);
    expect(daemonPid(home)).toBe(pid);
    // One prefix state per file that was there, none shared.
    expect(readdirSync(prefixDir(home)).filter((f) => f.endsWith(".state"))).toHaveLength(3);

    // A fresh process finds the unparsable model's own state, not the tiny one's.
    replaceByRename(testModelPath("unparsable"), modelAt(home));
    const fresh = await caro(["--no-daemon", "list", "files"], { env });
    expect(fresh.exitCode).toBe(1);
    expect(fresh.stderr).toMatch(/no usable command in 2 tries/);
  });

  it("a deleted model file: one line saying it is gone, with its path and the fix; the daemon lives on", async () => {
    const { env, home } = makeHome();
    writeFileSync(join(home, ".config", "caro", "config.toml"), `backend = "embedded"\n${ownModelConfig(home)}`);
    copyFileSync(testModelPath("tiny"), modelAt(home));
    expect((await caro(["list", "files"], { env })).exitCode).toBe(0);
    const pid = daemonPid(home);
    rmSync(modelAt(home));
    const gone = await caro(["show", "disk", "usage"], { env });
    expect(gone.exitCode).toBe(1);
    expect(gone.stdout).toBe("");
    expect(String(gone.stderr).split("\n")).toHaveLength(1);
    expect(gone.stderr).toMatch(
      new RegExp(
        `^caro: the model file ${modelAt(home).replace(/[.]/g, "\\.")} is gone .*: put it back, or set --model`,
      ),
    );
    expect(gone.stderr).not.toMatch(/ENOENT|stat/);
    copyFileSync(testModelPath("tiny"), modelAt(home));
    expect((await caro(["show", "disk", "usage"], { env })).exitCode).toBe(0);
    expect(daemonPid(home)).toBe(pid);
  });
});

describe("a request longer than the context", () => {
  it("is refused with its size, the room there is and the fix, exit 2", async () => {
    const { env, home } = makeHome(modelConfig("tiny"));
    const long = Array.from({ length: 1200 }, (_, i) => `file${i}`).join(" ");
    const result = await caro(["list", long], { env });
    expect(result.exitCode).toBe(2);
    expect(result.stdout).toBe("");
    const tooLong = new RegExp(
      String.raw`^caro: the request is too long: (\d+) tokens, and the context has room for (\d+) ` +
        String.raw`\(context_size 2048, .*\): shorten it, or raise \[backends\.embedded\] context_size$`,
    );
    const match = tooLong.exec(String(result.stderr));
    expect(match, String(result.stderr)).not.toBeNull();
    expect(Number(match![1])).toBeGreaterThan(Number(match![2]));
    // The same request fits a larger context.
    writeFileSync(join(home, ".config", "caro", "config.toml"), modelConfig("tiny", "context_size = 16384\n"));
    expect((await caro(["list", long], { env })).exitCode).toBe(0);
  });
});

describe("frames the other side would refuse", () => {
  it("a message too large to send becomes an error saying so; the daemon serves the next request", async () => {
    // Answers are held to max_command_length long before a frame's limit; a config warning is not:
    // an unknown key of 1.2 MB would be a warning event over the limit.
    const ollama = await ollamaStandin({ commands: { small: "pwd" } });
    standins.push(ollama);
    const config = ollamaConfig(ollama.url);
    const { env, home, pid, configPath } = await startedDaemon(config);
    writeFileSync(configPath, `"${"k".repeat(1_200_000)}" = 1\n${config}`);
    const result = await caro(["huge"], { env });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/too large to send: \d+ bytes, over the 1048576-byte limit/);
    writeFileSync(configPath, config);
    expect((await caro(["small"], { env })).stdout).toBe("pwd");
    expect(daemonPid(home)).toBe(pid);
  });
});

describe("the answer cache", () => {
  it("is bounded by bytes: large answers push the oldest out", async () => {
    const { AnswerCache } = await import("../src/daemon/answer-cache.js");
    const cache = new AnswerCache(256, 64 * 1024);
    const answer = (n: number) => ({ command: `echo ${"a".repeat(10_000)} ${n}`, explanation: "" }) as never;
    for (let n = 0; n < 10; n++) cache.set(`r${n}`, answer(n));
    // Ten answers of about 20 KB each in 64 KB: the newest few stay, the oldest went.
    expect(cache.get("r9")).toBeDefined();
    expect(cache.get("r0")).toBeUndefined();
    // One larger than the whole budget is not kept at all, and pushes nothing out.
    cache.set("big", { command: "x".repeat(40_000), explanation: "" } as never);
    expect(cache.get("big")).toBeUndefined();
    expect(cache.get("r9")).toBeDefined();
  });
});
