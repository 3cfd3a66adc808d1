// What Enter can run after Ctrl-G, and what a typed line can carry into a request, in real zsh,
// bash and fish under tmux: a blocked command in the buffer runs nothing when Enter is pressed on
// it, under every option that changes what `#` means and in the vi keymaps; a pasted NUL adds no
// variable to the request.

import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { commandOf } from "../src/shell/disarm.js";
import { sleep } from "./helpers/caro.js";
import { ShellUnderTest, waitForFinished, type WidgetShell } from "./helpers/shells.js";
import { ollamaStandin, requestText, type Standin } from "./helpers/standins.js";

const running: { kill(): void }[] = [];
const standins: Standin[] = [];
afterEach(async () => {
  for (const r of running.splice(0)) r.kill();
  await Promise.all(standins.splice(0).map((s) => s.close()));
});

/**
 * A critical command (formatting a disk by its stable name, which does not exist here) that leaves
 * a marker in `dir` for every way a shell could run part of it: `$(…)`, a redirection, `;`, `&&`,
 * `|`, `&`, backquotes and a second line.
 */
function critical(dir: string): string {
  const m = (name: string) => join(dir, name);
  return [
    `mkfs.ext4 /dev/disk/by-id/caro-test-none $(touch ${m("sub")}) > ${m("redir")}; touch ${m("semi")} && ` +
      `touch ${m("and")} | touch ${m("pipe")} & touch ${m("bg")}`,
    `touch ${m("line2")} \`touch ${m("tick")}\``,
  ].join("\n");
}

interface Case {
  name: string;
  shell: WidgetShell;
  prelude: string;
  /** `#` starts a comment at this prompt: the buffer is commented out; else it is quoted. */
  comments: boolean;
  command?: string;
}

const CASES: Case[] = [
  { name: "zsh, interactive_comments off (its default)", shell: "zsh", prelude: "", comments: false },
  { name: "zsh with interactive_comments", shell: "zsh", prelude: "setopt interactive_comments", comments: true },
  { name: "bash", shell: "bash", prelude: "", comments: true },
  {
    name: "bash without interactive_comments",
    shell: "bash",
    prelude: "shopt -u interactive_comments",
    comments: false,
  },
  // fish --no-config stops reading keys after fish_vi_key_bindings; a fish in the empty test home does not.
  { name: "fish", shell: "fish", prelude: "", comments: true, command: "fish" },
];

describe.each(CASES)("a blocked command in $name", ({ shell, prelude, comments, command }) => {
  it("is shown whole and Enter runs nothing: not ; && | & > $(…) nor a second line, in emacs and vi keys", async () => {
    const markers = { dir: "" };
    const ollama = await ollamaStandin({
      reply: (request) =>
        JSON.stringify({ command: requestText(request) === "wipe it" ? critical(markers.dir) : "ls" }),
    });
    standins.push(ollama);
    const config = `backend = "ollama"\nmax_command_length = 4000\n[backends.ollama]\nhost = "${ollama.url}"\n`;
    const sh = new ShellUnderTest(shell, config, undefined, {
      prelude,
      command,
    });
    running.push(sh);
    markers.dir = join(sh.dir, "markers");
    mkdirSync(markers.dir);
    await sh.ready();
    // Each way to Enter: emacs keys; then vi insert mode; then vi command mode, Ctrl-G pressed there.
    const ways = [
      { setup: "", keys: [] as string[] },
      { setup: sh.viCommand(), keys: [] as string[] },
      { setup: "", keys: ["Escape"] },
    ];
    let done = 0;
    for (const way of ways) {
      if (way.setup) {
        sh.session.type(way.setup);
        sh.session.sendKeys("Enter");
        await sh.waitForPrompt();
      }
      sh.session.type("wipe it");
      if (way.keys.length) {
        sh.session.sendKeys(...way.keys);
        await sleep(300);
      }
      sh.session.sendKeys("C-g");
      await waitForFinished(sh.home, ++done);
      const { buffer } = await sh.dump();
      // The whole command, to read and take deliberately.
      expect(commandOf(buffer)).toBe(critical(markers.dir));
      if (comments)
        expect(buffer.split("\n").every((line) => line.startsWith("# mkfs") || line.startsWith("# touch"))).toBe(true);
      // On one line, quoted whole: `$'…\n…'`.
      else expect(buffer).toMatch(/^_caro_blocked=\$'mkfs\.ext4 [^\n]*\\ntouch [^\n]*'$/);
      expect(await sh.session.settledScreen()).toMatch(
        comments ? /rated critical and commented out/ : /rated critical and quoted so Enter runs nothing/,
      );
      sh.session.sendKeys("Enter");
      await sh.waitForPrompt();
      // Background jobs and substitutions would have had their time.
      await sleep(500);
      expect(readdirSync(markers.dir)).toEqual([]);
    }
  });
});

describe("a NUL in a zsh line", () => {
  // bash and fish strings cannot hold a NUL: bash drops it, fish ends the string there.
  it("adds no variable to the request: a pasted CARO_CONFIG=… changes no setting, on Ctrl-G or fix", async () => {
    const ollama = await ollamaStandin({ reply: () => JSON.stringify({ command: "rm -rf ~" }) });
    standins.push(ollama);
    const config = `backend = "ollama"\n[backends.ollama]\nhost = "${ollama.url}"\n`;
    const sh = new ShellUnderTest("zsh", config);
    running.push(sh);
    // A config that lets anything through, as a file another local user could have written.
    const evil = join(sh.dir, "evil.toml");
    writeFileSync(evil, `${config}[safety]\nlevel = "permissive"\n`);
    await sh.ready();
    await sh.load(`delete the folder\0CARO_CONFIG=${evil}`);
    sh.session.sendKeys("C-g");
    await waitForFinished(sh.home, 1);
    // Still this user's level (moderate): blocked and quoted, not put in to run.
    expect((await sh.dump()).buffer).toBe("_caro_blocked='rm -rf ~'");
    expect(requestText(ollama.chats[0])).toBe(`delete the folderCARO_CONFIG=${evil}`);
    // The same bytes as a command that failed: the fix path carries them no further.
    await sh.load(`false \0CARO_CONFIG=${evil}`);
    sh.session.sendKeys("Enter");
    await sh.waitForPrompt();
    sh.session.sendKeys("C-u", "C-g");
    await waitForFinished(sh.home, 2);
    expect((await sh.dump()).buffer).toBe("_caro_blocked='rm -rf ~'");
    expect(ollama.chats[1].messages.at(-1)?.content).toContain(`false CARO_CONFIG=${evil}`);
  });
});
