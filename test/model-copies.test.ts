// One copy of a model however often the config changes, and several models side by side within a
// memory budget: driven through the real daemon and observed as a user would, by its status
// (copies live, loads since it started, memory admitted), its resident memory and its answers.

import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { caro, makeHome, modelConfig, ollamaConfig, sleep } from "./helpers/caro.js";
import { daemonPid } from "./helpers/daemon-client.js";
import { testModelPath } from "./helpers/models.js";
import { ollamaStandin, type Standin } from "./helpers/standins.js";

const standins: Standin[] = [];
afterEach(async () => {
  await Promise.all(standins.splice(0).map((s) => s.close()));
});

interface Status {
  requests_active: number;
  models_loaded: number;
  model_loads: number;
  models_memory_mb: number;
}

async function status(env: Record<string, string>): Promise<Status> {
  return JSON.parse(String((await caro(["daemon", "status", "--json"], { env })).stdout));
}

/** The status once `done` holds (a replaced copy closes a moment after its last request), or the last seen. */
async function statusOnce(env: Record<string, string>, done: (s: Status) => boolean): Promise<Status> {
  const deadline = Date.now() + 10_000;
  let seen = await status(env);
  while (!done(seen) && Date.now() < deadline) {
    await sleep(100);
    seen = await status(env);
  }
  return seen;
}

function residentMb(pid: number): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]) / 1000;
}

describe("one copy of a model however the config changes", () => {
  it("threads and prefix_cache edits reuse the loaded copy; a context_size edit replaces it", async () => {
    const { env, configPath } = makeHome(modelConfig("tiny"));
    const ask = async (request: string) => {
      const result = await caro(["--verbose", request], { env });
      expect(result.exitCode, String(result.stderr)).toBe(0);
      return String(result.stderr);
    };
    expect(await ask("list the files")).toMatch(/model loaded in \d+ ms[\s\S]*reading the prompt on 1 thread/);
    writeFileSync(configPath, modelConfig("tiny").replace("threads = 1", "threads = 2"));
    // The new count is used at once, by the copy already loaded.
    expect(await ask("show the disk usage")).toMatch(/model already loaded[\s\S]*reading the prompt on 2 threads/);
    writeFileSync(configPath, modelConfig("tiny", "prefix_cache = false\n"));
    expect(await ask("count the lines")).toMatch(/model already loaded[\s\S]*prefix cache off/);
    expect(await status(env)).toMatchObject({ models_loaded: 1, model_loads: 1 });

    writeFileSync(configPath, modelConfig("tiny", "context_size = 4096\n"));
    expect(await ask("find big files")).toMatch(/model loaded in \d+ ms/);
    // The copy it replaced was idle: closed at once, not at the idle timer.
    expect(await statusOnce(env, (s) => s.models_loaded === 1)).toMatchObject({ models_loaded: 1, model_loads: 2 });
  }, 120_000);

  it("a request in flight when its backend is replaced finishes on it; the old one then closes", async () => {
    const slow = await ollamaStandin({ chunkBytes: 4, chunkDelayMs: 60, commands: { x: "echo from-a" } });
    const fast = await ollamaStandin({ commands: { x: "echo from-b" } });
    standins.push(slow, fast);
    const { env, configPath } = makeHome(ollamaConfig(slow.url));
    const first = caro(["x"], { env });
    const deadline = Date.now() + 20_000;
    while (slow.chats.length === 0 && Date.now() < deadline) await sleep(20);
    writeFileSync(configPath, ollamaConfig(fast.url));
    expect((await caro(["x"], { env })).stdout).toBe("echo from-b");
    expect((await status(env)).models_loaded).toBe(2);
    const answered = await first;
    expect(answered.stdout).toBe("echo from-a");
    expect(slow.aborted).toBe(0);
    expect((await statusOnce(env, (s) => s.models_loaded === 1)).models_loaded).toBe(1);
  });

  it("context_size edited three times leaves one copy: RSS within 10 % of after one edit", async () => {
    // 269 MB of weights: a copy left behind would show plainly in the RSS.
    const model = testModelPath("slow");
    const config = (contextSize: number) =>
      `[backends.embedded]\nmodel = "${model}"\nthreads = 2\ncontext_size = ${contextSize}\n`;
    const { env, configPath } = makeHome(config(2048));
    // A request too long for the context fails right after the load, before any prefill: the
    // load is all this test needs. Its message names the context of the copy that read it.
    const tooLong = "list the files ".repeat(1200);
    const load = async (contextSize: number) => {
      writeFileSync(configPath, config(contextSize));
      const result = await caro([tooLong], { env });
      expect(result.exitCode, String(result.stderr)).toBe(2);
      expect(result.stderr).toContain(`(context_size ${contextSize},`);
    };
    await load(2048);
    await load(3072);
    const pid = daemonPid(env.HOME);
    const afterOne = residentMb(pid);
    await load(2560);
    await load(3072);
    const afterThree = residentMb(pid);
    expect(await statusOnce(env, (s) => s.models_loaded === 1)).toMatchObject({ models_loaded: 1, model_loads: 4 });
    // Four copies would be over twice one; the same context size again must cost the same.
    expect(afterOne).toBeGreaterThan(300);
    expect(Math.abs(afterThree - afterOne) / afterOne).toBeLessThan(0.1);
  }, 300_000);
});

describe("several models within the memory budget", () => {
  /**
   * Shells asking one daemon, each with a config file of its own naming its model (a tiny model's
   * copy takes about 7 MB with context_size 2048, 14 MB with 4096; the slow one's 300 MB).
   */
  function shells(daemonEnv: Record<string, string> = {}) {
    const { env, home } = makeHome();
    // Another model: the tiny one under another name is another file to load.
    const other = join(home, "other.gguf");
    copyFileSync(testModelPath("tiny"), other);
    return (name: string, budget: string, model: "tiny" | "other" | "slow", extra = "") => {
      const path = join(home, `${name}.toml`);
      const file = model === "other" ? other : testModelPath(model);
      writeFileSync(
        path,
        `[daemon]\nmemory_budget_mb = ${budget}\n[backends.embedded]\nmodel = "${file}"\nthreads = 1\n${extra}`,
      );
      return { ...env, ...daemonEnv, CARO_CONFIG: path };
    };
  }
  // Each request its own words: the daemon would answer a repeated one from its answer cache.
  let asked = 0;
  const loads = async (env: Record<string, string>) => {
    const result = await caro(["--verbose", `list the files changed ${++asked} days ago`], { env });
    const stderr = String(result.stderr);
    expect(result.exitCode, stderr).toBe(0);
    if (/model already loaded/.test(stderr)) return false;
    expect(stderr).toMatch(/model loaded in \d+ ms/);
    return true;
  };

  it("serves two models within the budget side by side; the least recently used makes room for a third", async () => {
    const shell = shells();
    const a = shell("a", "25", "tiny");
    const b = shell("b", "25", "other");
    const c = shell("c", "25", "tiny", "context_size = 4096\n");
    expect([await loads(a), await loads(b), await loads(a), await loads(b)]).toEqual([true, true, false, false]);
    const both = await status(a);
    expect(both).toMatchObject({ models_loaded: 2, model_loads: 2 });
    expect(both.models_memory_mb).toBeLessThanOrEqual(25);
    // 7 + 7 + 14 MB is over 25: the copy used longest ago (a's) goes, b's stays.
    expect(await loads(c)).toBe(true);
    expect(await statusOnce(a, (s) => s.models_loaded === 2)).toMatchObject({ models_loaded: 2, model_loads: 3 });
    expect([await loads(b), await loads(a)]).toEqual([false, true]);
  }, 120_000);

  it("Ctrl-C while a model waits for room stops at once, not when the copy it waits on is free", async () => {
    const shell = shells();
    const slow = shell("slow", "1000", "slow");
    // A long request, waited on from the moment its reading starts: seconds of work left on the slow
    // copy (reading, then decoding) for the steps below, on a machine as busy as CI's.
    const request = `list every file ${"in every folder below this one, ".repeat(80)}`;
    const answering = caro(["--verbose", request], { env: slow });
    let reading = false;
    answering.stderr?.on("data", (chunk: Buffer) => {
      reading ||= chunk.toString().includes("reading the prompt");
    });
    const deadline = Date.now() + 60_000;
    while (!reading && answering.exitCode === null && Date.now() < deadline) await sleep(20);
    expect(reading).toBe(true);
    // Room for the slow model's copy and not for a tiny one beside it: the tiny one waits for the
    // slow one's request to end.
    const budget = String(Math.ceil((await status(slow)).models_memory_mb) + 3);
    const tiny = shell("tiny", budget, "tiny");
    const waiting = caro(["list the files"], { env: tiny });
    const daemonLog = join(tiny.XDG_STATE_HOME, "caro", "daemon.log");
    const logSays = () => readFileSync(daemonLog, "utf8").includes("to make room for");
    while (!logSays() && waiting.exitCode === null && Date.now() < deadline) await sleep(20);
    expect(answering.exitCode, "the slow answer ended before the test could wait on it").toBeNull();
    waiting.kill("SIGINT");
    expect((await waiting).exitCode).toBe(130);
    // The client gives up waiting for the daemon after a grace time: the daemon's own count tells.
    const after = await statusOnce(tiny, (s) => s.requests_active === 1);
    expect(answering.exitCode, "the slow answer ended before the cancel could be told apart").toBeNull();
    expect(after.requests_active, "the cancelled request waited for the other model's").toBe(1);
    answering.kill("SIGINT");
    await answering;
  }, 120_000);

  it("a model that cannot fit at all: one line with the numbers, and the loaded one keeps serving", async () => {
    // A machine with 100 MB available (a file of the test's own in place of /proc/meminfo).
    const meminfo = join(makeHome().home, "meminfo");
    writeFileSync(meminfo, "MemTotal:       16000000 kB\nMemFree:          50000 kB\nMemAvailable:     97656 kB\n");
    const shell = shells({ CARO_MEMINFO: meminfo });
    const small = shell("small", "40", "tiny");
    expect(await loads(small)).toBe(true);
    // The shell's own config edited to a model too big: refused, and its old copy not let go.
    const refused = await caro(["list files"], { env: shell("small", "40", "slow") });
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toMatch(
      new RegExp(
        String.raw`^caro: slow-\w+\.gguf needs about \d+ MB of memory \(context_size 2048\), more than the memory ` +
          String.raw`budget of 40 MB \(\[daemon\] memory_budget_mb = 40\): raise it, or choose a smaller model or ` +
          "context_size$",
      ),
    );
    // auto: what the machine has available, caro's own loaded model included (100 + 7 MB).
    const auto = await caro(["list files"], { env: shell("auto", '"auto"', "slow") });
    expect(auto.exitCode).toBe(1);
    expect(auto.stderr).toMatch(
      new RegExp(
        String.raw`^caro: slow-\w+\.gguf needs about \d+ MB of memory \(context_size 2048\), and this machine has ` +
          String.raw`10\d MB available, caro's other models included: free some memory, or choose a smaller model ` +
          "or context_size$",
      ),
    );
    expect(await loads(shell("small", "40", "tiny"))).toBe(false);
  }, 120_000);
});
