// What `caro init <shell>` prints: the shell's script from shell/, with this caro's values in its
// placeholders. The code stays in shell/<shell>/, where it can be read and linted as shell; only
// these values come from here.

import { fileURLToPath } from "node:url";
import { shellQuote } from "../text/shell-quote.js";
import { contractInShell } from "./contract.js";
import { keyParts } from "./key-bindings.js";
import { MAX_HISTORY_LINES } from "./shell-context.js";
import { shellFile } from "./shell-file.js";
import { shellRow, type WidgetShell } from "./shells.js";

export interface InitOptions {
  /** The key that runs caro, and the one that explains, in caro's notation (ctrl-g, alt-m). */
  key: string;
  explainKey: string;
  /** Bind the keys (false: only define the widget functions). */
  bind: boolean;
  /** Start the daemon in the background as the shell starts. */
  start?: boolean;
  /**
   * The history lines the widget sends until its session client says how many the config wants
   * (the session folder's `wants` file): the config's `context.history` as init runs.
   */
  history?: number;
}

const COMMON = "common.sh";

/** The shell's script with its placeholders filled in; @CARO_COMMON_SH@ takes shell/common.sh. */
export function initScript(shell: WidgetShell, options: InitOptions, template = shellFile(shellRow(shell).script)) {
  const row = shellRow(shell);
  // Absolute paths: the widget works whatever PATH holds, and skips a lookup per keystroke.
  const caro = fileURLToPath(new URL("../../bin/caro.js", import.meta.url));
  const client = `${shellQuote(process.execPath)} ${shellQuote(caro)}`;
  const values: Record<string, string> = {
    CARO_CLIENT: client,
    CARO_BIND: options.bind ? "1" : "0",
    CARO_START: options.start ? "1" : "0",
    CARO_HISTORY: String(Math.max(0, Math.min(Math.trunc(options.history ?? 0), MAX_HISTORY_LINES))),
    CARO_SHELL: shell,
    CARO_KEYMAPS: row.keymaps.join(" "),
    // In caro's notation, for the widget to keep in _caro_key and _caro_explain_key: caro doctor reads them.
    CARO_KEY_NAME: options.key,
    CARO_EXPLAIN_KEY_NAME: options.explainKey,
    // The variables a request carries, from the one list the client and the session client use.
    CARO_FORWARDED: row.forwarded,
    // Exit statuses and the session folder's names, from the one contract the processes use.
    ...contractInShell,
  };
  for (const [notation, key] of Object.entries(row.bindKey(...keyParts(options.key)))) values[`CARO_${notation}`] = key;
  for (const [notation, key] of Object.entries(row.bindKey(...keyParts(options.explainKey))))
    values[`CARO_EXPLAIN_${notation}`] = key;
  const fill = (text: string, file: string) =>
    text.replace(/@(CARO_[A-Z0-9_]+)@/g, (placeholder, name: string) => {
      if (!(name in values)) throw new Error(`shell/${file} has an unknown placeholder ${placeholder}`);
      return values[name];
    });
  // What zsh and bash share, filled in the same way, where the script asks for it.
  if (template.includes("@CARO_COMMON_SH@")) values.CARO_COMMON_SH = fill(shellFile(COMMON), COMMON).trimEnd();
  return fill(template, row.script);
}
