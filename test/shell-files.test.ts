// The widget's shell code, as `caro init` prints it for every key and with or without --no-bind:
// it lints clean (shellcheck, zsh -n, fish --no-execute), loads twice in strict mode without a
// word, and binds the key in each shell's own notation, once per keymap, or not at all. doctor's
// key-query scripts lint clean too.

import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { WIDGET_SHELLS } from "../src/shell/shells.js";
import { CARO_BIN, makeHome } from "./helpers/caro.js";

type Shell = "zsh" | "bash" | "fish";

// In a home of its own: loading caro init starts a daemon there (the test's end stops it).
const run = (command: string, args: string[], input?: string) =>
  execFileSync(command, args, { encoding: "utf8", input, stdio: ["pipe", "pipe", "pipe"], env: makeHome().env });

const flags = (key: string | undefined, bind: boolean) => [
  ...(key ? ["--key", key] : []),
  ...(bind ? [] : ["--no-bind"]),
];
const initLine = (shell: Shell, key: string | undefined, bind: boolean) =>
  [process.execPath, CARO_BIN, "init", shell, ...flags(key, bind)].join(" ");

// What each shell lists for a bound key, by the key as given to --key.
const LISTED: Record<Shell, Record<string, string[]>> = {
  zsh: {
    "ctrl-g": Array(3).fill('"^G" _caro_widget'),
    "ctrl-y": Array(3).fill('"^Y" _caro_widget'),
    "alt-q": Array(3).fill('"^[q" _caro_widget'),
  },
  bash: {
    "ctrl-g": Array(3).fill('"\\C-g": "_caro_widget"'),
    "ctrl-y": Array(3).fill('"\\C-y": "_caro_widget"'),
    "alt-q": Array(3).fill('"\\eq": "_caro_widget"'),
  },
  fish: {
    "ctrl-g": ["bind -M insert \\cg _caro_widget", "bind \\cg _caro_widget"],
    "ctrl-y": ["bind -M insert \\cy _caro_widget", "bind \\cy _caro_widget"],
    "alt-q": ["bind -M insert \\eq _caro_widget", "bind \\eq _caro_widget"],
  },
};

// Loads caro twice in the strictest mode each shell has, then lists what is bound to the widget.
function loadTwiceStrictly(shell: Shell, init: string): string {
  switch (shell) {
    case "zsh":
      return run("zsh", [
        "-f",
        "-i",
        "-u",
        "-e",
        "-o",
        "pipefail",
        "-c",
        `eval "$(${init})"; eval "$(${init})"
        for m in emacs viins vicmd; do bindkey -M $m | grep _caro_widget || true; done; print -r ok`,
      ]);
    case "bash":
      // Non-interactive first (no line editing, so nothing may be bound), then interactive.
      expect(
        run("bash", [
          "--norc",
          "--noprofile",
          "-u",
          "-e",
          "-o",
          "pipefail",
          "-c",
          `eval "$(${init})"; eval "$(${init})"; echo ok`,
        ]),
      ).toBe("ok\n");
      return run("bash", [
        "--norc",
        "--noprofile",
        "-i",
        "-u",
        "-e",
        "-o",
        "pipefail",
        "-c",
        `eval "$(${init})"
        eval "$(${init})"; for m in emacs vi-insert vi-command; do bind -m $m -X | grep _caro_widget || true; done
        echo ok`,
      ]);
    case "fish":
      return run("fish", [
        "--no-config",
        "-c",
        `${init} | source; ${init} | source
        bind -a | string match '*_caro_widget*' | sort; echo ok`,
      ]);
  }
}

function lint(shell: Shell, script: string): void {
  const file = join(mkdtempSync(join(tmpdir(), "caro-lint-")), `caro.${shell}`);
  writeFileSync(file, script);
  // Each throws, with the linter's words, on a finding.
  if (shell === "zsh") run("zsh", ["-n", file]);
  if (shell === "bash") {
    run("bash", ["-n", file]);
    run("shellcheck", ["--shell=bash", "--severity=style", file]);
  }
  if (shell === "fish") run("fish", ["--no-execute", file]);
}

// ctrl-y, not ctrl-x: readline lists a binding of the emacs prefix key C-x as "\C-x\000".
const KEYS = [undefined, "ctrl-y", "alt-q"];
const CASES = (["zsh", "bash", "fish"] as Shell[]).flatMap((shell) =>
  KEYS.flatMap((key) =>
    [true, false].map((bind) => ({ shell, key, bind, name: flags(key, bind).join(" ") || "(defaults)" })),
  ),
);

describe.each(CASES)("caro init $shell $name", ({ shell, key, bind }) => {
  it("prints shell code that lints clean, with every placeholder filled in", () => {
    const script = run(process.execPath, [CARO_BIN, "init", shell, ...flags(key, bind)]);
    expect(script).not.toMatch(/@CARO_/);
    lint(shell, script);
  });

  it("loads silently in strict mode, twice, binding the key once per keymap or not at all", () => {
    const listed = loadTwiceStrictly(shell, initLine(shell, key, bind));
    const expected = bind ? LISTED[shell][key ?? "ctrl-g"] : [];
    expect(listed).toBe(`${[...expected, "ok"].join("\n")}\n`);
  });
});

describe("doctor's key-query scripts", () => {
  it.each(Object.entries(WIDGET_SHELLS))("%s's lints clean", (shell, { keysQuery }) => {
    lint(shell as Shell, readFileSync(join("shell", keysQuery), "utf8"));
  });
});

describe.each(["bash", "zsh"] as const)("shell/common.sh in %s", (shell) => {
  it("reads a reply line that arrives in two parts whole, across the read's 0.2 s timeout", () => {
    const dir = mkdtempSync(join(tmpdir(), "caro-line-"));
    // The second part comes after the timer fired once: bash's read loses what it took then, unless kept.
    const script = `source ${join(import.meta.dirname, "..", "shell", "common.sh")}
set -eu
mkfifo ${dir}/p
exec 9<>${dir}/p
{ printf 123; sleep 0.5; printf '45\\n'; } >&9 &
line='' partial='' timeouts=0
until _caro_read_line 9; do timeouts=$((timeouts + 1)); done
printf '%s %s\\n' "$line" "$timeouts"`;
    const [line, timeouts] = run(shell, shell === "zsh" ? ["-f", "-c", script] : ["-c", script])
      .trim()
      .split(" ");
    expect(line).toBe("12345");
    // zsh's read waits for the whole line once input is there; bash's times out in the middle.
    if (shell === "bash") expect(Number(timeouts)).toBeGreaterThan(0);
  });
});
