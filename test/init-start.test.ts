// A new shell that loads caro init starts the daemon in the background, and the daemon loads the
// model and readies the prompt before the first Ctrl-G: silently, without holding up the prompt,
// and not at all under --no-start or [daemon] start_on_init = false.

import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { createServer, type Socket } from "node:net";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CARO_BIN, caro, caroProcessesOf, makeHome, modelConfig } from "./helpers/caro.js";
import { ShellUnderTest, type WidgetShell } from "./helpers/shells.js";

const SHELLS: WidgetShell[] = ["zsh", "bash", "fish"];

async function until(what: string, check: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const daemonLog = (home: string) => {
  try {
    return readFileSync(join(home, ".local", "state", "caro", "daemon.log"), "utf8");
  } catch {
    return "";
  }
};

/** Loads caro init in a plain interactive shell, which then exits. */
function loadInit(shell: WidgetShell, env: Record<string, string>, flags: string[] = []): string {
  const init = [process.execPath, CARO_BIN, "init", shell, ...flags].join(" ");
  const args: Record<WidgetShell, string[]> = {
    zsh: ["-f", "-i", "-c", `eval "$(${init})"; print -r ok`],
    bash: ["--norc", "--noprofile", "-i", "-c", `eval "$(${init})"; echo ok`],
    fish: ["--no-config", "-c", `${init} | source; echo ok`],
  };
  return execFileSync(shell, args[shell], { encoding: "utf8", env, stdio: ["ignore", "pipe", "pipe"] });
}

describe.each(SHELLS)("caro init in %s", (shell) => {
  it("starts the daemon as the shell starts, printing nothing; the first request finds the model loaded", async () => {
    const made = makeHome(modelConfig("tiny"));
    const sh = new ShellUnderTest(shell, "", made, { realInit: true });
    try {
      await sh.ready();
      await until("the daemon warming the model", () => /warmed .* for /.test(daemonLog(made.home)));
      expect(existsSync(join(made.home, "run", "caro", "daemon.sock"))).toBe(true);
      // A job notice would show by the next prompt at the latest.
      sh.session.sendKeys("Enter");
      await sh.session.waitFor((s) => s.split("\n").filter((l) => /^\$\s*$/.test(l)).length >= 2);
      const lines = (await sh.session.settledScreen())
        .split("\n")
        .map((l) => l.trimEnd())
        .filter(Boolean);
      // The shell's own first prompt, where setup was typed; then only caro's test prompts.
      expect(lines[0]).toMatch(/[#$] source \S+\/setup$/);
      for (const line of lines.slice(1)) expect(line).toBe("$");
      const asked = await caro(["--verbose", "--shell", shell, "list the files here"], { env: made.env });
      expect(asked.exitCode, asked.stderr).toBe(0);
      expect(asked.stderr).toMatch(/model already loaded/);
      expect(asked.stderr).toMatch(/fixed prompt from memory/);
    } finally {
      sh.session.kill();
    }
  });

  it("starts no daemon with --no-start, nor with [daemon] start_on_init = false; one without either", async () => {
    // First without either: how long a start takes to show here bounds the wait for one below.
    const plain = makeHome(modelConfig("tiny"));
    const began = Date.now();
    expect(loadInit(shell, plain.env)).toBe("ok\n");
    await until("the socket", () => existsSync(join(plain.home, "run", "caro", "daemon.sock")));
    const startTook = Date.now() - began;
    const cases = [
      { config: modelConfig("tiny"), flags: ["--no-start"] },
      { config: modelConfig("tiny", "[daemon]\nstart_on_init = false\n"), flags: [] },
    ];
    for (const { config, flags } of cases) {
      const made = makeHome(config);
      expect(loadInit(shell, made.env, flags)).toBe("ok\n");
      const startedSomething = () =>
        existsSync(join(made.home, "run", "caro", "daemon.sock")) ||
        caroProcessesOf([made.home], "start\0--background").length > 0 ||
        caroProcessesOf([made.home], "daemon\0run").length > 0;
      const deadline = Date.now() + 2 * startTook;
      while (Date.now() < deadline && !startedSomething()) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(startedSomething(), `${flags.join(" ")} ${config}`).toBe(false);
    }
  });
});

it("a shell's prompt does not wait for the daemon: it works while a silent daemon holds the start", async () => {
  const made = makeHome(modelConfig("tiny"));
  mkdirSync(join(made.home, "run", "caro"), { recursive: true, mode: 0o700 });
  chmodSync(join(made.home, "run"), 0o700);
  // A daemon that takes the start's hello and never answers: the start waits (3 s, then gives up).
  const greeted: Socket[] = [];
  const silent = createServer((socket) => socket.once("data", () => greeted.push(socket)));
  await new Promise<void>((resolve) => silent.listen(join(made.home, "run", "caro", "daemon.sock"), resolve));
  const sh = new ShellUnderTest("zsh", "", made, { realInit: true });
  try {
    sh.session.type(`source ${sh.dir}/setup`);
    sh.session.sendKeys("Enter");
    await until("the background start's hello", () => greeted.length > 0);
    sh.session.type("echo prompt-works");
    sh.session.sendKeys("Enter");
    await sh.session.waitFor((s) => /^prompt-works$/m.test(s));
    expect(greeted[0].destroyed || greeted[0].readableEnded, "the start was still waiting").toBe(false);
  } finally {
    sh.session.kill();
    for (const socket of greeted) socket.destroy();
    silent.close();
  }
});
