import { writeOut } from "./closed-output.js";
import { stringify } from "smol-toml";
import { loadConfig } from "../config/load.js";
import { SECRET_KEYS, settingKeys, settingSpecs } from "../config/schema.js";
import { UsageError } from "../errors.js";
import { parseStrict } from "./args.js";
import { COMMANDS } from "./commands.js";
import { optionLines } from "./help.js";
import { warn } from "./output.js";

const usage = "usage: caro config path | caro config show";

export const help = `caro config: where the config file is, and the settings caro uses

Usage
  caro config path    Print the config file's path (it need not exist: defaults apply)
  caro config show    Print each setting's effective value and where it comes from

Options
${optionLines({})}

Settings come from the file, then environment variables such as $CARO_MODEL and $CARO_BACKEND,
then command-line flags, each overriding the one before.
Exit 0, or 2 when the file does not parse.
`;

/** `caro config path` prints where the file is read from; `show` prints every effective value and its source. */
export async function runConfig(argv: string[]): Promise<void> {
  const args = parseStrict(argv, COMMANDS.config.args, "config");
  const [action, ...extra] = args._;
  if (extra.length > 0) throw new UsageError(usage);
  if (action === "path") {
    writeOut(`${loadConfig().path}\n`);
    return;
  }
  if (action !== "show") throw new UsageError(action ? `unknown config action "${action}": ${usage}` : usage);
  const config = loadConfig();
  for (const line of config.warnings) warn(line);
  writeOut(`# ${config.path}${config.fileExists ? "" : " (not found: defaults apply)"}\n`);
  for (const key of settingKeys) {
    const value = SECRET_KEYS.has(key) && config.settings[key] ? "(set, hidden)" : config.settings[key];
    const env = settingSpecs[key].env;
    const source = config.sources[key] === "env" && env ? `$${env}` : config.sources[key];
    // smol-toml renders each value exactly as it would be written in the file.
    const rendered = stringify({ v: value }).replace(/^v = /, "").trim();
    writeOut(`${key} = ${rendered}  # ${source}\n`);
  }
}
