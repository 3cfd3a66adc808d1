// What each shell runs without looking on PATH: its builtins and reserved words. The lists are the
// shells' own (bash 5.2 `compgen -b`/`compgen -k`, zsh 5.9 `${(k)builtins}`/`${(k)reswords}`,
// fish 3.6 and 4 `builtin -n` and the functions fish ships, dash for sh), so a command made of
// them needs nothing installed.

import type { Shell } from "../prompt/context.js";

const words = (text: string) => new Set(text.trim().split(/\s+/));

const BASH = words(`
  . : [ alias bg bind break builtin caller cd command compgen complete compopt continue declare
  dirs disown echo enable eval exec exit export false fc fg getopts hash help history jobs kill
  let local logout mapfile popd printf pushd pwd read readarray readonly return set shift shopt
  source suspend test times trap true type typeset ulimit umask unalias unset wait
  if then else elif fi case esac for select while until do done in function time { } ! [[ ]] coproc
`);

const ZSH = words(`
  - . : [ alias autoload bg bindkey break builtin bye cd chdir command compadd comparguments
  compcall compctl compdescribe compfiles compgroups compquote compset comptags comptry compvalues
  continue declare dirs disable disown echo echotc echoti emulate enable eval exec exit export
  false fc fg float functions getln getopts hash history integer jobs kill let limit local log
  logout noglob popd print printf private pushd pushln pwd r read readonly rehash return sched
  set setopt shift source suspend test times trap true ttyctl type typeset ulimit umask unalias
  unfunction unhash unlimit unset unsetopt vared wait whence where which zcompile zformat zle
  zmodload zparseopts zregexparse zstyle
  ! [[ ]] case coproc do done elif else end esac fi for foreach function if in nocorrect repeat
  select then time until while { }
`);

// fish's builtins, then the functions every fish ships that need no other program (psub, isatty,
// funced, fish_add_path, …); wrappers of programs (ls, grep, man, diff) are left to PATH.
const FISH = words(`
  . : [ _ abbr and argparse begin bg bind block break breakpoint builtin case cd command
  commandline complete contains continue count disown echo else emit end eval exec exit false fg
  fish_indent fish_key_reader for function functions history if jobs math not or path printf pwd
  random read realpath return set set_color source status string switch test time true type
  ulimit wait while
  alias cdh contains_seq dirh dirs export fish_add_path fish_opt funced funcsave isatty la ll
  nextd popd prevd psub pushd seq setenv suspend trap umask vared
`);

// dash, Debian's /bin/sh; POSIX's special and regular builtins are all among them.
const SH = words(`
  . : [ alias bg break cd chdir command continue echo eval exec exit export false fc fg getopts
  hash jobs kill local printf pwd read readonly return set shift test times trap true type ulimit
  umask unalias unset wait
  ! { } case do done elif else esac fi for if in then until while
`);

const BY_SHELL: Record<Shell, ReadonlySet<string>> = { bash: BASH, zsh: ZSH, fish: FISH, sh: SH };

/** Is `name` a builtin or reserved word of `shell`: something it runs without a program? */
export function isShellWord(shell: Shell, name: string): boolean {
  return BY_SHELL[shell].has(name);
}
