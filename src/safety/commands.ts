import type { Node, Tree } from "./parser.js";
import { withTree } from "./parser.js";
import { literal, wordOf, type Substitution, type Word } from "./words.js";

/** One command that would run, after its wrappers (sudo, env, xargs, find -exec, sh -c …) are seen through. */
export interface SimpleCommand {
  /** The program's base name: `rm` for `/bin/rm`. */
  name: string;
  /** The program as written: `/bin/rm`, `./build.sh`, `$EDITOR`. */
  word: Word;
  args: Word[];
  /** Runs as root: under sudo, doas, run0 or pkexec. */
  elevated: boolean;
  /** The wrappers it runs through, outermost first, for the reasons ("through find -exec"). */
  via: string[];
  /** More arguments arrive at run time: from xargs, or find's `{}`. */
  runtimeInputs: boolean;
  /** Under find -exec, or fed find's list through xargs: where find looks and what it picks. */
  find?: FindScope;
  /** Runs on another machine: through ssh. */
  remote?: boolean;
  /** Guessed from a string in interpreter code (`python3 -c "os.system('…')"`): maybe no command at all. */
  guessed?: boolean;
}

/** Where find looks, whether it picks some files rather than all, and whether it descends into folders. */
export interface FindScope {
  roots: Word[];
  filtered: boolean;
  recursive: boolean;
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
  /** Names of the shell functions the command line defines (`f() { …; }`). */
  functions: string[];
  /** Names the command line looks up without running them (`command -v fd`): it has a way around their absence. */
  probed: string[];
}

const MAX_DEPTH = 4;
const SHELL_INTERPRETERS = new Set(["sh", "bash", "zsh", "dash", "ksh", "mksh", "ash", "fish", "csh", "tcsh"]);
const INTERPRETERS = new Set(["python", "python2", "python3", "perl", "ruby", "node", "php", "osascript"]);
const DOWNLOADERS = new Set(["curl", "wget", "fetch", "http", "aria2c"]);
const SCRIPT_READERS = new Set(["source", "."]);
const STDIN_FILES = new Set(["/dev/stdin", "/dev/fd/0", "/proc/self/fd/0", "-"]);
const FIND_FILTERS = new Set([
  "-name",
  "-iname",
  "-path",
  "-ipath",
  "-regex",
  "-iregex",
  "-type",
  "-mtime",
  "-mmin",
  "-atime",
  "-amin",
  "-ctime",
  "-cmin",
  "-size",
  "-user",
  "-group",
  "-newer",
  "-empty",
  "-perm",
  "-prune",
  "-links",
  "-wholename",
]);

// Options that take a value, per wrapper, so the value is not mistaken for the wrapped command.
const VALUE_OPTIONS: Record<string, Set<string>> = {
  sudo: new Set([
    "-u",
    "-g",
    "-h",
    "-p",
    "-C",
    "-D",
    "-r",
    "-t",
    "-T",
    "-U",
    "--user",
    "--group",
    "--host",
    "--prompt",
    "--chdir",
  ]),
  doas: new Set(["-u", "-C"]),
  env: new Set(["-u", "-C", "-S", "--unset", "--chdir", "--split-string"]),
  nice: new Set(["-n", "--adjustment"]),
  timeout: new Set(["-s", "-k", "--signal", "--kill-after"]),
  ionice: new Set(["-c", "-n", "-p", "-P", "-u"]),
  stdbuf: new Set(["-i", "-o", "-e"]),
  xargs: new Set([
    "-n",
    "-L",
    "-I",
    "-P",
    "-d",
    "-E",
    "-s",
    "-a",
    "--max-args",
    "--max-lines",
    "--replace",
    "--max-procs",
    "--delimiter",
    "--arg-file",
  ]),
  exec: new Set(["-a"]),
  chrt: new Set([]),
  taskset: new Set([]),
  ssh: new Set([
    "-p",
    "-i",
    "-l",
    "-o",
    "-F",
    "-J",
    "-L",
    "-R",
    "-D",
    "-b",
    "-c",
    "-E",
    "-e",
    "-m",
    "-O",
    "-Q",
    "-S",
    "-W",
    "-w",
    "-B",
    "-I",
  ]),
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

function baseName(text: string): string {
  return text.replace(/^.*\//, "");
}

function emptyAnalysis(): Analysis {
  return {
    commands: [],
    redirects: [],
    downloadsIntoShell: [],
    forkBomb: false,
    unparsed: [],
    declarations: [],
    texts: [],
    functions: [],
    probed: [],
  };
}

interface Context {
  elevated: boolean;
  via: string[];
  runtimeInputs: boolean;
  find?: FindScope;
  remote?: boolean;
  guessed?: boolean;
  /** This command's standard input is the list of files a find earlier in the pipeline prints. */
  listedBy?: FindScope;
}

export function findScope(args: Word[]): FindScope {
  const roots: Word[] = [];
  for (const arg of args) {
    if (/^[-(!]/.test(arg.text)) break;
    roots.push(arg);
  }
  const maxDepth = args.findIndex((a) => a.text === "-maxdepth");
  return {
    roots: roots.length ? roots : [literal(".")],
    filtered: args.some((a) => FIND_FILTERS.has(a.text)),
    recursive: maxDepth === -1 || !/^[01]$/.test(args[maxDepth + 1]?.text ?? ""),
  };
}

/** The first argument that is not an option: the script a shell or interpreter runs, or the file `source` reads. */
function scriptOperand(args: Word[]): Word | undefined {
  return args.find((a) => !/^[-+]./.test(a.text));
}

/** Does this script run a downloader (`curl …`, `sudo wget -qO- …`, `curl … | gunzip`)? */
async function downloads(script: string, depth: number): Promise<boolean> {
  const inner = emptyAnalysis();
  await analyzeInto(script, { elevated: false, via: [], runtimeInputs: false }, depth + 1, inner);
  return inner.commands.some((c) => DOWNLOADERS.has(c.name));
}

/**
 * Does the word carry what a download printed: as its text (`"$(curl …)"`, kind "command"), or as
 * the contents of the file it names (`<(curl …)`, kind "process")?
 */
async function carriesDownload(word: Word | undefined, kind: Substitution["kind"], depth: number): Promise<boolean> {
  for (const substitution of word?.substitutions ?? [])
    if (substitution.kind === kind && (await downloads(substitution.script, depth))) return true;
  return false;
}

/** String literals inside interpreter code (`os.system('rm -rf /')`), each rated as a command of its own. */
function quotedLiterals(code: string): string[] {
  return [...code.matchAll(/'([^']*)'|"([^"]*)"/g)].map((m) => m[1] ?? m[2]).filter((s) => s.trim() !== "");
}

async function unwrap(argv: Word[], context: Context, depth: number, out: Analysis): Promise<void> {
  if (argv.length === 0) return;
  const name = baseName(argv[0].text);
  const args = argv.slice(1);
  const record = () => out.commands.push({ name, word: argv[0], args, ...context });
  const inner = (start: number, via: string, changes: Partial<Context> = {}) =>
    unwrap(args.slice(start), { ...context, via: [...context.via, via], ...changes }, depth, out);
  const nested = async (text: string, via: string, changes: Partial<Context> = {}) => {
    if (depth >= MAX_DEPTH) return;
    await analyzeInto(text, { ...context, via: [...context.via, via], ...changes }, depth + 1, out);
  };
  // Code that is the output of a download runs as unseen as `curl … | sh`, whatever carries it there.
  const runsDownloaded = async (word: Word | undefined, kind: Substitution["kind"]) => {
    if (await carriesDownload(word, kind, depth)) out.downloadsIntoShell.push(context.elevated);
  };

  switch (name) {
    case "sudo":
    case "doas":
    case "run0":
    case "pkexec": {
      const start = skipOptions(name, args);
      if (start >= args.length)
        record(); // `sudo -i`, `sudo -s`: a root shell
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
      if (args.some((a) => a.text === "-v" || a.text === "-V")) {
        // A lookup, runs nothing.
        out.probed.push(...args.filter((a) => !a.text.startsWith("-")).map((a) => a.text));
        return;
      }
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
      await nested(
        args
          .slice(start)
          .map((a) => a.text)
          .join(" "),
        "watch",
      );
      return;
    }
    case "xargs": {
      const start = skipOptions(name, args);
      if (start < args.length)
        await inner(start, "xargs", { runtimeInputs: true, find: context.find ?? context.listedBy });
      return;
    }
    case "find": {
      record();
      const scope = findScope(args);
      for (let i = scope.roots.length; i < args.length; i++) {
        if (!["-exec", "-execdir", "-ok", "-okdir"].includes(args[i].text)) continue;
        const end = args.findIndex((a, j) => j > i && (a.text === ";" || a.text === "+"));
        const command = args.slice(i + 1, end === -1 ? undefined : end);
        const within = { ...context, via: [...context.via, "find -exec"], runtimeInputs: true, find: scope };
        await unwrap(command, within, depth, out);
        i = end === -1 ? args.length : end;
      }
      return;
    }
    case "eval":
      for (const arg of args) await runsDownloaded(arg, "command");
      await nested(args.map((a) => a.text).join(" "), "eval");
      return;
    case "source":
    case ".":
      await runsDownloaded(args[0], "process");
      record();
      return;
    case "ssh": {
      const start = skipOptions(name, args);
      const host = args[start]?.text ?? "a remote host";
      if (start + 1 < args.length)
        await nested(
          args
            .slice(start + 1)
            .map((a) => a.text)
            .join(" "),
          `ssh ${host}`,
          { remote: true },
        );
      else record();
      return;
    }
  }

  if (SHELL_INTERPRETERS.has(name)) {
    const flagIndex = args.findIndex((a) => /^-[a-z]*c[a-z]*$/.test(a.text));
    if (flagIndex !== -1 && args[flagIndex + 1]) {
      await runsDownloaded(args[flagIndex + 1], "command");
      await nested(args[flagIndex + 1].text, `${name} -c`);
    } else {
      await runsDownloaded(scriptOperand(args), "process");
      record(); // an interactive shell, or one reading a script from stdin or a file
    }
    return;
  }
  if (INTERPRETERS.has(name)) {
    const flagIndex = args.findIndex((a) => a.text === "-c" || a.text === "-e" || a.text === "-E");
    if (flagIndex !== -1 && args[flagIndex + 1]) {
      await runsDownloaded(args[flagIndex + 1], "command");
      for (const text of quotedLiterals(args[flagIndex + 1].text))
        await nested(text, `${name} ${args[flagIndex].text}`, { guessed: true });
    } else await runsDownloaded(scriptOperand(args), "process");
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

function commandNodes(stage: Node): Node[] {
  return stage.type === "command" ? [stage] : stage.descendantsOfType("command").filter((n): n is Node => n !== null);
}

/** The commands one pipeline stage starts, seen through their wrappers. */
async function stageCommands(stage: Node, depth: number): Promise<SimpleCommand[]> {
  const analysis = emptyAnalysis();
  for (const command of commandNodes(stage))
    await unwrap(commandWords(command), { elevated: false, via: [], runtimeInputs: false }, depth, analysis);
  return analysis.commands;
}

function readsScriptFromStdin(command: SimpleCommand): boolean {
  const script = scriptOperand(command.args)?.text;
  const { name, args } = command;
  if (script !== undefined && STDIN_FILES.has(script))
    return SHELL_INTERPRETERS.has(name) || INTERPRETERS.has(name) || SCRIPT_READERS.has(name);
  if (SHELL_INTERPRETERS.has(name)) return !args.some((a) => !a.text.startsWith("-") || a.text === "-c");
  if (INTERPRETERS.has(name)) return args.every((a) => a.text.startsWith("-") && a.text !== "-c" && a.text !== "-e");
  return false;
}

/**
 * `bash < <(curl …)`, `sh <<< "$(wget -qO- …)"`: a download fed to an interpreter's standard input by a
 * redirection rather than a pipe.
 */
async function collectRedirectedDownloads(tree: Tree, depth: number, context: Context, out: Analysis): Promise<void> {
  for (const node of tree.rootNode.descendantsOfType(["command", "redirected_statement"])) {
    if (!node) continue;
    let fed = false;
    for (const redirect of node.childrenForFieldName("redirect")) {
      if (!redirect) continue;
      if (redirect.type === "herestring_redirect") {
        const content = redirect.namedChildren.find((c) => c !== null);
        fed ||= content ? await carriesDownload(wordOf(content), "command", depth) : false;
      } else if (redirect.type === "file_redirect" && redirectOf(redirect)?.operator === "<") {
        const destination = redirect.childForFieldName("destination");
        fed ||= destination ? await carriesDownload(wordOf(destination), "process", depth) : false;
      }
    }
    if (!fed) continue;
    const body = node.type === "command" ? node : node.childForFieldName("body");
    for (const command of body ? await stageCommands(body, depth) : [])
      if (readsScriptFromStdin(command)) out.downloadsIntoShell.push(context.elevated || command.elevated);
  }
}

/** Commands that read, from a pipe, the list of files a find earlier in the same pipeline prints. */
async function listedByFind(tree: Tree, depth: number): Promise<Map<number, FindScope>> {
  const fed = new Map<number, FindScope>();
  for (const pipeline of tree.rootNode.descendantsOfType("pipeline")) {
    let scope: FindScope | undefined;
    for (const stage of pipeline?.namedChildren ?? []) {
      if (!stage) continue;
      if (scope) for (const node of commandNodes(stage)) fed.set(node.id, scope);
      const finder = (await stageCommands(stage, depth)).find((c) => c.name === "find");
      if (finder) scope = findScope(finder.args);
    }
  }
  return fed;
}

async function collectPipelines(tree: Tree, depth: number, context: Context, out: Analysis): Promise<void> {
  for (const pipeline of tree.rootNode.descendantsOfType("pipeline")) {
    if (!pipeline) continue;
    const stages = await Promise.all(
      pipeline.namedChildren.filter((n): n is Node => n !== null).map((s) => stageCommands(s, depth)),
    );
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
  const runsItself = tree.rootNode
    .descendantsOfType("command")
    .some((c) => c?.childForFieldName("name")?.text === "$0");
  return runsItself && /(^|[^&])&(?!&)/.test(source);
}

/** fish is not POSIX; rewrite what differs most, so the bash grammar can read the rest. */
function fishToPosix(source: string): string {
  return source
    .replace(/(^|[\s=])\((?!\()/g, "$1$(")
    .replace(/;\s*and\s+/g, " && ")
    .replace(/;\s*or\s+/g, " || ")
    .replace(/(^|;|\n)\s*(if|while)\s+/g, "$1 ")
    .replace(
      new RegExp(
        String.raw`(^|;|\n)\s*(for\s+\w+\s+in\s+[^;\n]*|end|else|begin|` +
          String.raw`switch\s+[^;\n]*|case\s+[^;\n]*|function\s+[^;\n]*)\s*(?=;|\n|$)`,
        "g",
      ),
      "$1 :",
    );
}

async function analyzeInto(
  source: string,
  context: Context,
  depth: number,
  out: Analysis,
  fish = false,
): Promise<void> {
  out.texts.push(source);
  // fish's `function name … end` is rewritten away below: take the names first.
  if (fish) for (const m of source.matchAll(/(?:^|[;\n])\s*function\s+([^\s;]+)/g)) out.functions.push(m[1]);
  await withTree(source, (tree) =>
    tree.rootNode.hasError && fish
      ? withTree(fishToPosix(source), (posix) => analyzeTree(posix, source, context, depth, out))
      : analyzeTree(tree, source, context, depth, out),
  );
}

async function analyzeTree(tree: Tree, source: string, context: Context, depth: number, out: Analysis): Promise<void> {
  if (tree.rootNode.hasError) out.unparsed.push(source);
  const fedByFind = await listedByFind(tree, depth);
  for (const node of tree.rootNode.descendantsOfType("command")) {
    const listed = node && fedByFind.get(node.id);
    if (node) await unwrap(commandWords(node), listed ? { ...context, listedBy: listed } : context, depth, out);
  }
  for (const node of tree.rootNode.descendantsOfType("file_redirect")) {
    const redirect = node && redirectOf(node);
    if (redirect) out.redirects.push(redirect);
  }
  for (const node of tree.rootNode.descendantsOfType(["declaration_command", "unset_command"]))
    if (node) out.declarations.push(node.text);
  for (const node of tree.rootNode.descendantsOfType("function_definition")) {
    const name = node?.childForFieldName("name")?.text;
    if (name) out.functions.push(name);
  }
  await collectPipelines(tree, depth, context, out);
  await collectRedirectedDownloads(tree, depth, context, out);
  out.forkBomb ||= findForkBombs(tree, source);
}

export async function analyze(source: string, options: { fish?: boolean } = {}): Promise<Analysis> {
  const out = emptyAnalysis();
  await analyzeInto(source, { elevated: false, via: [], runtimeInputs: false }, 0, out, options.fish);
  return out;
}
