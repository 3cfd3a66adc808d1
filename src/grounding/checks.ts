// Is an answer right for the machine it will run on? From its syntax tree (safety/commands.ts,
// which sees through pipelines, lists, substitutions, sudo, xargs and find -exec): every program it
// runs exists there, every long option given to a program with a manual page on disk is in that
// page, and the text holds no broken bytes. Nothing is run to find out.

import { existsSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { isAbsolute, resolve } from "node:path";
import type { Shell } from "../prompt/context.js";
import { analyze, type SimpleCommand } from "../safety/commands.js";
import { findOnPath, isExecutableFile } from "./executables.js";
import { acceptsOption, findPage, installFolders, manpathFolders, readManPage } from "./manpages.js";
import { isShellWord } from "./shell-words.js";

export interface Grounding {
  shell: Shell;
  /** The folder the command will run in: `./script` is looked for there. */
  cwd: string;
  /** The requesting shell's variables: PATH for programs, MANPATH for pages, HOME for `~`. */
  env: Record<string, string | undefined>;
  /** Functions and aliases of the user's shell, which run without a program. */
  names?: readonly string[];
  /** Check long options against manual pages (default true). */
  manPages?: boolean;
}

export interface GroundingFinding {
  kind: "broken" | "program" | "option";
  /** One line, for the user and for the model's second try: "`fd` is not installed here". */
  reason: string;
}

/** U+FFFD: what a decoder writes for bytes that are not UTF-8. A model that wrote it wrote broken text. */
export const REPLACEMENT_CHARACTER = "\uFFFD";

export function holdsBrokenText(text: string): boolean {
  return text.includes(REPLACEMENT_CHARACTER);
}

export const BROKEN_TEXT_REASON = "it holds broken characters (U+FFFD)";

/**
 * Pages known to leave out long options their program takes: zsh's options live in zshoptions(1),
 * node's page lags its `--help`. Judged by them, right answers would be sent back.
 */
const INCOMPLETE_PAGES = new Set(["zsh", "node", "nodejs"]);

/** Programs that only look a name up: the command line has a way around that name's absence. */
const LOOKUPS = new Set(["which", "type", "hash", "whence", "where", "whereis"]);

const quoted = (text: string) => `\`${text}\``;

/** Names the command line makes runnable itself: functions it defines, aliases it sets, names it probes for. */
function namesDefinedIn(analysis: Awaited<ReturnType<typeof analyze>>): Set<string> {
  const names = new Set<string>([...analysis.functions, ...analysis.probed]);
  for (const command of analysis.commands) {
    if (command.name === "alias")
      for (const arg of command.args) {
        const name = /^([^=\s]+)=/.exec(arg.text)?.[1];
        if (name) names.add(name);
      }
    if (LOOKUPS.has(command.name)) for (const arg of command.args) if (!arg.text.startsWith("-")) names.add(arg.text);
  }
  return names;
}

/**
 * Every word of the command line that a command before or beside a path could be making it with (`-o hello`, `> x.sh`).
 */
function mentioned(analysis: Awaited<ReturnType<typeof analyze>>): Set<string> {
  const words = new Set<string>();
  for (const command of analysis.commands) for (const arg of command.args) words.add(arg.text);
  for (const redirect of analysis.redirects) words.add(redirect.target.text);
  return words;
}

function expandHome(text: string, env: Grounding["env"]): string {
  return text.replace(/^~(?=\/|$)/, env.HOME || homedir());
}

/** Why a program named by a path (`./build.sh`, `/opt/x/bin/y`, `~/bin/z`) will not run, or null. */
function pathProblem(text: string, where: Grounding, made: Set<string>): string | null {
  const path = resolve(where.cwd, expandHome(text, where.env));
  if (isExecutableFile(path)) return null;
  // `gcc -o hello hello.c && ./hello`, `chmod +x run.sh && ./run.sh`: made or fixed by the line itself.
  const base = text.replace(/^.*\//, "");
  if ([...made].some((word) => word === text || word.replace(/^.*\//, "") === base)) return null;
  if (!existsSync(path)) return `${quoted(text)} does not exist here`;
  if (statSync(path).isDirectory()) return `${quoted(text)} is a folder, not a program`;
  return `${quoted(text)} is not executable`;
}

/** The program a command runs, where it can be known: a path, or a name to find; null to leave unjudged. */
function programOf(command: SimpleCommand): { path: string } | { name: string } | null {
  if (command.word.unknown.length > 0 || command.word.substitutions.length > 0) return null;
  const text = command.word.text;
  if (text === "" || /[*?[]/.test(text)) return null;
  return text.includes("/") ? { path: text } : { name: text };
}

function programProblem(
  command: SimpleCommand,
  where: Grounding,
  known: Set<string>,
  made: Set<string>,
  movesAround = false,
): string | null {
  const program = programOf(command);
  if (program === null) return null;
  if ("path" in program)
    return movesAround && !/^[/~]/.test(program.path) ? null : pathProblem(program.path, where, made);
  const { name } = program;
  if (isShellWord(where.shell, name) || known.has(name)) return null;
  if (findOnPath(name, where.env.PATH)) return null;
  return `${quoted(name)} is not installed here`;
}

/** The program's file: where its page is looked for, beside it. */
function programFile(command: SimpleCommand, where: Grounding): string | null {
  const program = programOf(command);
  if (program === null) return null;
  if ("name" in program) return findOnPath(program.name, where.env.PATH);
  const path = resolve(where.cwd, expandHome(program.path, where.env));
  return isAbsolute(path) && isExecutableFile(path) ? path : null;
}

/** Long options a command gives its program that the program's manual page does not name. */
function optionProblems(command: SimpleCommand, where: Grounding, known: Set<string>): string[] {
  const { name } = command;
  if (isShellWord(where.shell, name) || known.has(name) || INCOMPLETE_PAGES.has(name)) return [];
  const file = programFile(command, where);
  if (file === null) return [];
  const folders = [...installFolders(file), ...manpathFolders(where.env.MANPATH)];
  const mainPage = findPage(name, folders);
  const main = mainPage && readManPage(mainPage);
  // A page naming no long option at all (ip, ssh, mawk) writes its long options with one dash, or none.
  if (!main || main.options.size === 0) return [];
  const problems: string[] = [];
  let options: Set<string> | null = main.options;
  let operands = 0;
  for (const arg of command.args) {
    const text = arg.text;
    // What follows find's -exec is the command it runs, judged on its own.
    if (text === "--" || (name === "find" && /^-(exec|execdir|ok|okdir)$/.test(text))) break;
    if (arg.unknown.length > 0) continue;
    if (!text.startsWith("-")) {
      if (operands++ > 0) continue;
      // A subcommand with a page of its own (git-log, npm-install) takes the options of both
      // pages; past a subcommand without one (apt install), the options are not known.
      const subPage = /^[a-z][\w-]*$/.test(text) ? findPage(`${name}-${text}`, folders) : null;
      const sub = subPage && readManPage(subPage);
      if (sub) options = new Set([...main.options, ...sub.options]);
      else if (main.takesCommands) options = null;
      continue;
    }
    const option = /^--([A-Za-z0-9][\w-]*)(?:=|$)/.exec(text)?.[1];
    if (option && options && !acceptsOption(options, option))
      problems.push(`${quoted(name)} has no option ${quoted(`--${option}`)}`);
  }
  return problems;
}

/**
 * What is wrong with `command` on this machine, one line each; none when nothing is. Commands
 * that run elsewhere (after ssh) or may be no command at all (strings in `python3 -c` code) are
 * not judged.
 */
export async function groundingFindings(command: string, where: Grounding): Promise<GroundingFinding[]> {
  if (holdsBrokenText(command)) return [{ kind: "broken", reason: BROKEN_TEXT_REASON }];
  const analysis = await analyze(command, { fish: where.shell === "fish" });
  const known = new Set([...(where.names ?? []), ...namesDefinedIn(analysis)]);
  const made = mentioned(analysis);
  // After a cd, a relative path is relative to a folder caro cannot know: leave it unjudged.
  const movesAround = analysis.commands.some((c) => ["cd", "pushd", "popd"].includes(c.name));
  const findings: GroundingFinding[] = [];
  const add = (kind: GroundingFinding["kind"], reason: string | null) => {
    if (reason && !findings.some((f) => f.reason === reason)) findings.push({ kind, reason });
  };
  for (const simple of analysis.commands) {
    if (simple.guessed) continue;
    // The wrappers it runs through are programs too (sudo, xargs, timeout, `bash -c`), up to an
    // ssh, past which everything runs on another machine.
    for (const via of simple.via) {
      const wrapper = via.split(" ")[0];
      if (via === "find -exec") continue;
      const asCommand = { ...simple, name: wrapper, word: { text: wrapper, unknown: [], substitutions: [] } };
      add("program", programProblem(asCommand, where, known, made));
      if (wrapper === "ssh") break;
    }
    if (simple.remote) continue;
    const problem = programProblem(simple, where, known, made, movesAround);
    add("program", problem);
    if (problem === null && where.manPages !== false)
      for (const reason of optionProblems(simple, where, known)) add("option", reason);
  }
  return findings;
}
