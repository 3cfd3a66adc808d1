import type { Node, Tree } from "web-tree-sitter";
import { parseBash } from "./parser.js";
import { literal, wordOf, type Word } from "./words.js";

/** One command that would run, after its wrappers (sudo, env, xargs, find -exec, sh -c …) are seen through. */
export interface SimpleCommand {
  /** The program's base name: `rm` for `/bin/rm`. */
  name: string;
  args: Word[];
  /** Runs as root: under sudo, doas, run0 or pkexec. */
  elevated: boolean;
  /** The wrappers it runs through, outermost first, for the reasons ("through find -exec"). */
  via: string[];
  /** More arguments arrive at run time: from xargs, or find's `{}`. */
  runtimeInputs: boolean;
  /** Under find -exec: where find looks, and whether it filters what it finds. */
  find?: { roots: Word[]; filtered: boolean };
}

export interface Redirect {
  operator: string;
  target: Word;
}

/** Everything the rules look at, gathered from one command line and whatever it runs inside strings. */
export interface Analysis {
  commands: SimpleCommand[];
  redirects: Redirect[];
  /** A download piped straight into an interpreter; true where that interpreter runs as root. */
  downloadsIntoShell: boolean[];
  forkBomb: boolean;
  /** Parts caro's parser could not read. */
  unparsed: string[];
  /** The texts of `export`, `unset` and similar declarations. */
  declarations: string[];
  /** The full text of every level, for the few rules that read text (SQL sent to a client). */
  texts: string[];
}

const MAX_DEPTH = 4;
const SHELLS = new Set(["sh", "bash", "zsh", "dash", "ksh", "mksh", "ash", "fish", "csh", "tcsh"]);
const INTERPRETERS = new Set(["python", "python2", "python3", "perl", "ruby", "node", "php", "osascript"]);
const DOWNLOADERS = new Set(["curl", "wget", "fetch", "http", "aria2c"]);
const FIND_FILTERS = new Set(["-name", "-iname", "-path", "-ipath", "-regex", "-iregex", "-type", "-mtime", "-mmin", "-atime", "-amin", "-ctime", "-cmin", "-size", "-user", "-group", "-newer", "-empty", "-perm", "-prune", "-links", "-wholename"]);

// Options that take a value, per wrapper, so the value is not mistaken for the wrapped command.
const VALUE_OPTIONS: Record<string, Set<string>> = {
  sudo: new Set(["-u", "-g", "-h", "-p", "-C", "-D", "-r", "-t", "-T", "-U", "--user", "--group", "--host", "--prompt", "--chdir"]),
  doas: new Set(["-u", "-C"]),
  env: new Set(["-u", "-C", "-S", "--unset", "--chdir", "--split-string"]),
  nice: new Set(["-n", "--adjustment"]),
  timeout: new Set(["-s", "-k", "--signal", "--kill-after"]),
  ionice: new Set(["-c", "-n", "-p", "-P", "-u"]),
  stdbuf: new Set(["-i", "-o", "-e"]),
  xargs: new Set(["-n", "-L", "-I", "-P", "-d", "-E", "-s", "-a", "--max-args", "--max-lines", "--replace", "--max-procs", "--delimiter", "--arg-file"]),
  exec: new Set(["-a"]),
  chrt: new Set([]),
  taskset: new Set([]),
  ssh: new Set(["-p", "-i", "-l", "-o", "-F", "-J", "-L", "-R", "-D", "-b", "-c", "-E", "-e", "-m", "-O", "-Q", "-S", "-W", "-w", "-B", "-I"]),
};

/** Skips a wrapper's own options; returns the index of the first word of what it wraps. */
function skipOptions(wrapper: string, args: Word[], start = 0): number {
  const withValue = VALUE_OPTIONS[wrapper] ?? new Set<string>();
  let i = start;
  while (i < args.length) {
    const text = args[i].text;
    if (text === "--") return i + 1;
    if (wrapper === "env" && /^[A-Za-z_][A-Za-z0-9_]*=/.test(text)) {
      i++;
      continue;
    }
    if (!text.startsWith("-") || text === "-") return i;
    const flag = text.split("=")[0];
    i += withValue.has(flag) && !text.includes("=") ? 2 : 1;
  }
  return i;
}

export function baseName(text: string): string {
  return text.replace(/^.*\//, "");
}

function emptyAnalysis(): Analysis {
  return { commands: [], redirects: [], downloadsIntoShell: [], forkBomb: false, unparsed: [], declarations: [], texts: [] };
}

interface Context {
  elevated: boolean;
  via: string[];
  runtimeInputs: boolean;
  find?: SimpleCommand["find"];
}

/** String literals inside interpreter code (`os.system('rm -rf /')`), each rated as a command of its own. */
function quotedLiterals(code: string): string[] {
  return [...code.matchAll(/'([^']*)'|"([^"]*)"/g)].map((m) => m[1] ?? m[2]).filter((s) => s.trim() !== "");
}

async function unwrap(argv: Word[], context: Context, depth: number, out: Analysis): Promise<void> {
  if (argv.length === 0) return;
  const name = baseName(argv[0].text);
  const args = argv.slice(1);
  const record = () => out.commands.push({ name, args, ...context });
  const inner = (start: number, via: string, changes: Partial<Context> = {}) =>
    unwrap(args.slice(start), { ...context, via: [...context.via, via], ...changes }, depth, out);
  const nested = async (text: string, via: string, changes: Partial<Context> = {}) => {
    if (depth >= MAX_DEPTH) return;
    await analyzeInto(text, { ...context, via: [...context.via, via], ...changes }, depth + 1, out);
  };

  switch (name) {
    case "sudo":
    case "doas":
    case "run0":
    case "pkexec": {
      const start = skipOptions(name, args);
      if (start >= args.length) record(); // `sudo -i`, `sudo -s`: a root shell
      else await inner(start, name, { elevated: true });
      return;
    }
    case "env":
    case "nice":
    case "nohup":
    case "time":
    case "builtin":
    case "exec":
    case "stdbuf":
    case "ionice":
    case "unbuffer":
    case "caffeinate": {
      const start = skipOptions(name, args);
      if (start < args.length) await inner(start, name);
      else record();
      return;
    }
    case "command":
      if (args.some((a) => a.text === "-v" || a.text === "-V")) return; // a lookup, runs nothing
      await inner(skipOptions(name, args), name);
      return;
    case "timeout":
    case "chrt":
    case "taskset":
    case "flock": {
      // One positional (a duration, priority, mask or lock file) before the command.
      const start = skipOptions(name, args) + 1;
      if (start < args.length) await inner(start, name);
      return;
    }
    case "watch": {
      const start = skipOptions(name, args);
      await nested(args.slice(start).map((a) => a.text).join(" "), "watch");
      return;
    }
    case "xargs": {
      const start = skipOptions(name, args);
      if (start < args.length) await inner(start, "xargs", { runtimeInputs: true });
      return;
    }
    case "find": {
      record();
      const roots: Word[] = [];
      let i = 0;
      while (i < args.length && !/^[-(!]/.test(args[i].text)) roots.push(args[i++]);
      const filtered = args.some((a) => FIND_FILTERS.has(a.text));
      for (; i < args.length; i++) {
        if (!["-exec", "-execdir", "-ok", "-okdir"].includes(args[i].text)) continue;
        const end = args.findIndex((a, j) => j > i && (a.text === ";" || a.text === "+"));
        const command = args.slice(i + 1, end === -1 ? undefined : end);
        await unwrap(command, { ...context, via: [...context.via, "find -exec"], runtimeInputs: true, find: { roots: roots.length ? roots : [literal(".")], filtered } }, depth, out);
        i = end === -1 ? args.length : end;
      }
      return;
    }
    case "eval":
      await nested(args.map((a) => a.text).join(" "), "eval");
      return;
    case "ssh": {
      const start = skipOptions(name, args);
      const host = args[start]?.text ?? "a remote host";
      if (start + 1 < args.length) await nested(args.slice(start + 1).map((a) => a.text).join(" "), `ssh ${host}`);
      else record();
      return;
    }
  }

  if (SHELLS.has(name)) {
    const flagIndex = args.findIndex((a) => /^-[a-z]*c[a-z]*$/.test(a.text));
    if (flagIndex !== -1 && args[flagIndex + 1]) await nested(args[flagIndex + 1].text, `${name} -c`);
    else record(); // an interactive shell, or one reading a script from stdin or a file
    return;
  }
  if (INTERPRETERS.has(name)) {
    const flagIndex = args.findIndex((a) => a.text === "-c" || a.text === "-e" || a.text === "-E");
    if (flagIndex !== -1 && args[flagIndex + 1])
      for (const text of quotedLiterals(args[flagIndex + 1].text)) await nested(text, `${name} ${args[flagIndex].text}`);
    record();
    return;
  }
  record();
}

function commandWords(node: Node): Word[] {
  const words: Word[] = [];
  const name = node.childForFieldName("name");
  if (name?.firstNamedChild) words.push(wordOf(name.firstNamedChild));
  for (const argument of node.childrenForFieldName("argument")) if (argument) words.push(wordOf(argument));
  return words;
}

function redirectOf(node: Node): Redirect | null {
  const destination = node.childForFieldName("destination");
  const operator = node.children.find((c) => c && !c.isNamed)?.type ?? ">";
  if (!destination || destination.type === "number") return null;
  return { operator, target: wordOf(destination) };
}

/** The commands one pipeline stage starts, seen through their wrappers. */
async function stageCommands(stage: Node, depth: number): Promise<SimpleCommand[]> {
  const analysis = emptyAnalysis();
  const commands = stage.type === "command" ? [stage] : stage.descendantsOfType("command").filter((n): n is Node => n !== null);
  for (const command of commands) await unwrap(commandWords(command), { elevated: false, via: [], runtimeInputs: false }, depth, analysis);
  return analysis.commands;
}

function readsScriptFromStdin(command: SimpleCommand): boolean {
  if (SHELLS.has(command.name)) return !command.args.some((a) => !a.text.startsWith("-") || a.text === "-c");
  if (INTERPRETERS.has(command.name)) return command.args.every((a) => a.text.startsWith("-") && a.text !== "-c" && a.text !== "-e") || command.args.some((a) => a.text === "-");
  return false;
}

async function collectPipelines(tree: Tree, depth: number, context: Context, out: Analysis): Promise<void> {
  for (const pipeline of tree.rootNode.descendantsOfType("pipeline")) {
    if (!pipeline) continue;
    const stages = await Promise.all(pipeline.namedChildren.filter((n): n is Node => n !== null).map((s) => stageCommands(s, depth)));
    const firstDownload = stages.findIndex((cmds) => cmds.some((c) => DOWNLOADERS.has(c.name)));
    if (firstDownload === -1) continue;
    for (const later of stages.slice(firstDownload + 1))
      for (const command of later)
        if (readsScriptFromStdin(command)) out.downloadsIntoShell.push(context.elevated || command.elevated);
  }
}

function findForkBombs(tree: Tree, source: string): boolean {
  for (const fn of tree.rootNode.descendantsOfType("function_definition")) {
    const name = fn?.childForFieldName("name")?.text;
    const body = fn?.childForFieldName("body");
    if (!name || !body) continue;
    const callsItself = body.descendantsOfType("command").some((c) => c?.childForFieldName("name")?.text === name);
    if (callsItself && /[|&]/.test(body.text)) return true;
  }
  // `$0 & $0 &`, `while true; do $0 & done`: the script starting copies of itself in the background.
  const runsItself = tree.rootNode.descendantsOfType("command").some((c) => c?.childForFieldName("name")?.text === "$0");
  return runsItself && /(^|[^&])&(?!&)/.test(source);
}

/** fish is not POSIX; rewrite what differs most, so the bash grammar can read the rest. */
function fishToPosix(source: string): string {
  return source
    .replace(/(^|[\s=])\((?!\()/g, "$1$(")
    .replace(/;\s*and\s+/g, " && ")
    .replace(/;\s*or\s+/g, " || ")
    .replace(/(^|;|\n)\s*(if|while)\s+/g, "$1 ")
    .replace(/(^|;|\n)\s*(for\s+\w+\s+in\s+[^;\n]*|end|else|begin|switch\s+[^;\n]*|case\s+[^;\n]*|function\s+[^;\n]*)\s*(?=;|\n|$)/g, "$1 :");
}

async function analyzeInto(source: string, context: Context, depth: number, out: Analysis, fish = false): Promise<void> {
  out.texts.push(source);
  let tree = await parseBash(source);
  if (tree.rootNode.hasError && fish) {
    tree.delete();
    tree = await parseBash(fishToPosix(source));
  }
  try {
    if (tree.rootNode.hasError) out.unparsed.push(source);
    for (const node of tree.rootNode.descendantsOfType("command")) if (node) await unwrap(commandWords(node), context, depth, out);
    for (const node of tree.rootNode.descendantsOfType("file_redirect")) {
      const redirect = node && redirectOf(node);
      if (redirect) out.redirects.push(redirect);
    }
    for (const node of tree.rootNode.descendantsOfType(["declaration_command", "unset_command"])) if (node) out.declarations.push(node.text);
    await collectPipelines(tree, depth, context, out);
    out.forkBomb ||= findForkBombs(tree, source);
  } finally {
    tree.delete();
  }
}

export async function analyze(source: string, options: { fish?: boolean } = {}): Promise<Analysis> {
  const out = emptyAnalysis();
  await analyzeInto(source, { elevated: false, via: [], runtimeInputs: false }, 0, out, options.fish);
  return out;
}
