// What is in the folder a request comes from: a few of its entries, folders marked, and the git
// branch when it is in a repository. Read from the disk, bounded (in entries read, entries shown
// and characters), in a fixed order, so the same folder gives the same text: the embedded backend
// then reuses the tokens it evaluated for the last request from there. No program is run: the
// branch comes from .git/HEAD.

import { type Dirent, opendirSync, readFileSync, statSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";

export interface FolderOptions {
  /** Most entries shown. */
  maxEntries: number;
  /** Most characters of the entries shown, separators included. */
  maxChars: number;
}

export interface GitState {
  /** The branch checked out; null when HEAD is detached. */
  branch: string | null;
  /** Detached: the commit, abbreviated. */
  commit?: string;
}

export interface Folder {
  /** Entries shown, folders ending in `/`, in priority order. */
  entries: string[];
  /** Some entries were left out. */
  more: boolean;
  git: GitState | null;
}

/** Entries read at most: a folder of a million files costs no more than one of a few thousand. */
const MAX_READ = 4096;
/** A longer name is cut: its start says what it is. */
const MAX_NAME = 40;

/** Files that say what kind of project a folder is, and so which commands fit: shown first. */
const PROJECT_FILES = new Set([
  "package.json",
  "Makefile",
  "makefile",
  "GNUmakefile",
  "CMakeLists.txt",
  "meson.build",
  "configure",
  "Cargo.toml",
  "go.mod",
  "pyproject.toml",
  "setup.py",
  "requirements.txt",
  "Pipfile",
  "Gemfile",
  "pom.xml",
  "build.gradle",
  "build.gradle.kts",
  "mix.exs",
  "composer.json",
  "deno.json",
  "flake.nix",
  "default.nix",
  "justfile",
  "Justfile",
  "Dockerfile",
  "Containerfile",
  "docker-compose.yml",
  "docker-compose.yaml",
  "compose.yml",
  "compose.yaml",
]);

interface Entry {
  name: string;
  dir: boolean;
}

/** Project files, then folders, then files, then hidden ones; by name within each. */
function rank(entry: Entry): number {
  if (PROJECT_FILES.has(entry.name)) return 0;
  if (entry.name.startsWith(".")) return 3;
  return entry.dir ? 1 : 2;
}

const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function isDir(cwd: string, dirent: Dirent): boolean {
  if (dirent.isDirectory()) return true;
  if (!dirent.isSymbolicLink()) return false;
  try {
    return statSync(join(cwd, dirent.name)).isDirectory();
  } catch {
    return false;
  }
}

/**
 * A name as the model should read it: control characters shown as `?`, cut when long, and quoted
 * (as JSON) when it holds a space or a quote, so the space-separated list stays readable.
 */
export function shownName(name: string): string {
  let text = name.replace(/[\x00-\x1f\x7f-\x9f\u2028\u2029]/g, "?");
  if ([...text].length > MAX_NAME) text = `${[...text].slice(0, MAX_NAME - 1).join("")}…`;
  return /[\s"'\\]/.test(text) ? JSON.stringify(text) : text;
}

function readEntries(cwd: string): { entries: Dirent[]; complete: boolean } {
  const entries: Dirent[] = [];
  let dir: ReturnType<typeof opendirSync>;
  try {
    dir = opendirSync(cwd);
  } catch {
    return { entries, complete: true };
  }
  try {
    for (let entry = dir.readSync(); entry !== null; entry = dir.readSync()) {
      if (entries.length === MAX_READ) return { entries, complete: false };
      entries.push(entry);
    }
  } catch {
    // A folder that vanished or became unreadable midway: what was read is what there is.
  } finally {
    dir.closeSync();
  }
  return { entries, complete: true };
}

/** The branch (or detached commit) of the repository holding `cwd`, from its HEAD file; null outside one. */
export function gitState(cwd: string): GitState | null {
  let here = resolve(cwd);
  for (let depth = 0; depth < 64; depth++) {
    const dotGit = join(here, ".git");
    let gitDir: string | null = null;
    try {
      const stat = statSync(dotGit);
      if (stat.isDirectory()) gitDir = dotGit;
      else if (stat.isFile()) {
        // A worktree's or submodule's .git is a file: "gitdir: <path>", relative to its folder.
        const pointer = /^gitdir:\s*(.+?)\s*$/m.exec(readFileSync(dotGit, "utf8").slice(0, 4096))?.[1];
        if (pointer) gitDir = isAbsolute(pointer) ? pointer : resolve(here, pointer);
      }
    } catch {
      // No .git here: look in the parent.
    }
    if (gitDir !== null) return headOf(gitDir);
    const parent = dirname(here);
    if (parent === here) return null;
    here = parent;
  }
  return null;
}

function headOf(gitDir: string): GitState | null {
  let head: string;
  try {
    head = readFileSync(join(gitDir, "HEAD"), "utf8").slice(0, 1024).trim();
  } catch {
    return null;
  }
  const ref = /^ref:\s*refs\/heads\/(.+)$/.exec(head)?.[1];
  // A branch name is the repository's word: keep it printable and short.
  if (ref) return { branch: shownName(ref) };
  if (/^[0-9a-f]{40,64}$/.test(head)) return { branch: null, commit: head.slice(0, 7) };
  return null;
}

/** A bounded, ordered view of `cwd`: its first entries by priority, and its git branch. */
export function folderContext(cwd: string, options: FolderOptions): Folder {
  const git = gitState(cwd);
  if (options.maxEntries <= 0) return { entries: [], more: false, git };
  const { entries: read, complete } = readEntries(cwd);
  const ranked = read
    // The repository's own folder: the branch line says what there is to say of it.
    .filter((dirent) => dirent.name !== ".git")
    .map((dirent) => ({ name: dirent.name, dir: isDir(cwd, dirent) }))
    .map((e) => ({ ...e, rank: rank(e) }))
    .sort((a, b) => a.rank - b.rank || byName(a.name, b.name));
  const entries: string[] = [];
  let chars = 0;
  for (const entry of ranked) {
    if (entries.length === options.maxEntries) break;
    const text = shownName(entry.name) + (entry.dir ? "/" : "");
    const cost = text.length + (entries.length ? 1 : 0);
    if (chars + cost > options.maxChars) break;
    entries.push(text);
    chars += cost;
  }
  return { entries, more: !complete || entries.length < ranked.length, git };
}

/** The folder as lines of the request message; none for an empty folder outside a repository. */
export function folderLines(folder: Folder): string[] {
  const lines: string[] = [];
  if (folder.entries.length) lines.push(`folder: ${folder.entries.join(" ")}${folder.more ? " …" : ""}`);
  if (folder.git)
    lines.push(folder.git.branch ? `git branch: ${folder.git.branch}` : `git: detached at ${folder.git.commit}`);
  return lines;
}
