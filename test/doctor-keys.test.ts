import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { initScript } from "../src/shell/init.js";
import { boundTo, parseShellKeys } from "../src/shell/key-bindings.js";
import { CARO_BIN, caro, makeHome } from "./helpers/caro.js";
import { shellQuote } from "./helpers/tmux.js";

// The shells' real rc files, in a home of the test's own: doctor starts zsh, bash and fish as a
// terminal would and asks each what caro's keys do once those files have loaded.

const CARO = `${shellQuote(process.execPath)} ${shellQuote(CARO_BIN)}`;

interface Check {
  name: string;
  status: string;
  detail: string;
  fix?: string;
}

function writeRcFiles(home: string, rc: { zsh?: string; bash?: string; fish?: string }): void {
  if (rc.zsh !== undefined) writeFileSync(join(home, ".zshrc"), rc.zsh);
  if (rc.bash !== undefined) writeFileSync(join(home, ".bashrc"), rc.bash);
  if (rc.fish !== undefined) {
    mkdirSync(join(home, ".config", "fish"), { recursive: true });
    writeFileSync(join(home, ".config", "fish", "config.fish"), rc.fish);
  }
}

/** doctor's checks by name, from --json. */
async function doctor(env: Record<string, string>): Promise<Map<string, Check>> {
  const report = JSON.parse(String((await caro(["doctor", "--json"], { env })).stdout)) as { checks: Check[] };
  return new Map(report.checks.map((c) => [c.name, c]));
}

/** Processes whose command line holds `marker`: what a killed rc file may have left running. */
function processesWith(marker: string): number[] {
  return readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(marker);
      } catch {
        return false;
      }
    })
    .map(Number);
}

describe("caro doctor: the keys in each shell", () => {
  it("says the key runs caro in each shell whose rc file loads it, whatever key it was given", async () => {
    const { env, home } = makeHome();
    writeRcFiles(home, {
      zsh: `eval "$(${CARO} init zsh --key alt-x)"\n`,
      bash: `eval "$(${CARO} init bash)"\n`,
      fish: `${CARO} init fish | source\n`,
    });
    const checks = await doctor(env);
    const { stdout } = await caro(["doctor"], { env });
    expect(checks.get("zsh")).toMatchObject({ status: "ok", detail: expect.stringMatching(/^Alt-X runs caro/) });
    expect(checks.get("bash")).toMatchObject({ status: "ok", detail: expect.stringMatching(/^Ctrl-G runs caro/) });
    expect(checks.get("fish")).toMatchObject({ status: "ok", detail: expect.stringMatching(/^Ctrl-G runs caro/) });
    expect(stdout).toMatch(/^✓ zsh +Alt-X runs caro/m);
    expect(stdout).toMatch(/^✓ bash +Ctrl-G runs caro/m);
    // Outside zellij and Warp there is nothing to say about them.
    expect(checks.has("zellij")).toBe(false);
    expect(checks.has("warp")).toBe(false);
  });

  it("names what took the key after caro loaded, and how to pick another", async () => {
    const { env, home } = makeHome();
    writeRcFiles(home, {
      // navi's widget loaded after caro's, as its own plugin binds it.
      zsh: `eval "$(${CARO} init zsh)"\n_navi_widget() {}\nzle -N _navi_widget\nbindkey '^G' _navi_widget\n`,
      // fzf-git.sh's keys begin with Ctrl-G: readline waits for a second key before it runs caro.
      bash: `eval "$(${CARO} init bash)"\n_fzf_git_files() { :; }\nbind -x '"\\C-g\\C-f": _fzf_git_files'\n`,
      fish: `${CARO} init fish | source\nfunction _navi_smart_replace; end\nbind \\cg _navi_smart_replace\n`,
    });
    const checks = await doctor(env);
    const zsh = checks.get("zsh");
    expect(zsh?.status).toBe("warn");
    expect(zsh?.detail).toMatch(/^Ctrl-G is bound to _navi_widget \(navi\) after your rc files load/);
    expect(zsh?.fix).toMatch(/^load caro after navi in .*\.zshrc, or pick another key: caro init zsh --key alt-\w$/);
    // The key suggested is one this zsh leaves free: Alt-G is zsh's get-line.
    expect(zsh?.fix).not.toMatch(/--key alt-g$/);
    const bash = checks.get("bash");
    expect(bash?.status).toBe("warn");
    expect(bash?.detail).toMatch(/^Ctrl-G runs caro, but only after a pause: fzf-git\.sh binds keys that begin/);
    expect(bash?.fix).toMatch(/caro init bash --key alt-\w$/);
    const fish = checks.get("fish");
    expect(fish?.status).toBe("warn");
    expect(fish?.detail).toMatch(/^Ctrl-G is bound to _navi_smart_replace \(navi\)/);
    expect(fish?.fix).toMatch(/caro init fish --key alt-g$/);
  });

  it("says how to load caro where no rc file does, and gives up on an rc file that hangs", async () => {
    const { env, home } = makeHome();
    const marker = `100.${Math.floor(Math.random() * 1e6)}`;
    writeRcFiles(home, { zsh: `sleep ${marker}\n`, bash: "", fish: "" });
    const checks = await doctor(env);
    expect(checks.get("zsh")).toMatchObject({
      status: "warn",
      detail: "did not start in 5 s: an rc file hangs or waits for input, so doctor cannot see its keys",
    });
    expect(checks.get("bash")).toMatchObject({
      status: "warn",
      detail: "caro is not loaded",
      fix: `add eval "$(caro init bash)" to ${join(home, ".bashrc")}`,
    });
    expect(checks.get("fish")).toMatchObject({
      status: "warn",
      fix: `add caro init fish | source to ${join(home, ".config", "fish", "config.fish")}`,
    });
    // The hung shell and its sleep are gone once doctor is (the terminal's hang-up ends them).
    const deadline = Date.now() + 5000;
    while (processesWith(`sleep ${marker}`).length > 0 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 50));
    expect(processesWith(`sleep ${marker}`)).toEqual([]);
  });

  it("warns that zellij and Warp take keys before any shell sees them", async () => {
    const { env, home } = makeHome();
    writeRcFiles(home, { bash: `eval "$(${CARO} init bash)"\n` });
    const checks = await doctor({ ...env, ZELLIJ: "0", TERM_PROGRAM: "WarpTerminal" });
    expect(checks.get("zellij")).toMatchObject({
      status: "warn",
      detail: "zellij takes Ctrl-G before your shell sees it (Ctrl-G is its lock key)",
    });
    expect(checks.get("zellij")?.fix).toMatch(/--key alt-g/);
    expect(checks.get("warp")?.status).toBe("warn");
  });
});

describe("reading fish 4's bindings", () => {
  // fish 4 lists keys as ctrl-g, alt-m; the machine's fish may be fish 3.
  const listing = (user: string) =>
    `loaded 1\nkey ctrl-g\nexplain alt-m\nkeymap default\n---\nbind --preset ctrl-g cancel\n` +
    `bind --preset -M insert ctrl-g cancel\nbind --preset alt-e edit_command_buffer\n${user}`;

  it("a user's binding wins over fish's preset, in the prompt's mode only", () => {
    const keys = parseShellKeys("fish", listing("bind ctrl-g _caro_widget\nbind -M insert alt-m _other\n"));
    expect(keys).toMatchObject({ loaded: true, key: "ctrl-g", explainKey: "alt-m", keymap: "default" });
    expect(boundTo("fish", keys, "ctrl-g")).toBe("_caro_widget");
    expect(boundTo("fish", keys, "alt-e")).toBe("edit_command_buffer");
    expect(boundTo("fish", keys, "alt-m")).toBeUndefined();
  });

  it("keeps a command with escaped spaces whole", () => {
    const keys = parseShellKeys("fish", listing("bind alt-m echo\\ hi\\ there\\;\\ commandline\\ -f\\ repaint\n"));
    expect(boundTo("fish", keys, "alt-m")).toBe("echo hi there; commandline -f repaint");
  });
});

describe("caro init --explain-key", () => {
  const template = "k=@CARO_KEY@ e=@CARO_EXPLAIN_KEY@ names=@CARO_KEY_NAME@,@CARO_EXPLAIN_KEY_NAME@";
  const fish4 = " k4=@CARO_KEY_FISH4@ e4=@CARO_EXPLAIN_KEY_FISH4@";

  it("writes the key into the widget in each shell's notation, and in caro's for doctor", () => {
    const options = { key: "ctrl-t", explainKey: "alt-x", bind: true };
    expect(initScript("zsh", options, template)).toBe("k='^T' e='^[x' names=ctrl-t,alt-x");
    expect(initScript("bash", options, template)).toBe("k=\\C-t e=\\ex names=ctrl-t,alt-x");
    expect(initScript("fish", options, template + fish4)).toBe("k=\\ct e=\\ex names=ctrl-t,alt-x k4=ctrl-t e4=alt-x");
    // A notation the shell has no use for is a mistake in its script.
    expect(() => initScript("zsh", options, fish4)).toThrow(/unknown placeholder @CARO_KEY_FISH4@/);
  });

  it("loads in every shell with a key of the user's choosing", async () => {
    for (const shell of ["zsh", "bash", "fish"]) {
      const result = await caro(["init", shell, "--explain-key", "ALT-X"]);
      expect(result.exitCode).toBe(0);
      expect(result.stdout).toContain("_caro_widget");
    }
  });

  it("refuses the same key as --key, and a key it cannot bind, with one line each", async () => {
    const same = await caro(["init", "zsh", "--key", "alt-m"]);
    expect(same.exitCode).toBe(2);
    expect(same.stdout).toBe("");
    expect(same.stderr).toBe(
      "caro: --key and --explain-key are both alt-m: give each its own key, such as --explain-key alt-g",
    );
    const both = await caro(["init", "bash", "--key", "ctrl-x", "--explain-key", "Ctrl-X"]);
    expect(both.exitCode).toBe(2);
    expect(both.stderr).toBe(
      "caro: --key and --explain-key are both ctrl-x: give each its own key, such as --key alt-g",
    );
    const bad = await caro(["init", "fish", "--explain-key", "f5"]);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toBe('caro: unknown key "f5": use ctrl-<letter> or alt-<letter>, as in --explain-key alt-m');
  });
});
