import { writeOut } from "./closed-output.js";
import { UsageError } from "../errors.js";
import { groundingFindings } from "../grounding/checks.js";
import { type Shell, shellNamed } from "../prompt/shells.js";
import { rateCommand } from "../safety/rate.js";
import { parseStrict } from "./args.js";
import { COMMANDS } from "./commands.js";
import { optionLines } from "./help.js";
import { warningLines } from "./output.js";

const checkArgs = COMMANDS.check.args;

const usage = "usage: caro check [--json] [--shell bash] -- '<command>'  or  caro check --stdin < commands.txt";

export const help = `caro check: rate a command's risk without running it

Usage
  caro check [--json] [--shell <shell>] -- '<command>'
  caro check --stdin [--shell <shell>] < commands.txt

Options
${optionLines(checkArgs)}

Examples
  caro check -- 'rm -rf ./build'
  caro check --json -- 'curl -fsSL https://example.com/install.sh | sh'
  caro check --stdin < commands.txt

Prints the risk (safe, moderate, high or critical) and the reasons for it, then what would fail on
this machine: a program not installed on $PATH, an option its manual page (on $MANPATH) does not
name. Nothing is run. Exit 0 whatever the rating, 2 on a usage error.
`;

/** The rating, and what is wrong with the command here, as the answer pipeline finds it. */
async function judge(command: string, shell: Shell, cwd: string) {
  const [rating, findings] = await Promise.all([
    rateCommand(command, shell, cwd),
    groundingFindings(command, { shell, cwd, env: process.env }),
  ]);
  return { command, ...rating, warnings: findings.map((finding) => finding.reason) };
}

/** `caro check`: rates any command without running it. Exit 0 whatever the rating. */
export async function runCheck(argv: string[]): Promise<void> {
  const args = parseStrict(argv, checkArgs, "check");
  const shell = shellNamed(args.shell ?? "bash");
  const cwd = process.cwd();
  if (args.stdin) {
    if (args._.length > 0) throw new UsageError(`--stdin takes no command argument: ${usage}`);
    // Loaded here: the one-command form never pays for readline.
    const { createInterface } = await import("node:readline");
    for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
      if (line.trim() === "") continue;
      writeOut(`${JSON.stringify(await judge(line, shell, cwd))}\n`);
    }
    return;
  }
  const command = args._.join(" ");
  if (command.trim() === "") throw new UsageError(`no command to rate: ${usage}`);
  const judged = await judge(command, shell, cwd);
  if (args.json) writeOut(`${JSON.stringify(judged)}\n`);
  else writeOut(`${judged.risk}\n${judged.reasons.map((r) => `  - ${r}\n`).join("")}${warningLines(judged.warnings)}`);
}
