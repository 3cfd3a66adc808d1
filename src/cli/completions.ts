// Shell completions for caro, written from the command definitions in commands.ts: the same
// objects the parser and --help read, so a new option or command completes the day it exists.
// Every list is written into the script except the downloaded models, which the script finds with a
// glob of the models folder when TAB is pressed: no completion starts Node, the model or the daemon.

import { CATALOG } from "../models/catalog.js";
import { WIDGET_SHELL_NAMES, type WidgetShell } from "../shell/shells.js";
import { type CaroArgsDef, COMMANDS, generateArgs, type Operand, VERSION_FLAGS } from "./commands.js";

interface Choice {
  word: string;
  description: string;
}

interface OptionSpec {
  /** Every spelling: -v and --verbose, or --daemon and --no-daemon. */
  flags: string[];
  description: string;
  /** What its value completes to; absent for a flag that takes none, null for a value of the user's own. */
  value?: readonly Choice[] | Operand | null;
}

/** One command's words: its options, and what its first and second words (not options) complete to. */
interface Scope {
  name: string;
  options: OptionSpec[];
  first: readonly Choice[] | Operand | null;
  /** By first word (an action): what the next completes to. */
  second: Record<string, Operand>;
}

const words = (list: readonly string[]): Choice[] => list.map((word) => ({ word, description: "" }));

function optionSpecs(args: CaroArgsDef): OptionSpec[] {
  const specs: OptionSpec[] = [];
  for (const [name, def] of Object.entries(args)) {
    if (def.type === "positional") continue;
    const description = def.description ?? "";
    const short = ["alias" in def ? (def.alias ?? []) : []].flat().map((alias) => `-${alias}`);
    if (def.type === "boolean") {
      // citty reads --no-<flag> for a flag that defaults to true.
      specs.push({ flags: [...short, `--${name}`, ...(def.default === true ? [`--no-${name}`] : [])], description });
      continue;
    }
    const value = def.values === undefined ? null : typeof def.values === "string" ? def.values : words(def.values);
    specs.push({ flags: [...short, `--${name}`], description, value });
  }
  specs.push({ flags: ["-h", "--help"], description: "Show this help" });
  return specs;
}

/** Every scope: the top level (a request, or the command's name) and each command. */
export function completionScopes(): Scope[] {
  const top: Scope = {
    name: "",
    options: [...optionSpecs(generateArgs), { flags: [...VERSION_FLAGS], description: "Print caro's version" }],
    first: Object.entries(COMMANDS).map(([word, command]) => ({ word, description: command.summary })),
    second: {},
  };
  const commands = Object.entries(COMMANDS).map(([name, command]): Scope => {
    const actions: Record<string, { summary: string; operand?: Operand }> = "actions" in command ? command.actions : {};
    const second: Record<string, Operand> = {};
    for (const [action, { operand }] of Object.entries(actions)) if (operand) second[action] = operand;
    const first =
      "operand" in command
        ? command.operand
        : Object.entries(actions).map(([word, action]) => ({ word, description: action.summary }));
    return { name, options: optionSpecs(command.args), first: first.length === 0 ? null : first, second };
  });
  return [top, ...commands];
}

/** The names an operand stands for, where they are known before TAB is pressed. */
function operandChoices(operand: Operand): Choice[] | null {
  if (operand === "widget-shells") return words(WIDGET_SHELL_NAMES);
  if (operand === "catalog-models") return CATALOG.map((m) => ({ word: m.name, description: m.note }));
  return null;
}

const resolve = (choices: readonly Choice[] | Operand): readonly Choice[] | null =>
  typeof choices === "string" ? operandChoices(choices) : choices;

/** A catalog model's file name in the models folder (models/hf.ts keeps catalog files at its top). */
const catalogFiles = () => CATALOG.map((m) => ({ name: m.name, file: m.uri.split("/").at(-1) ?? "" }));

/** Single-quoted for sh, bash and zsh. */
const quoted = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;
/** Single-quoted for fish, where a backslash escapes inside quotes too. */
const fishQuoted = (text: string) => `'${text.replace(/[\\']/g, "\\$&")}'`;

/** Lines for a `case` on "<scope> <word>": one arm per pattern set, in the syntax of sh or fish. */
interface Arm {
  patterns: string[];
  body: string[];
}

function shCase(subject: string, arms: Arm[], indent: string): string {
  const lines = [`${indent}case ${subject} in`];
  for (const arm of arms) {
    lines.push(`${indent}  ${arm.patterns.map(quoted).join(" | ")})`);
    for (const line of arm.body) lines.push(`${indent}    ${line}`);
    lines.push(`${indent}    ;;`);
  }
  lines.push(`${indent}esac`);
  return lines.join("\n");
}

function fishSwitch(subject: string, arms: Arm[], indent: string): string {
  const lines = [`${indent}switch ${subject}`];
  for (const arm of arms) {
    lines.push(`${indent}  case ${arm.patterns.map(fishQuoted).join(" ")}`);
    for (const line of arm.body) lines.push(`${indent}    ${line}`);
  }
  lines.push(`${indent}end`);
  return lines.join("\n");
}

/** The scope's options that take a value, as "<scope> <flag>" patterns. */
function valueOptionPatterns(scopes: Scope[]): string[] {
  return scopes.flatMap((s) =>
    s.options.filter((o) => o.value !== undefined).flatMap((o) => o.flags.map((f) => `${s.name} ${f}`)),
  );
}

/**
 * What a word completes to, as arms over "<scope> <what>": `<what>` is `-` for options, `1` and
 * `2 <action>` for words, `= <flag>` for an option's value. Each body calls `emit` on a list of
 * choices, or `dynamic` for the downloaded models.
 */
function completionArms(scopes: Scope[], emit: (choices: readonly Choice[]) => string[], dynamic: string[]): Arm[] {
  const arms: Arm[] = [];
  const body = (choices: readonly Choice[] | Operand) => {
    const known = resolve(choices);
    return known ? emit(known) : dynamic;
  };
  for (const scope of scopes) {
    const options = scope.options.flatMap((o) => o.flags.map((word) => ({ word, description: o.description })));
    arms.push({ patterns: [`${scope.name} -`], body: emit(options) });
    for (const option of scope.options)
      if (option.value)
        arms.push({ patterns: option.flags.map((f) => `${scope.name} = ${f}`), body: body(option.value) });
    if (scope.first) arms.push({ patterns: [`${scope.name} 1`], body: body(scope.first) });
    for (const [action, operand] of Object.entries(scope.second))
      arms.push({ patterns: [`${scope.name} 2 ${action}`], body: body(operand) });
  }
  return arms;
}

/** zsh and bash alike: after an option's value and `--x=`, what the word is (an option, a first or second word). */
const SH_WORD_KIND = `  elif [[ $cur == -* ]]; then
    what=-
  elif (( count == 0 )); then
    what=1
  elif (( count == 1 )); then
    what="2 $action"
  fi`;

function zsh(scopes: Scope[]): string {
  const entry = (c: Choice) => quoted(c.description ? `${c.word}:${c.description.replace(/:/g, "\\:")}` : c.word);
  const emit = (choices: readonly Choice[]) => [
    `_caro_c=(${choices.map(entry).join(" ")})`,
    "_describe -t caro caro _caro_c",
  ];
  const files = catalogFiles();
  return `# caro's completions for zsh (caro completions zsh), loaded by caro init zsh.
# Both run inside compsys, which sets the options its functions need (emulate would undo them).
_caro_downloaded_models() {
  \\builtin local dir=\${XDG_CACHE_HOME-}
  [[ $dir == /* ]] || dir=$HOME/.cache
  dir=$dir/caro/models
  \\builtin local -a found names
  found=($dir/**/*.gguf(N.))
  found=(\${found#\${(b)dir}/})
  \\builtin local f
  for f in $found; do
    case $f in
${files.map((m) => `      ${quoted(m.file)}) names+=(${quoted(m.name)}) ;;`).join("\n")}
      *) names+=($f) ;;
    esac
  done
  _describe -t models 'downloaded model' names
}

_caro() {
  \\builtin local scope='' what='' cur=\${words[CURRENT]} w='' skip='' action='' count=0 i
  \\builtin local -a _caro_c
  for (( i = 2; i < CURRENT; i++ )); do
    w=\${words[i]}
    if [[ -n $skip ]]; then skip=; continue; fi
    # After --, the words are a command of the user's own.
    [[ $w == -- ]] && \\builtin return 1
    if [[ $w == -* ]]; then
      case "$scope $w" in
        ${valueOptionPatterns(scopes).map(quoted).join("|") || "''"}) skip=1 ;;
      esac
      continue
    fi
    if (( i == 2 )) && [[ $w == (${Object.keys(COMMANDS).join("|")}) ]]; then scope=$w; continue; fi
    # The first word is not a command: a request, whose words complete to nothing.
    (( i == 2 )) && scope=request
    (( ++count == 1 )) && action=$w
  done
  if [[ -n $skip ]]; then
    what="= \${words[CURRENT-1]}"
  elif [[ $cur == --*=* ]]; then
    what="= \${cur%%=*}"
    compset -P '*='
${SH_WORD_KIND}
  [[ $scope == request ]] && scope=
${shCase('"$scope $what"', completionArms(scopes, emit, ["_caro_downloaded_models"]), "  ")}
}

if (( $+functions[compdef] )); then
  compdef _caro caro
elif [[ -z \${_caro_compdef_hooked-} ]]; then
  # compinit usually runs later in .zshrc: register at the first prompt after it has.
  \\builtin typeset -g _caro_compdef_hooked=1
  _caro_compdef() {
    \\builtin emulate -L zsh
    (( $+functions[compdef] )) || \\builtin return 0
    compdef _caro caro
    precmd_functions=(\${precmd_functions:#_caro_compdef})
  }
  \\builtin typeset -ga precmd_functions
  precmd_functions+=(_caro_compdef)
fi
`;
}

function bash(scopes: Scope[]): string {
  const emit = (choices: readonly Choice[]) => [
    `\\builtin mapfile -t COMPREPLY < <(\\builtin compgen -W ${quoted(choices.map((c) => c.word).join(" "))} ` +
      `-- "$cur")`,
  ];
  const files = catalogFiles();
  return `# caro's completions for bash (caro completions bash), loaded by caro init bash.
# They run under the user's options (set -euo pipefail, failglob): no glob, no step that may fail unchecked.
_caro_downloaded_models() {
  \\builtin local dir=\${XDG_CACHE_HOME-} f='' names=''
  [[ $dir == /* ]] || dir=$HOME/.cache
  dir=$dir/caro/models
  [[ -d $dir ]] || \\builtin return 0
  while IFS= \\builtin read -r f; do
    f=\${f#"$dir/"}
    case $f in
${files.map((m) => `      ${quoted(m.file)}) names+=${quoted(` ${m.name}`)} ;;`).join("\n")}
      *) names+=" $f" ;;
    esac
  done < <(command find "$dir" -name '*.gguf' -type f 2>/dev/null)
  \\builtin mapfile -t COMPREPLY < <(\\builtin compgen -W "$names" -- "$cur")
}

_caro() {
  COMPREPLY=()
  \\builtin local scope='' what='' cur=\${COMP_WORDS[COMP_CWORD]-} w='' skip='' action='' count=0 i
  \\builtin local prev=\${COMP_WORDS[COMP_CWORD-1]-}
  # bash splits --backend=ollama at the =: complete the value of the word before it.
  if [[ $cur == = ]]; then cur=; prev=\${COMP_WORDS[COMP_CWORD-1]-}; fi
  if [[ $prev == = ]] && (( COMP_CWORD >= 2 )); then prev=\${COMP_WORDS[COMP_CWORD-2]-}; fi
  for (( i = 1; i < COMP_CWORD; i++ )); do
    w=\${COMP_WORDS[i]}
    if [[ -n $skip ]]; then skip=; continue; fi
    [[ $w == = ]] && continue
    # After --, the words are a command of the user's own.
    [[ $w == -- ]] && \\builtin return 0
    if [[ $w == -* ]]; then
      case "$scope $w" in
        ${valueOptionPatterns(scopes).map(quoted).join("|") || "''"}) [[ \${COMP_WORDS[i+1]-} == = ]] || skip=1 ;;
      esac
      continue
    fi
    if (( i == 1 )); then
      case $w in
        ${Object.keys(COMMANDS).join("|")}) scope=$w; continue ;;
        # The first word is not a command: a request, whose words complete to nothing.
        *) scope=request ;;
      esac
    fi
    count=$((count + 1))
    if (( count == 1 )); then action=$w; fi
  done
  if [[ -n $skip || \${COMP_WORDS[COMP_CWORD-1]-} == = || \${COMP_WORDS[COMP_CWORD]-} == = ]]; then
    what="= $prev"
${SH_WORD_KIND}
  [[ $scope != request ]] || scope=
${shCase('"$scope $what"', completionArms(scopes, emit, ["_caro_downloaded_models"]), "  ")}
  \\builtin return 0
}

\\builtin complete -F _caro caro
`;
}

function fish(scopes: Scope[]): string {
  const entry = (c: Choice) => fishQuoted(c.description ? `${c.word}\t${c.description}` : c.word);
  const emit = (choices: readonly Choice[]) => [`builtin printf '%s\\n' ${choices.map(entry).join(" ")}`];
  const files = catalogFiles();
  const names = [
    ...files.map((m) => ({ patterns: [m.file], body: [`builtin echo ${quoted(m.name)}`] })),
    { patterns: ["*"], body: ["builtin echo $f"] },
  ];
  return `# caro's completions for fish (caro completions fish), loaded by caro init fish.
function _caro_downloaded_models
    set -l dir $XDG_CACHE_HOME
    builtin string match -q '/*' -- "$dir"; or set dir $HOME/.cache
    set dir $dir/caro/models
    test -d $dir; or return 0
    for f in $dir/**.gguf
        test -f $f; or continue
        set f (builtin string replace -- $dir/ '' $f)
${fishSwitch("$f", names, "        ")}
    end
end

function _caro_complete
    set -l tokens (commandline -opc)
    set -l cur (commandline -ct)
    set -l scope ''
    set -l what ''
    set -l skip ''
    set -l action ''
    set -l count 0
    set -l prefix ''
    set -l i 1
    while test $i -lt (builtin count $tokens)
        set i (math $i + 1)
        set -l w $tokens[$i]
        if test -n "$skip"
            set skip ''
            continue
        end
        # After --, the words are a command of the user's own.
        test "x$w" = x--; and return 0
        if builtin string match -q -- '-*' $w
            switch "$scope $w"
                case ${valueOptionPatterns(scopes).map(fishQuoted).join(" ")}
                    set skip 1
            end
            continue
        end
        if test $i -eq 2
            if builtin contains -- $w ${Object.keys(COMMANDS).join(" ")}
                set scope $w
                continue
            end
            # The first word is not a command: a request, whose words complete to nothing.
            set scope request
        end
        set count (math $count + 1)
        test $count -eq 1; and set action $w
    end
    if test -n "$skip"
        set what "= $tokens[-1]"
    else if builtin string match -q -- '--*=*' $cur
        set prefix (builtin string replace -r -- '=.*' '=' $cur)
        set what "= "(builtin string replace -r -- '=.*' '' $cur)
    else if builtin string match -q -- '-*' $cur
        set what -
    else if test $count -eq 0
        set what 1
    else if test $count -eq 1
        set what "2 $action"
    end
    test "$scope" = request; and set scope ''
    begin
${fishSwitch('"$scope $what"', completionArms(scopes, emit, ["_caro_downloaded_models"]), "        ")}
    end | while builtin read -l line
        builtin echo "$prefix$line"
    end
end

complete -c caro -e
complete -c caro -f -a '(_caro_complete)'
`;
}

/** The completion script for a shell, as \`caro completions <shell>\` prints it. */
export function completionScript(shell: WidgetShell): string {
  const scopes = completionScopes();
  const scripts: Record<WidgetShell, (scopes: Scope[]) => string> = { zsh, bash, fish };
  return scripts[shell](scopes);
}
