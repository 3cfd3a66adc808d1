// TAB completion: the generator, from the command definitions (fast, in process), then TAB pressed in
// real zsh, bash and fish under tmux, one shell session each going through every kind in turn.

import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { COMMANDS, generateArgs } from "../src/cli/commands.js";
import { completionScopes, completionScript } from "../src/cli/completions.js";
import { BACKENDS, SAFETY_LEVELS } from "../src/config/schema.js";
import { CATALOG } from "../src/models/catalog.js";
import { SHELLS } from "../src/prompt/context.js";
import { caro } from "./helpers/caro.js";
import { ShellUnderTest, type WidgetShell } from "./helpers/shells.js";

const SHELL_NAMES: WidgetShell[] = ["zsh", "bash", "fish"];

describe("the completion generator", () => {
  it("offers every command, every option and the values of the parser's own lists", () => {
    const scopes = new Map(completionScopes().map((scope) => [scope.name, scope]));
    const top = scopes.get("");
    expect(top?.first).toEqual(Object.keys(COMMANDS).map((word) => expect.objectContaining({ word })));
    const flagsOf = (name: string) => scopes.get(name)?.options.flatMap((o) => o.flags) ?? [];
    const values = (name: string, flag: string) => scopes.get(name)?.options.find((o) => o.flags.includes(flag))?.value;
    // Each definition's options, as the parser reads them, are what completes: none left out, none made up.
    for (const [name, args] of [
      ["", generateArgs],
      ...Object.entries(COMMANDS).map(([n, c]) => [n, c.args]),
    ] as const) {
      const expected = Object.entries(args).flatMap(([option, def]) => {
        if (def.type === "positional") return [];
        const short = "alias" in def && def.alias ? [`-${def.alias}`] : [];
        const negated = def.type === "boolean" && "default" in def && def.default === true ? [`--no-${option}`] : [];
        return [...short, `--${option}`, ...negated];
      });
      expect(flagsOf(name).filter((f) => !["-h", "--help", "-V", "--version"].includes(f))).toEqual(expected);
    }
    const words = (list: readonly string[]) => list.map((word) => ({ word, description: "" }));
    expect(values("", "--backend")).toEqual(words(BACKENDS));
    expect(values("", "--safety")).toEqual(words(SAFETY_LEVELS));
    expect(values("", "--shell")).toEqual(words(SHELLS));
    expect(values("explain", "--backend")).toEqual(words(BACKENDS));
    expect(values("", "--model")).toBe("catalog-models");
    expect(scopes.get("models")?.second).toEqual({ pull: "catalog-models", rm: "downloaded-models" });
    expect(scopes.get("daemon")?.first).toEqual(
      ["status", "start", "stop", "restart"].map((word) => expect.objectContaining({ word })),
    );
    expect(scopes.get("init")?.first).toBe("widget-shells");
  });

  it.each(SHELL_NAMES)("writes %s code that lints clean and names every catalog model and backend", (shell) => {
    const script = completionScript(shell);
    for (const word of [...BACKENDS, ...SAFETY_LEVELS, ...CATALOG.map((m) => m.name), "--no-daemon", "restart"])
      expect(script).toContain(word);
    // Nothing in it runs caro: no Node, no daemon, when TAB is pressed.
    expect(script).not.toMatch(/\bcaro (models|daemon|list|--)|node|@CARO_/);
    const file = join(mkdtempSync(join(tmpdir(), "caro-completions-")), `caro.${shell}`);
    writeFileSync(file, script);
    if (shell === "bash") execFileSync("shellcheck", ["--shell=bash", "--severity=style", file]);
    else execFileSync(shell, [shell === "zsh" ? "-n" : "--no-execute", file]);
  });

  it("prints the script alone with caro completions, and refuses a shell it has none for", async () => {
    const result = await caro(["completions", "fish"]);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe(completionScript("fish").trimEnd());
    const wrong = await caro(["completions", "tcsh"]);
    expect(wrong.exitCode).toBe(2);
    expect(wrong.stderr).toBe('caro: unknown shell "tcsh": caro completions supports zsh, bash, fish');
  });
});

const running: ShellUnderTest[] = [];
afterEach(() => {
  for (const sh of running.splice(0)) sh.kill();
});

// compinit after caro init (the usual order in a .zshrc, so caro's registers at the first prompt),
// and each shell's strict options; a `caro` on PATH that leaves a mark if anything runs it.
const PRELUDE: Record<WidgetShell, (bin: string) => string> = {
  zsh: (bin) => `PATH=${bin}:$PATH\nsetopt err_exit no_unset pipe_fail ksh_arrays sh_word_split glob_subst`,
  bash: (bin) =>
    `PATH=${bin}:$PATH\nalias printf=false local=false return=false\nset -euo pipefail\n` +
    "shopt -s failglob nocasematch extglob",
  fish: (bin) => `set -gx PATH ${bin} $PATH\nalias printf=false\nalias count=false`,
};

describe.each(SHELL_NAMES)("TAB in %s", (shell) => {
  it("completes commands, options, their values, catalog and downloaded models, and daemon's actions", async () => {
    const bin = mkdtempSync(join(tmpdir(), "caro-bin-"));
    const ran = join(bin, "ran");
    writeFileSync(join(bin, "caro"), `#!/bin/sh\ntouch '${ran}'\n`);
    chmodSync(join(bin, "caro"), 0o755);
    const sh = new ShellUnderTest(shell, "[daemon]\nstart_on_init = false\n", undefined, {
      prelude: PRELUDE[shell](bin),
    });
    running.push(sh);
    // Two downloaded: a catalog model (completed by its name) and a file of the user's own.
    const models = join(sh.home, ".cache", "caro", "models");
    mkdirSync(join(models, "someone", "repo"), { recursive: true });
    writeFileSync(join(models, "qwen2.5-coder-3b-instruct-q4_k_m.gguf"), "");
    writeFileSync(join(models, "someone", "repo", "mine.gguf"), "");
    writeFileSync(join(models, "half.gguf.part"), "");
    await sh.ready();
    if (shell === "zsh") {
      sh.session.type("autoload -Uz compinit && compinit -u");
      sh.session.sendKeys("Enter");
      await sh.waitForPrompt();
    }

    /** Types the line, presses TAB (bash lists on the second), and waits for the screen to show it. */
    const listed = async (line: string, expected: string[], absent: string[] = []) => {
      // C-u empties the line in each (C-c would end a bash under set -e), C-l clears the screen.
      sh.session.sendKeys("C-u");
      sh.session.sendKeys("C-l");
      await sh.waitForPrompt();
      sh.session.type(line);
      sh.session.sendKeys("Tab");
      if (shell === "bash") sh.session.sendKeys("Tab");
      const screen = await sh.session.waitFor((s) => expected.every((word) => s.includes(word)), 10_000);
      for (const word of absent) expect(screen).not.toContain(word);
    };
    /** Types the line, presses TAB once: the one match is written in. */
    const completed = async (line: string, expected: string) => {
      sh.session.sendKeys("C-u");
      sh.session.sendKeys("C-l");
      await sh.waitForPrompt();
      sh.session.type(line);
      sh.session.sendKeys("Tab");
      await sh.session.waitFor((s) => s.includes(expected), 10_000);
      expect((await sh.dump()).buffer.trimEnd()).toBe(expected);
    };

    await listed("caro ", ["completions", "daemon", "doctor", "explain", "models"]);
    await completed("caro mod", "caro models");
    await listed("caro check --", ["--json", "--shell", "--stdin"], ["--backend"]);
    await listed("caro --backend ", ["embedded", "ollama", "vllm"]);
    await completed("caro --safety perm", "caro --safety permissive");
    await completed("caro explain --shell fi", "caro explain --shell fish");
    await completed("caro init ba", "caro init bash");
    await listed("caro models ", ["list", "pull", "path"]);
    // Typed up to the names' common prefix (bash lists only on a TAB that adds nothing); fish elides it.
    await listed("caro models pull qwen2.5-coder-", ["5-coder-0.5b", "5-coder-7b"]);
    await listed("caro models rm ", ["qwen2.5-coder-3b", "someone/repo/mine.gguf"], ["qwen2.5-coder-7b", "half"]);
    await listed("caro daemon st", ["start", "status", "stop"]);
    expect(existsSync(ran)).toBe(false);
    expect(existsSync(join(sh.home, ".local", "state", "caro", "daemon.log"))).toBe(false);
  });
});
