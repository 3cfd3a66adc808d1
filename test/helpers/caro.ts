import { mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa, type Options, type ResultPromise } from "execa";
import { ROOT, testModelPath, type TestModel } from "./models.js";

export const CARO_BIN = join(ROOT, "bin", "caro.js");

/** Homes made during the current test; their daemons are stopped after it. */
export const homesInUse: string[] = [];

/**
 * A fresh home for one test: its own config, cache and state folders, nothing from the developer's.
 * Its daemons are stopped and its files removed after the test, unless `shared`: a home that several
 * tests use is its file's to stop (stopDaemons([home])).
 */
export function makeHome(
  config?: string,
  { shared = false } = {},
): { home: string; configPath: string; env: Record<string, string> } {
  const home = mkdtempSync(join(tmpdir(), "caro-test-"));
  if (!shared) homesInUse.push(home);
  const configPath = join(home, ".config", "caro", "config.toml");
  mkdirSync(join(home, ".config", "caro"), { recursive: true });
  // A fish that finds no generated completions in a new home starts generating them from every
  // manual page on the machine, in a background job that outlives the test: 15 s of CPU each.
  mkdirSync(join(home, ".local", "share", "fish", "generated_completions"), { recursive: true });
  if (config !== undefined) writeFileSync(configPath, config);
  const env: Record<string, string> = {
    HOME: home,
    XDG_CONFIG_HOME: join(home, ".config"),
    XDG_CACHE_HOME: join(home, ".cache"),
    XDG_STATE_HOME: join(home, ".local", "state"),
    XDG_RUNTIME_DIR: join(home, "run"),
    SHELL: "/bin/bash",
    PATH: process.env.PATH ?? "/usr/bin:/bin",
  };
  return { home, configPath, env };
}

/** A config that points at a generated model; one thread, because tiny models decode fastest so here. */
export function modelConfig(model: TestModel, extra = ""): string {
  return `[backends.embedded]\nmodel = "${testModelPath(model)}"\nthreads = 1\n${extra}`;
}

/** Runs the real CLI as a user would, never inheriting the developer's environment. */
export function caro(
  args: string[],
  options: { env?: Record<string, string>; input?: string } & Options = {},
): ResultPromise {
  const { env, ...rest } = options;
  return execa(process.execPath, [CARO_BIN, ...args], {
    env: env ?? makeHome().env,
    extendEnv: false,
    reject: false,
    stdin: options.input === undefined ? "ignore" : undefined,
    ...rest,
  } as Options) as ResultPromise;
}

/** caro processes whose command line has `args` and whose runtime folder is in one of the homes. */
export function caroProcessesOf(homes: string[], args: string): number[] {
  if (homes.length === 0) return [];
  const found: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (!readFileSync(`/proc/${name}/cmdline`, "utf8").includes(args)) continue;
      const env = readFileSync(`/proc/${name}/environ`, "utf8").split("\0");
      if (homes.some((home) => env.includes(`XDG_RUNTIME_DIR=${join(home, "run")}`))) found.push(Number(name));
    } catch {
      // Gone meanwhile, or not ours.
    }
  }
  return found;
}

/** Stops every daemon started from the homes (by default, this test's), so none outlives it. */
export async function stopDaemons(homes = homesInUse.splice(0)): Promise<void> {
  const pids: number[] = [];
  // A shell that loaded caro init starts a daemon in the background, maybe after the pid file was
  // read: end such starts (first, so they start nothing more), then every daemon of these homes.
  // Twice: a start forked by a shell is named caro's only once it has exec'd, a moment later.
  const endStarts = () => {
    for (const stage of ["start\0--background", "daemon\0run"])
      for (const pid of caroProcessesOf(homes, stage)) {
        process.kill(pid, stage === "daemon\0run" ? "SIGTERM" : "SIGKILL");
        if (stage === "daemon\0run") pids.push(pid);
      }
  };
  endStarts();
  await new Promise((resolve) => setTimeout(resolve, homes.length > 0 ? 100 : 0));
  endStarts();
  for (const home of homes) {
    try {
      const pid = Number(readFileSync(join(home, "run", "caro", "daemon.pid"), "utf8").trim());
      process.kill(pid, "SIGTERM");
      pids.push(pid);
    } catch {
      // No daemon ran there, or it is gone already.
    }
  }
  // A daemon is detached, so init reaps it, sometimes seconds later: a zombie counts as gone.
  const alive = (pid: number) => {
    try {
      return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
    } catch {
      return false;
    }
  };
  const deadline = Date.now() + 5000;
  while (pids.some(alive) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  for (const pid of pids.filter(alive)) process.kill(pid, "SIGKILL");
  // A test's files go with it: thousands of homes left in /tmp slow every readdir of it, such as the
  // session client's sweep of folders that dead shells left there.
  for (const home of homes) rmSync(home, { recursive: true, force: true, maxRetries: 2 });
}

/** A config that sends every request to an Ollama server (a stand-in) at `url`; `extra` lines follow. */
export const ollamaConfig = (url: string, extra = "") =>
  `backend = "ollama"\n[backends.ollama]\nhost = "${url}"\n${extra}`;

export const vllmConfig = (url: string, extra = "") => `backend = "vllm"\n[backends.vllm]\nurl = "${url}"\n${extra}`;

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Waits until process `pid` holds a socket: a caro client that has reached the daemon's (connected,
 * waiting for its hello). A signal sent earlier may find Node still starting, where its own handler
 * (it catches SIGINT and SIGTERM from the first instant, to restore the terminal) ends the process
 * by the signal instead of caro's exit 130. Linux only: /proc.
 */
export async function waitForSocket(pid: number, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      // 0-2 may be sockets too: a child's stdio pipes are socket pairs.
      for (const fd of readdirSync(`/proc/${pid}/fd`)) {
        if (Number(fd) > 2 && readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith("socket:")) return;
      }
    } catch {
      // Not there yet, or an fd closed as it was read: look again.
    }
    await sleep(20);
  }
  throw new Error(`process ${pid} held no socket within ${timeoutMs} ms`);
}
