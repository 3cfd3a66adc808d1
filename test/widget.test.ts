import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { CARO_BIN, caro, makeHome, ollamaConfig, sleep } from "./helpers/caro.js";
import { ShellUnderTest, sharedShell, waitForFinished, type WidgetShell } from "./helpers/shells.js";
import { ollamaStandin, requestText, type Standin, type StandinOptions } from "./helpers/standins.js";

const running: { kill(): void }[] = [];
const standins: Standin[] = [];
afterEach(async () => {
  for (const r of running.splice(0)) r.kill();
  await Promise.all(standins.splice(0).map((s) => s.close()));
});

const singleQuote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;

// Answers the stand-in gives: fixed ones by request, else a printf of the request's exact bytes,
// so what reaches the buffer shows that every byte made the whole trip.
const KNOWN: Record<string, string> = {
  "list files": "ls -la",
  "wipe the disk": "sudo rm -rf /",
  "empty this folder": "rm -rf *",
  "loop over text files": 'for f in *.txt; do\n  echo "$f"\ndone',
  "find big files": "find . -type f -size +100M -mtime -7",
  "find the big files": "find . -type f -size +100M -mtime -7",
};

// The same loop in fish's own syntax: caro checks fish answers with fish.
const FISH_LOOP = "for f in *.txt\n  echo $f\nend";

function reply(request: Parameters<NonNullable<StandinOptions["reply"]>>[0]): string {
  const text = requestText(request);
  const fish = request.messages[0].content.includes("works in fish");
  const known = fish && text === "loop over text files" ? FISH_LOOP : KNOWN[text];
  return JSON.stringify({ command: known ?? `printf '%s\\n' ${singleQuote(text)}` });
}

async function shellWith(
  shell: WidgetShell,
  options: StandinOptions = {},
  home?: { home: string; env: Record<string, string> },
  command?: string,
  prelude?: string,
) {
  const ollama = await ollamaStandin({ reply, ...options });
  standins.push(ollama);
  const config = `backend = "ollama"\nmax_command_length = 4000\n[backends.ollama]\nhost = "${ollama.url}"\n`;
  if (home) writeFileSync(join(home.home, ".config", "caro", "config.toml"), config);
  const sh = new ShellUnderTest(shell, config, home, { command, prelude });
  running.push(sh);
  await sh.ready();
  return { sh, ollama };
}

// A user's rc file at its most hostile: aliases over the commands the widget uses, and the strict options.
// zsh and bash expand aliases as they read `caro init`'s code; in fish an alias is a function.
const HOSTILE: Record<WidgetShell, string> = {
  zsh:
    "alias print=false zle=false bindkey=false emulate=false typeset=false local=false return=false\n" +
    "setopt err_exit no_unset pipe_fail ksh_arrays sh_word_split glob_subst",
  bash:
    "alias printf=false history=false bind=false local=false return=false\nset -euo pipefail\n" +
    "shopt -s failglob nocasematch extglob",
  fish: ["printf", "history", "count", "mkdir", "date"].map((name) => `alias ${name}=false`).join("\n"),
};
// fish's own Up key (up-or-search) calls commandline, so only the test that presses no Up shadows it.
const HOSTILER: Record<WidgetShell, string> = { ...HOSTILE, fish: `${HOSTILE.fish}\nalias commandline=false` };

// A C locale: caro must not draw an ellipsis the terminal cannot show.
const C_LOCALE: Record<WidgetShell, string> = { zsh: "export LANG=C", bash: "export LANG=C", fish: "set -gx LANG C" };

/**
 * Ctrl-G on "list files", then Enter: Up recalls the command it became, and Up again the request.
 * With `cursor`, the buffer and cursor right after the answer are checked too.
 */
async function expectRequestInHistory(sh: ShellUnderTest, after?: { cursor: number }) {
  sh.session.type("list files");
  sh.session.sendKeys("C-g");
  await waitForFinished(sh.home, 1);
  if (after) expect(await sh.dump()).toEqual({ buffer: "ls -la", cursor: after.cursor });
  sh.session.sendKeys("Enter");
  await sh.waitForPrompt();
  sh.session.sendKeys("Up");
  expect((await sh.dump()).buffer).toBe("ls -la");
  sh.session.sendKeys("Up");
  expect((await sh.dump()).buffer).toBe("list files");
}

const sharedConfig = (url: string) =>
  `backend = "ollama"\nmax_command_length = 4000\n[backends.ollama]\nhost = "${url}"\n`;

describe.each(["zsh", "bash", "fish"] as WidgetShell[])("Ctrl-G in %s", (shell) => {
  const shared = sharedShell(shell, () => ({ reply }), sharedConfig);

  it("replaces the typed line with the command, cursor at its end; one undo brings the typed line back", async () => {
    const { sh, finished } = await shared();
    sh.session.type("list files");
    sh.session.sendKeys("C-g");
    await finished(1);
    expect(await sh.dump()).toEqual({ buffer: "ls -la", cursor: 6 });
    sh.session.sendKeys(sh.undoKey());
    expect((await sh.dump()).buffer).toBe("list files");
  });

  it("puts the request in history, before the command it became", async () => {
    // fish --no-config is private mode, which keeps no history; a fish in the empty test home is not.
    const { sh } = await shellWith(shell, {}, undefined, shell === "fish" ? "fish" : undefined);
    await expectRequestInHistory(sh);
  });

  it("does nothing on an empty or blank line", async () => {
    const { sh, finished, chats } = await shared();
    // The shell handles keys in order, so each dump (a key too) sees the line after Ctrl-G.
    sh.session.sendKeys("C-g");
    expect((await sh.dump()).buffer).toBe("");
    sh.session.type("   ");
    sh.session.sendKeys("C-g");
    expect((await sh.dump()).buffer).toBe("   ");
    // A real request after them: once it is answered, the two before it were handled, and sent nothing.
    sh.session.sendKeys("C-u");
    sh.session.type("list the files");
    sh.session.sendKeys("C-g");
    await finished(1);
    expect(chats().map(requestText)).toEqual(["list the files"]);
  });

  it("keeps the line exactly as typed on a failure, and says why in one line", async () => {
    const { sh, live, finished } = await shared();
    live.fail = { status: 500, body: '{"error":"out of memory"}' };
    const typed = `find "my files" -name '*.txt' | grep $HOME \\ !ok 100% é`;
    await sh.load(typed);
    sh.session.sendKeys("C-g");
    await finished(1);
    expect((await sh.dump()).buffer).toBe(typed);
    expect(await sh.session.settledScreen()).toContain("caro: Ollama answered HTTP 500: out of memory");
  });

  it("Ctrl-C while waiting cancels the request in the daemon and keeps the line", async () => {
    const { sh, live, finished, chats, aborted } = await shared();
    live.firstByteDelayMs = 10_000;
    sh.session.type("something slow");
    sh.session.sendKeys("C-g");
    while (chats().length === 0) await sleep(20);
    sh.session.sendKeys("C-c");
    await finished(1);
    // Keys pressed before caro gives the terminal back are caro's (typed ahead): wait for its line.
    await sh.session.waitFor((screen) => screen.includes("caro: cancelled"));
    expect((await sh.dump()).buffer).toBe("something slow");
    await sleep(200);
    expect(aborted()).toBe(1);
  });

  it("puts a critical command in disarmed, with a warning line", async () => {
    const { sh, finished } = await shared();
    sh.session.type("wipe the disk");
    sh.session.sendKeys("C-g");
    await finished(1);
    // zsh -f leaves interactive_comments off: `#` would start no comment there (test/widget-guard.test.ts).
    const zsh = shell === "zsh";
    expect((await sh.dump()).buffer).toBe(zsh ? "_caro_blocked='sudo rm -rf /'" : "# sudo rm -rf /");
    expect(await sh.session.settledScreen()).toMatch(
      new RegExp(
        `caro: rated critical and ${zsh ? "quoted so Enter runs nothing" : "commented out"}: ` +
          "deletes everything on the system",
      ),
    );
  });

  it("puts a high-risk command in as is, with a warning line", async () => {
    const { sh, finished } = await shared();
    sh.session.type("empty this folder");
    sh.session.sendKeys("C-g");
    await finished(1);
    expect((await sh.dump()).buffer).toBe("rm -rf *");
    expect(await sh.session.settledScreen()).toMatch(/caro: rated high: deletes everything in the current folder/);
  });

  it("shows the command as it streams in, then puts it in the line", async () => {
    const { sh, live, finished } = await shared();
    Object.assign(live, { chunkBytes: 160, chunkDelayMs: 150 });
    sh.session.type("find big files");
    sh.session.sendKeys("C-g");
    await sh.session.waitFor((s) => /caro: thinking… find \./.test(s));
    await finished(1);
    expect((await sh.dump()).buffer).toBe("find . -type f -size +100M -mtime -7");
    expect(await sh.session.settledScreen()).not.toContain("caro: thinking");
  });

  it("draws thinking without breaking a prompt at the bottom of the screen", async () => {
    const { sh, live, finished } = await shared();
    Object.assign(live, { chunkBytes: 160, chunkDelayMs: 150 });
    sh.session.type("seq 60");
    sh.session.sendKeys("Enter");
    await sh.session.waitFor((s) => /^60$/m.test(s) && /\$$/.test(s.trimEnd()));
    // Another request than the case before's: an answer from the cache would not stream.
    sh.session.type("find the big files");
    sh.session.sendKeys("C-g");
    const screen = await sh.session.waitFor((s) => /caro: thinking… find \./.test(s));
    const lines = screen.trimEnd().split("\n");
    // zsh keeps the prompt and draws on the line below it; bash and fish draw in the prompt line's place.
    if (shell === "zsh") expect(lines.slice(-2).map((l) => l.trimEnd())[0]).toBe("$ find the big files");
    expect(lines.at(-1)).toMatch(/^caro: thinking… find \./);
    await finished(1);
    expect((await sh.dump()).buffer).toBe("find . -type f -size +100M -mtime -7");
    expect(await sh.session.settledScreen()).not.toContain("caro: thinking");
    expect((await sh.session.settledScreen()).trimEnd().split("\n").at(-1)).toMatch(
      /\$ find \. -type f -size \+100M -mtime -7$/,
    );
  });

  it("shows thinking with three dots in a C locale, then erases it", async () => {
    const streaming = { chunkBytes: 160, chunkDelayMs: 150 };
    const { sh } = await shellWith(shell, streaming, undefined, undefined, C_LOCALE[shell]);
    sh.session.type("find big files");
    sh.session.sendKeys("C-g");
    await sh.session.waitFor((s) => /caro: thinking\.\.\. find \./.test(s));
    await waitForFinished(sh.home, 1);
    expect((await sh.dump()).buffer).toBe("find . -type f -size +100M -mtime -7");
    expect(await sh.session.settledScreen()).not.toContain("caro: thinking");
  });

  it("works under the user's aliases and strict options, and the request goes into history", async () => {
    const { sh } = await shellWith(shell, {}, undefined, shell === "fish" ? "fish" : undefined, HOSTILE[shell]);
    await expectRequestInHistory(sh, { cursor: 6 });
  });

  it("keeps the line and says why on a failure, under the user's aliases and strict options", async () => {
    const { sh } = await shellWith(
      shell,
      { fail: { status: 500, body: '{"error":"out of memory"}' } },
      undefined,
      undefined,
      HOSTILER[shell],
    );
    sh.session.type("list files");
    sh.session.sendKeys("C-g");
    await waitForFinished(sh.home, 1);
    expect((await sh.dump()).buffer).toBe("list files");
    expect(await sh.session.settledScreen()).toContain("caro: Ollama answered HTTP 500: out of memory");
    // Still the same shell: set -e did not end it.
    sh.session.type(" again");
    expect((await sh.dump()).buffer).toBe("list files again");
  });

  it("takes a multi-line command in whole", async () => {
    const { sh, finished } = await shared();
    sh.session.type("loop over text files");
    sh.session.sendKeys("C-g");
    await finished(1);
    expect((await sh.dump()).buffer).toBe(shell === "fish" ? FISH_LOOP : KNOWN["loop over text files"]);
  });

  it.each([
    ["quotes", `say "hi" and 'bye' and \`now\``],
    ["dollars and backslashes", "cost $5 and \\$HOME and \\\\ and \\n"],
    ["! and %", "echo !! and 100% and %s and !$"],
    ["a tab", "columns\tsplit\tby tabs"],
    ["unicode", "fichiers nommés 日本語 ✓ 🎉"],
    // As long as an answer may be (max_command_length at most 4000) with the printf around it.
    ["a 3.5 KB line", `find ${"a-really-long-directory-name/".repeat(120)}`],
  ])("round-trips %s byte for byte", async (_name, typed) => {
    const { sh, finished, chats } = await shared();
    await sh.load(typed);
    sh.session.sendKeys("C-g");
    await finished(1);
    expect(requestText(chats()[0])).toBe(typed);
    const expected = `printf '%s\\n' ${singleQuote(typed)}`;
    expect(await sh.dump()).toEqual({ buffer: expected, cursor: [...expected].length });
  });

  it("works in vi mode, in insert and command mode", async () => {
    // fish 3.6 --no-config stops reading keys after fish_vi_key_bindings (caro loaded or not);
    // a fish in the empty test home does not.
    const { sh } = await shellWith(shell, {}, undefined, shell === "fish" ? "fish" : undefined);
    sh.session.type(sh.viCommand());
    sh.session.sendKeys("Enter");
    await sh.waitForPrompt();
    sh.session.type("list files");
    sh.session.sendKeys("C-g");
    await waitForFinished(sh.home, 1);
    expect((await sh.dump()).buffer).toBe("ls -la");
    sh.session.sendKeys("Escape");
    await sleep(200);
    await sh.load("find big files");
    sh.session.sendKeys("C-g");
    await waitForFinished(sh.home, 2);
    expect((await sh.dump()).buffer).toBe("find . -type f -size +100M -mtime -7");
  });

  it("a daemon killed mid-request: the line stays, and the next Ctrl-G starts a new daemon", async () => {
    const home = makeHome();
    const { sh, ollama } = await shellWith(shell, { firstByteDelayMs: 10_000 }, home);
    sh.session.type("list files");
    sh.session.sendKeys("C-g");
    while (ollama.chats.length === 0) await sleep(20);
    const pid = Number(readFileSync(join(home.home, "run", "caro", "daemon.pid"), "utf8"));
    process.kill(pid, "SIGKILL");
    await sh.session.waitFor((s) => s.includes("caro: the caro daemon stopped before answering"));
    expect((await sh.dump()).buffer).toBe("list files");
    // A quick server from here on.
    const fast = await ollamaStandin({ reply });
    standins.push(fast);
    writeFileSync(join(home.home, ".config", "caro", "config.toml"), ollamaConfig(fast.url));
    sh.session.sendKeys("C-g");
    await waitForFinished(sh.home, 1);
    expect((await sh.dump()).buffer).toBe("ls -la");
    expect(Number(readFileSync(join(home.home, "run", "caro", "daemon.pid"), "utf8"))).not.toBe(pid);
  });
});

describe("two shells at once", () => {
  it("both get their answer from the one daemon", async () => {
    const home = makeHome();
    const { sh: zsh } = await shellWith("zsh", { chunkBytes: 16, chunkDelayMs: 20 }, home);
    const { sh: bash } = await shellWith("bash", { chunkBytes: 16, chunkDelayMs: 20 }, home);
    zsh.session.type("list files");
    bash.session.type("empty this folder");
    zsh.session.sendKeys("C-g");
    bash.session.sendKeys("C-g");
    await waitForFinished(home.home, 2);
    expect((await zsh.dump()).buffer).toBe("ls -la");
    expect((await bash.dump()).buffer).toBe("rm -rf *");
  });
});

describe("caro init", () => {
  const init = (shell: string, extra = "") => `${process.execPath} ${CARO_BIN} init ${shell}${extra}`;
  // In a home of its own: loading caro init starts a daemon there (the test's end stops it).
  const run = (command: string, args: string[]) =>
    execFileSync(command, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], env: makeHome().env });

  // Loading in strict mode, twice, for every --key and --no-bind: test/shell-files.test.ts.

  it("defines only _caro names", () => {
    const zsh = run("zsh", [
      "-f",
      "-c",
      `zmodload zsh/zle; a=(\${(k)functions} \${(k)parameters}); eval "$(${init("zsh")})"; b=(\${(k)functions} ` +
        `\${(k)parameters}); print -l \${b:|a}`,
    ]);
    expect(
      zsh
        .trim()
        .split("\n")
        .filter((n) => n !== "a"),
    ).toEqual(expect.arrayContaining(["_caro_widget", "_caro_client"]));
    // zsh's own hook arrays, which caro adds its hooks to (it makes them when they are not there yet).
    for (const name of zsh
      .trim()
      .split("\n")
      .filter((n) => !["a", "b", "precmd_functions", "preexec_functions"].includes(n)))
      expect(name).toMatch(/^_caro/);
    const bash = run("bash", [
      "--norc",
      "--noprofile",
      "-i",
      "-c",
      `declare -F | sort > /tmp/caro-b1.$$; compgen -v | sort >> /tmp/caro-b1.$$; eval "$(${init("bash")})"; { ` +
        `declare -F | sort; compgen -v | sort; } | grep -vxFf /tmp/caro-b1.$$ | grep -v '^_$'; rm -f /tmp/caro-b1.$$`,
    ]);
    // bash sets COLUMNS and friends lazily; caro names nothing in upper case.
    for (const name of bash
      .trim()
      .split("\n")
      .filter((n) => !/^[A-Z_]+$/.test(n)))
      expect(name).toMatch(/(^|\s)_caro/);
    const fish = run("fish", [
      "--no-config",
      "-c",
      `set before (functions -a) (set -n); ${init("fish")} | source; ` +
        "for n in (functions -a) (set -n); contains -- $n $before; or echo $n; end",
    ]);
    for (const name of fish
      .trim()
      .split("\n")
      .filter((n) => !["before", "n"].includes(n)))
      expect(name).toMatch(/^_caro/);
  });

  it("binds every keymap once, with --key, and nothing with --no-bind", () => {
    const zsh = run("zsh", [
      "-f",
      "-i",
      "-c",
      `eval "$(${init("zsh", " --key ctrl-x")})"; eval "$(${init("zsh", " --key ctrl-y")})"; for m in emacs viins ` +
        `vicmd; do bindkey -M $m | grep _caro_widget; done`,
    ]);
    expect(zsh.trim().split("\n")).toEqual(['"^X" _caro_widget', '"^X" _caro_widget', '"^X" _caro_widget']);
    const bash = run("bash", [
      "--norc",
      "--noprofile",
      "-i",
      "-c",
      `eval "$(${init("bash")})"; for m in emacs vi-insert vi-command; do bind -m $m -X | grep _caro_widget; done`,
    ]);
    expect(bash.trim().split("\n")).toEqual([
      '"\\C-g": "_caro_widget"',
      '"\\C-g": "_caro_widget"',
      '"\\C-g": "_caro_widget"',
    ]);
    const fish = run("fish", [
      "--no-config",
      "-c",
      `${init("fish")} | source; bind -a | string match '*_caro_widget*'`,
    ]);
    expect(fish.trim().split("\n").sort()).toEqual(["bind -M insert \\cg _caro_widget", "bind \\cg _caro_widget"]);
    const unbound = run("zsh", [
      "-f",
      "-i",
      "-c",
      `eval "$(${init("zsh", " --no-bind")})"; bindkey -M emacs | grep -c _caro_widget || true; whence -w _caro_widget`,
    ]);
    expect(unbound).toBe("0\n_caro_widget: function\n");
  });

  it("refuses an unknown shell or key", async () => {
    const shell = await caro(["init", "tcsh"]);
    expect(shell.exitCode).toBe(2);
    expect(shell.stderr).toBe('caro: unknown shell "tcsh": caro init supports zsh, bash, fish');
    const key = await caro(["init", "zsh", "--key", "F12"]);
    expect(key.exitCode).toBe(2);
    expect(key.stderr).toMatch(/unknown key "F12": use ctrl-<letter> or alt-<letter>/);
  });
});
