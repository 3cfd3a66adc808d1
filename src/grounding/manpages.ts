// The long options a program's manual page documents, read from the page's file (roff, plain or
// gzipped) in the folders man would search. Nothing is run: not man, not the program. A program
// without a page has nothing to check against; parsed pages are kept (bounded) while their file
// is unchanged.

import { readFileSync, realpathSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { gunzipSync } from "node:zlib";

/** Where man looks when MANPATH has an empty part (`:` at either end, or `::`). */
const DEFAULT_FOLDERS = ["/usr/local/share/man", "/usr/share/man", "/usr/local/man", "/opt/homebrew/share/man"];
/** Sections of commands: user commands, administration, games. */
const SECTIONS = ["1", "8", "6"];
/** Pages parsed and kept; each holds a set of some dozens of option names. */
const MAX_PAGES = 128;
/** A page larger than this is not a manual page. */
const MAX_PAGE_BYTES = 4 * 1024 * 1024;

/** The folders MANPATH names, with the defaults where it has an empty part; none when it is unset. */
export function manpathFolders(manpath: string | undefined): string[] {
  if (manpath === undefined || manpath === "") return [];
  const folders = manpath
    .split(":")
    .flatMap((part) => (part === "" ? DEFAULT_FOLDERS : part.startsWith("/") ? [part] : []));
  return [...new Set(folders)];
}

/**
 * The man folders of the install a program comes from: `/usr/bin/ls` → `/usr/share/man`,
 * `/opt/homebrew/bin/fd` → `/opt/homebrew/share/man` and its Cellar's. Only these are searched
 * when MANPATH is unset, as man-db does by PATH: a page of another install of the same program (a
 * distribution's older node beside a newer one in /usr/local) would judge options it never had.
 */
export function installFolders(program: string): string[] {
  const prefixes = new Set<string>();
  for (const path of [program, realpathOrSelf(program)]) {
    const prefix = dirname(dirname(path));
    // Before /usr was merged, /bin's pages were in /usr/share/man.
    prefixes.add(prefix === "/" ? "/usr" : prefix);
  }
  return [...prefixes].flatMap((prefix) => [join(prefix, "share", "man"), join(prefix, "man")]);
}

function realpathOrSelf(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

/** The file of `name`'s page in sections 1, 8 or 6, gzipped or not; null when there is none. */
export function findPage(name: string, folders: string[]): string | null {
  if (!/^[\w.+-]+$/.test(name) || name.startsWith(".")) return null;
  for (const folder of folders)
    for (const section of SECTIONS)
      for (const file of [`${name}.${section}.gz`, `${name}.${section}`]) {
        const path = join(folder, `man${section}`, file);
        try {
          if (statSync(path).isFile()) return path;
        } catch {
          // Not here: the next place.
        }
      }
  return null;
}

function readPage(path: string): string | null {
  try {
    const bytes = readFileSync(path);
    if (bytes.length > MAX_PAGE_BYTES) return null;
    const raw = path.endsWith(".gz") ? gunzipSync(bytes, { maxOutputLength: MAX_PAGE_BYTES }) : bytes;
    return raw.toString("utf8");
  } catch {
    return null;
  }
}

/**
 * The page's text with roff's markup taken out where it would hide an option: escaped hyphens
 * (`\-`, `\(hy`, `\[hy]`), font changes (`\fB`, `\f[CR]`), zero-width marks and thin spaces
 * (`\&`, `\%`, `\:`, `\^`, `\|`, `\/`, `\,`): grep's page writes `\-\^\-fixed\-strings`.
 */
export function plainRoff(text: string): string {
  return text
    .replace(/\\\((?:hy|mi|en)|\\\[(?:hy|mi|en)\]|\\-/g, "-")
    .replace(/\\f(?:\[[^\]]*\]|\([A-Za-z0-9]{2}|[A-Za-z0-9])/g, "")
    .replace(/\\[&%:)^|/,]/g, "")
    .replace(/\\e/g, "\\");
}

/**
 * Every long option a page names: `--name`, and both forms of `--[no-]name`. mdoc pages write a
 * flag as `.Fl -name` or `Fl -name`, which renders `--name`.
 */
export function pageOptions(roff: string): Set<string> {
  let text = plainRoff(roff);
  // mdoc: `Fl x` prints `-x`, so `Fl -name` is `--name`.
  text = text.replace(/(^\.|\s)Fl\s+-(?=[A-Za-z0-9])/gm, "$1 --");
  const options = new Set<string>();
  for (const match of text.matchAll(/--(\[no-?\])?([A-Za-z0-9][A-Za-z0-9_-]*)/g)) {
    const name = match[2].replace(/-+$/, "");
    options.add(name);
    if (match[1]) options.add(`${match[1].slice(1, -1)}${name}`);
  }
  return options;
}

/** What a page says of its program's command line. */
export interface PageInfo {
  /** The long options it names, without their dashes. */
  options: Set<string>;
  /**
   * It takes a subcommand (apt, systemctl, git): a COMMANDS section, or a synopsis naming a
   * command or a `{list | search | …}` choice. What follows the subcommand is the subcommand's,
   * whose options its own page lists, if there is one.
   */
  takesCommands: boolean;
}

const pages = new Map<string, PageInfo & { mtimeMs: number }>();

function section(roff: string, title: string): string {
  const start = new RegExp(String.raw`^\.S[HhSs]\s+"?${title}"?\s*$`, "im").exec(roff);
  if (!start) return "";
  const rest = roff.slice(start.index + start[0].length);
  const end = /^\.S[HhSs]\s/m.exec(rest);
  return end ? rest.slice(0, end.index) : rest;
}

/** Reads a page's roff into what is checked against it. */
export function parsePage(roff: string): PageInfo {
  const synopsis = plainRoff(section(roff, "SYNOPSIS"));
  const takesCommands =
    /^\.S[Hh]\s+"?[A-Z -]*COMMANDS\b/m.test(roff) || /\b(sub)?command\b/i.test(synopsis) || /\{[^}]*\|/.test(synopsis);
  return { options: pageOptions(roff), takesCommands };
}

/** `.so man1/other.1`: a page that is only a pointer to another, in the same tree. */
function followSo(path: string, text: string): string {
  const target = /^\.so\s+(\S+)\s*$/m.exec(text.slice(0, 512))?.[1];
  if (!target || text.length > 512) return text;
  const root = dirname(dirname(path));
  for (const candidate of [join(root, target), `${join(root, target)}.gz`]) {
    const followed = readPage(candidate);
    if (followed !== null) return followed;
  }
  return text;
}

/** What `path`'s page documents, from the kept parse while the file is unchanged. */
export function readManPage(path: string): PageInfo | null {
  let mtimeMs: number;
  try {
    mtimeMs = statSync(path).mtimeMs;
  } catch {
    return null;
  }
  const kept = pages.get(path);
  if (kept && kept.mtimeMs === mtimeMs) {
    pages.delete(path);
    pages.set(path, kept);
    return kept;
  }
  const text = readPage(path);
  if (text === null) return null;
  const info = parsePage(followSo(path, text));
  pages.set(path, { mtimeMs, ...info });
  if (pages.size > MAX_PAGES) pages.delete(pages.keys().next().value!);
  return info;
}

/**
 * Does a page's option set accept `--name`? Also true for an unambiguous start of a documented
 * option, which getopt_long takes (`--human` for `--human-readable`), and for `--no-x` where
 * `--x` is documented, a negation many programs take without listing it.
 */
export function acceptsOption(options: Set<string>, name: string): boolean {
  // Every GNU program takes these, and many pages do not say so.
  if (name === "help" || name === "version" || options.has(name)) return true;
  const negated = /^no-?(.+)$/.exec(name)?.[1];
  if (negated && options.has(negated)) return true;
  for (const option of options) if (option.startsWith(name)) return true;
  return false;
}
