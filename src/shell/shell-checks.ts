import { inertExcerpt } from "../text/inert.js";
import type { Check } from "../cli/doctor-check.js";
import { boundTo, keyLabel, parseShellKeys, prefixedBy, type ShellKeys, toolOf } from "./key-bindings.js";
import { shellFilePath } from "./shell-file.js";
import { onPath, PROBE_ENV, type ProbeResult, probeShell } from "./shell-probe.js";
import { shellRow, shellsInWords, WIDGET_SHELL_NAMES, type WidgetShell } from "./shells.js";

// What caro's keys do in each installed shell once the user's rc files have loaded, asked of the
// shells themselves: another tool's line after caro's may have taken the key.

/** Long enough for a heavy rc file (oh-my-zsh, conda), short enough that a hanging one costs little. */
const PROBE_TIMEOUT_MS = 5000;

const rcFile = (shell: WidgetShell) => shellRow(shell).rcFile();

const ALL_KEYS = ["ctrl", "alt"].flatMap((mod) => [..."abcdefghijklmnopqrstuvwxyz"].map((l) => `${mod}-${l}`));

/** A key to suggest instead: one this shell leaves free, and not caro's other key. */
function freeKey(shell: WidgetShell, keys: ShellKeys, taken: string[]): string {
  // Alt-E, -V and -R: free in zsh and in either bash or fish, and outside zellij's keys.
  const candidates = ["alt-g", "alt-e", "alt-v", "alt-r", "alt-z", "alt-q", "alt-x"];
  return candidates.find((k) => !taken.includes(k) && boundTo(shell, keys, k) === undefined) ?? "alt-g";
}

/** One key of caro's: does it run caro's widget, something else, or nothing? */
function keyReport(
  shell: WidgetShell,
  keys: ShellKeys,
  key: string,
  role: { does: string; flag: string; taken: string[] },
): { status: Check["status"]; detail: string; fix?: string } {
  const label = keyLabel(key);
  const action = boundTo(shell, keys, key);
  const suggestion = `caro init ${shell} ${role.flag} ${freeKey(shell, keys, role.taken)}`;
  if (action === undefined)
    return {
      status: "warn",
      detail: `${label} runs nothing, though caro is loaded`,
      fix: `drop --no-bind from the caro init line in ${rcFile(shell)}, or see what unbinds ${label} after it`,
    };
  if (!action.startsWith("_caro_")) {
    const tool = toolOf(action);
    return {
      status: "warn",
      detail: `${label} is bound to ${inertExcerpt(action, 60)}${tool ? ` (${tool})` : ""} after your rc files load`,
      fix: `load caro after ${tool ?? "what binds it"} in ${rcFile(shell)}, or pick another key: ${suggestion}`,
    };
  }
  const others = prefixedBy(shell, keys, key).filter((a) => !a.startsWith("_caro_"));
  if (others.length > 0) {
    const names = [...new Set(others.map((a) => toolOf(a) ?? inertExcerpt(a, 40)))].join(", ");
    return {
      status: "warn",
      detail: `${label} ${role.does}, but only after a pause: ${names} binds keys that begin with ${label}`,
      fix: `pick another key: ${suggestion}`,
    };
  }
  return { status: "ok", detail: `${label} ${role.does}` };
}

/** The key caro's widget is bound to where it does not say (widgets from before it did). */
function caroKeyOf(shell: WidgetShell, keys: ShellKeys): string {
  return keys.key ?? ALL_KEYS.find((k) => boundTo(shell, keys, k) === "_caro_widget") ?? "ctrl-g";
}

function shellCheck(shell: WidgetShell, result: ProbeResult, anyLoaded: boolean): { check: Check; key?: string } {
  const seconds = PROBE_TIMEOUT_MS / 1000;
  if (result.outcome === "timed-out")
    return {
      check: {
        name: shell,
        status: "warn",
        detail: `did not start in ${seconds} s: an rc file hangs or waits for input, so doctor cannot see its keys`,
        fix: `find what waits in ${rcFile(shell)} (${shell} -i shows it)`,
      },
    };
  if (result.outcome === "no-report")
    return {
      check: {
        name: shell,
        status: "warn",
        detail:
          `exited before its rc files finished ` +
          `loading${result.exitCode === null ? "" : ` (exit ${result.exitCode})`}`,
        fix: `start ${shell} -i and read its errors`,
      },
    };
  const keys = parseShellKeys(shell, result.text);
  if (!keys.loaded)
    return {
      check: {
        name: shell,
        // Only worth a warning when no shell has caro: most people use one of the shells installed.
        status: anyLoaded ? "info" : "warn",
        detail: "caro is not loaded",
        fix: `add ${shellRow(shell).initLine} to ${rcFile(shell)}`,
      },
    };
  const key = caroKeyOf(shell, keys);
  const reports = [keyReport(shell, keys, key, { does: "runs caro", flag: "--key", taken: [keys.explainKey ?? ""] })];
  if (keys.explainKey)
    reports.push(keyReport(shell, keys, keys.explainKey, { does: "explains", flag: "--explain-key", taken: [key] }));
  const worst = reports.find((r) => r.status !== "ok");
  return {
    key,
    check: {
      name: shell,
      status: worst ? worst.status : "ok",
      detail: reports.map((r) => r.detail).join("; "),
      fix:
        reports
          .map((r) => r.fix)
          .filter(Boolean)
          .join("; ") || undefined,
    },
  };
}

/** Zellij and Warp see keys before the shell does, so no shell can tell: the environment says they run. */
function terminalChecks(keysInUse: string[]): Check[] {
  const checks: Check[] = [];
  // zellij's default keys outside its locked mode (Ctrl-G locks it).
  const zellijKeys =
    "ctrl-g ctrl-p ctrl-n ctrl-s ctrl-o ctrl-t ctrl-h ctrl-b ctrl-q alt-f alt-n alt-i alt-o alt-h alt-l"
      .concat(" alt-j alt-k alt-p")
      .split(" ");
  const taken = keysInUse.filter((k) => zellijKeys.includes(k));
  if (process.env.ZELLIJ !== undefined && taken.length > 0)
    checks.push({
      name: "zellij",
      status: "warn",
      detail:
        `zellij takes ${taken.map(keyLabel).join(", ")} before your shell sees ` +
        `${taken.length > 1 ? "them" : "it"}${taken.includes("ctrl-g") ? " (Ctrl-G is its lock key)" : ""}`,
      fix: "pick another key (caro init <shell> --key alt-g), or unbind it in zellij's config.kdl",
    });
  if (process.env.TERM_PROGRAM === "WarpTerminal")
    checks.push({
      name: "warp",
      status: "warn",
      detail: "Warp's own input editor takes the keys at its prompt, Ctrl-G among them: shell key bindings do not run",
      fix: "type caro <request> at Warp's prompt, or use caro's keys in another terminal",
    });
  return checks;
}

/** One line for each installed shell, then warnings for terminals that take keys first. */
export async function shellChecks(): Promise<Check[]> {
  if (process.env[PROBE_ENV])
    return [{ name: "shells", status: "info", detail: "not checked: this doctor runs inside a shell doctor started" }];
  const installed = WIDGET_SHELL_NAMES.flatMap((shell) => {
    const path = onPath(shell);
    return path ? [{ shell, path }] : [];
  });
  if (installed.length === 0)
    return [{ name: "shells", status: "warn", detail: `no ${shellsInWords()} on PATH: caro's keys need one of them` }];
  // All at once: a slow rc file in one shell does not add to another's wait.
  const results = await Promise.all(
    installed.map(({ shell, path }) =>
      probeShell(shell, path, shellFilePath(shellRow(shell).keysQuery), PROBE_TIMEOUT_MS),
    ),
  );
  const anyLoaded = results.some(
    (r, i) => r.outcome === "reported" && parseShellKeys(installed[i].shell, r.text).loaded,
  );
  const checked = installed.map(({ shell }, i) => shellCheck(shell, results[i], anyLoaded));
  const keysInUse = [...new Set(checked.flatMap((c) => (c.key ? [c.key] : [])))];
  return [...checked.map((c) => c.check), ...terminalChecks(keysInUse.length > 0 ? keysInUse : ["ctrl-g"])];
}
