import { writeOut } from "./closed-output.js";
import { UsageError } from "../errors.js";
import { parseStrict } from "./args.js";
import { WIDGET_SHELL_NAMES, widgetShell } from "../shell/shells.js";
import { COMMANDS } from "./commands.js";
import { completionScript } from "./completions.js";
import { optionLines } from "./help.js";

const usage = `usage: caro completions ${WIDGET_SHELL_NAMES.join("|")}`;

export const help = `caro completions: TAB completion for caro's commands and options, for your shell

Usage
  caro completions ${WIDGET_SHELL_NAMES.join("|")}

Options
${optionLines(COMMANDS.completions.args)}

caro init sets these up with the widget (--no-completions: it does not); this prints them alone, for
those who keep completions themselves:
  zsh    caro completions zsh > "\${fpath[1]}/_caro"      (after compinit, or eval it in ~/.zshrc)
  bash   caro completions bash > ~/.local/share/bash-completion/completions/caro
  fish   caro completions fish > ~/.config/fish/completions/caro.fish

They complete commands, options, backends, shells, safety levels, catalog models for models pull,
downloaded ones for models rm, and daemon's actions. Pressing TAB never starts caro itself.
`;

/** `caro completions <shell>`: the completion script alone. */
export async function runCompletions(argv: string[]): Promise<void> {
  const args = parseStrict(argv, COMMANDS.completions.args, "completions");
  const [shell, ...extra] = args._;
  if (!shell || extra.length > 0) throw new UsageError(usage);
  const known = widgetShell(shell);
  if (!known)
    throw new UsageError(`unknown shell "${shell}": caro completions supports ${WIDGET_SHELL_NAMES.join(", ")}`);
  writeOut(completionScript(known));
}
