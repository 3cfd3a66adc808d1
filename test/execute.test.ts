import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { caro, CARO_BIN, makeHome, ollamaConfig } from "./helpers/caro.js";
import { ollamaStandin, type Standin } from "./helpers/standins.js";
import { shellQuote, TmuxSession, waitForFile } from "./helpers/tmux.js";

// Known answers from the Ollama stand-in. The critical ones would be harmless even if run:
// mkfs.ext4 on a device that does not exist fails, and only then would `touch ran` leave a mark.
const COMMANDS = {
  "make a marker": "touch ran",
  "exit seven": "exit 7",
  "empty this folder": "rm -rf *",
  "delete notes": "rm notes.txt",
  "format the disk": "mkfs.ext4 /dev/sdzz9 2>/dev/null; touch ran",
};

let ollama: Standin;
const sessions: TmuxSession[] = [];
afterEach(async () => {
  await ollama?.close();
  for (const s of sessions.splice(0)) s.kill();
});

/** A home whose config points at the stand-in, and a project folder inside it to work in. */
async function setup(level?: string) {
  ollama = await ollamaStandin({ commands: COMMANDS });
  const { env, home } = makeHome(ollamaConfig(ollama.url, level ? `[safety]\nlevel = "${level}"\n` : ""));
  const project = join(home, "project");
  mkdirSync(project);
  writeFileSync(join(project, "notes.txt"), "keep me\n");
  return { env, home, project };
}

describe("caro -x", () => {
  it("runs a safe command in the user's shell and exits with its exit code", async () => {
    const { env, project } = await setup();
    const made = await caro(["-x", "make", "a", "marker"], { env, cwd: project });
    expect(made.exitCode).toBe(0);
    expect(existsSync(join(project, "ran"))).toBe(true);
    expect(made.stderr).toContain("caro: running: touch ran");
    const seven = await caro(["-x", "exit", "seven"], { env, cwd: project });
    expect(seven.exitCode).toBe(7);
  });

  it("refuses what needs a confirmation when there is no terminal", async () => {
    const { env, project } = await setup();
    const result = await caro(["-x", "empty", "this", "folder"], { env, cwd: project });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(
      new RegExp(
        `caro: not run: rated high, which needs your yes, and there is no terminal to ask on; run it ` +
          `yourself or pass --yes`,
      ),
    );
    expect(existsSync(join(project, "notes.txt"))).toBe(true);
  });

  it("runs it with --yes", async () => {
    const { env, project } = await setup();
    const result = await caro(["-x", "--yes", "empty", "this", "folder"], { env, cwd: project });
    expect(result.exitCode).toBe(0);
    expect(existsSync(join(project, "notes.txt"))).toBe(false);
  });

  it("never runs a blocked command, even with --yes", async () => {
    const { env, project } = await setup();
    const result = await caro(["-x", "--yes", "format", "the", "disk"], { env, cwd: project });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(
      /not run: the command is rated critical: formats \/dev\/sdzz9.*safety level moderate blocks it/,
    );
    expect(existsSync(join(project, "ran"))).toBe(false);
  });

  it("strict confirms moderate commands and blocks high ones", async () => {
    const { env, project } = await setup("strict");
    const moderate = await caro(["-x", "delete", "notes"], { env, cwd: project });
    expect(moderate.stderr).toMatch(/rated moderate, which needs your yes/);
    const high = await caro(["-x", "--yes", "empty", "this", "folder"], { env, cwd: project });
    expect(high.stderr).toMatch(/rated high.*safety level strict blocks it/);
    expect(existsSync(join(project, "notes.txt"))).toBe(true);
  });

  it("takes --safety for one run over the config's level, and refuses a level it does not know", async () => {
    const { env, project } = await setup();
    const high = await caro(["-x", "--yes", "--safety", "strict", "empty", "this", "folder"], { env, cwd: project });
    expect(high.stderr).toMatch(/rated high.*safety level strict blocks it/);
    expect(existsSync(join(project, "notes.txt"))).toBe(true);
    const wrong = await caro(["-x", "--safety", "lax", "empty", "this", "folder"], { env, cwd: project });
    expect(wrong.exitCode).toBe(2);
    expect(wrong.stderr).toBe(
      'caro: command line: safety.level must be one of strict, moderate, permissive (got "lax")',
    );
  });

  it("permissive warns on high and confirms critical", async () => {
    const { env, project } = await setup("permissive");
    const high = await caro(["-x", "delete", "notes"], { env, cwd: project });
    expect(high.exitCode).toBe(0);
    expect(high.stderr).toMatch(/caro: warning: rated moderate: deletes notes\.txt/);
    const critical = await caro(["-x", "format", "the", "disk"], { env, cwd: project });
    expect(critical.stderr).toMatch(/rated critical, which needs your yes/);
    const yes = await caro(["-x", "--yes", "format", "the", "disk"], { env, cwd: project });
    expect(yes.exitCode).toBe(0);
    expect(existsSync(join(project, "ran"))).toBe(true);
  });

  it("does not mix with --json", async () => {
    const { env, project } = await setup();
    const result = await caro(["-x", "--json", "make", "a", "marker"], { env, cwd: project });
    expect(result.exitCode).toBe(2);
    expect(existsSync(join(project, "ran"))).toBe(false);
  });

  describe("on a real terminal", () => {
    async function ask(answer: string[]) {
      const { env, project, home } = await setup();
      const exitFile = join(home, "exit-code");
      const session = new TmuxSession(
        `bash -c ${shellQuote(
          `cd ${shellQuote(project)} && ${shellQuote(process.execPath)} ${shellQuote(CARO_BIN)} ` +
            `-x empty this folder; echo $? > ${shellQuote(exitFile)}`,
        )}`,
        env,
      );
      sessions.push(session);
      const screen = await session.waitFor((s) => s.includes("[y/N]"));
      expect(screen).toContain("rated high: deletes everything in the current folder, recursively");
      session.sendKeys(...answer);
      return { code: Number((await waitForFile(exitFile)).trim()), project, session };
    }

    it("asks y/N and runs on y", async () => {
      const { code, project } = await ask(["y", "Enter"]);
      expect(code).toBe(0);
      expect(existsSync(join(project, "notes.txt"))).toBe(false);
    });

    it("does not run on n", async () => {
      const { code, project, session } = await ask(["n", "Enter"]);
      expect(code).toBe(1);
      expect(existsSync(join(project, "notes.txt"))).toBe(true);
      expect(await session.settledScreen()).toContain("caro: not run: you said no");
    });

    it("exits 130 on Ctrl-C at the question, running nothing", async () => {
      const { code, project } = await ask(["C-c"]);
      expect(code).toBe(130);
      expect(existsSync(join(project, "notes.txt"))).toBe(true);
    });

    it("takes a bare Enter as no", async () => {
      const { code, project } = await ask(["Enter"]);
      expect(code).toBe(1);
      expect(existsSync(join(project, "notes.txt"))).toBe(true);
    });
  });
});
