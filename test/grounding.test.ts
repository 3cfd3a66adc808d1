// The building blocks of grounded answers, on fixtures only (fake PATH folders, fixture manual pages
// in a temporary MANPATH, fixture folders and repositories): nothing here depends on what this
// machine has installed.

import { mkdirSync, mkdtempSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { beforeAll, describe, expect, it } from "vitest";
import { findOnPath, pathFolders } from "../src/grounding/executables.js";
import { folderContext, folderLines, gitState, shownName } from "../src/grounding/folder.js";
import { inventoryText, machineInventory } from "../src/grounding/inventory.js";
import {
  acceptsOption,
  findPage,
  installFolders,
  manpathFolders,
  pageOptions,
  parsePage,
  plainRoff,
} from "../src/grounding/manpages.js";
import type { UserRequest } from "../src/answer/types.js";
import { type Settings, settingSpecs } from "../src/config/schema.js";
import { type Grounding, groundingFindings } from "../src/grounding/checks.js";
import { addedContext, contextLines, destinationOf, isLoopbackUrl } from "../src/grounding/context.js";
import { isShellWord } from "../src/grounding/shell-words.js";

const temp = () => mkdtempSync(join(tmpdir(), "caro-grounding-"));

/** A folder of executables (and, with `plain`, of files that are not). */
function binFolder(names: string[], plain: string[] = []): string {
  const dir = temp();
  for (const name of names) writeFileSync(join(dir, name), "#!/bin/sh\n", { mode: 0o755 });
  for (const name of plain) writeFileSync(join(dir, name), "not a program\n", { mode: 0o644 });
  return dir;
}

function write(path: string, text: string | Buffer) {
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, text);
}

describe("programs on a PATH", () => {
  it("finds executables in PATH order, never plain files, relative or empty entries", () => {
    const a = binFolder(["tool"], ["plain"]);
    const b = binFolder(["tool", "plain", "other"]);
    const path = `${a}::relative:${b}`;
    expect(pathFolders(path)).toEqual([a, b]);
    expect(findOnPath("tool", path)).toBe(join(a, "tool"));
    expect(findOnPath("plain", path)).toBe(join(b, "plain"));
    expect(findOnPath("other", path)).toBe(join(b, "other"));
    expect(findOnPath("missing", path)).toBeNull();
    expect(findOnPath("a/tool", path)).toBeNull();
  });

  it("sees a program installed after the first look (the folder's mtime moves)", () => {
    const dir = binFolder(["one"]);
    expect(findOnPath("two", dir)).toBeNull();
    writeFileSync(join(dir, "two"), "#!/bin/sh\n", { mode: 0o755 });
    // The same second on a coarse clock: move the mtime on explicitly.
    utimesSync(dir, new Date(), new Date(Date.now() + 5000));
    expect(findOnPath("two", dir)).toBe(join(dir, "two"));
  });
});

describe("the machine inventory", () => {
  it("names the package manager, what is installed and what a model would reach for that is missing", () => {
    const path = binFolder(["apt", "apt-get", "grep", "find", "ss", "lsof", "curl", "tar", "python3", "git"]);
    const inventory = machineInventory(path);
    expect(inventory.packageManagers).toEqual(["apt"]);
    expect(inventory.installed).toEqual(["grep", "find", "ss", "lsof", "tar", "curl", "python3", "git"]);
    const text = inventoryText(inventory);
    expect(text).toBe(
      [
        "Package manager: apt.",
        "Installed: grep, find, ss, lsof, tar, curl, python3, git.",
        // netstat (after ss), wget (after curl), python (after python3) are not worth naming.
        "Not installed: rg, fd, fdfind, ip, ifconfig, jq, 7z, unzip, docker, podman, systemctl, service, launchctl, " +
          "pbcopy, wl-copy, xclip, xsel, rsync.",
      ].join("\n"),
    );
  });

  it("is the same text, in the same order, for the same tools found in other folders", () => {
    const one = inventoryText(machineInventory(binFolder(["dnf", "rg", "fd", "jq", "podman", "wget"])));
    const two = inventoryText(
      machineInventory(`${binFolder(["wget", "podman"])}:${binFolder(["jq", "fd", "rg", "dnf"])}`),
    );
    expect(two).toBe(one);
    expect(one).toMatch(/^Package manager: dnf\.\nInstalled: rg, fd, jq, wget, podman\.\nNot installed: /);
  });

  it("names every package manager found, and says when there is none", () => {
    expect(machineInventory(binFolder(["brew", "pacman", "nix-env"])).packageManagers).toEqual([
      "pacman",
      "brew",
      "nix",
    ]);
    expect(inventoryText(machineInventory(binFolder(["ls"])))).toMatch(/^Package manager: none found\./);
  });

  it("changes when a tool is installed, and only then", () => {
    const dir = binFolder(["apk", "grep"]);
    const before = inventoryText(machineInventory(dir));
    expect(inventoryText(machineInventory(dir))).toBe(before);
    writeFileSync(join(dir, "rg"), "#!/bin/sh\n", { mode: 0o755 });
    utimesSync(dir, new Date(), new Date(Date.now() + 10_000));
    expect(inventoryText(machineInventory(dir))).toMatch(/Installed: rg, grep\./);
  });
});

describe("the folder context", () => {
  let dir: string;
  beforeAll(() => {
    dir = temp();
    for (const d of ["src", "test", "node_modules", ".cache"]) mkdirSync(join(dir, d));
    for (const f of ["README.md", "package.json", "a.txt", "Makefile", ".env", "my notes.txt", "b\nc.txt"])
      writeFileSync(join(dir, f), "");
    writeFileSync(join(dir, `${"x".repeat(60)}.log`), "");
    symlinkSync(join(dir, "src"), join(dir, "source"));
  });

  it("shows project files, then folders (marked), then files, then hidden ones, by name", () => {
    const folder = folderContext(dir, { maxEntries: 64, maxChars: 10_000 });
    expect(folder.entries).toEqual([
      "Makefile",
      "package.json",
      "node_modules/",
      "source/",
      "src/",
      "test/",
      "README.md",
      "a.txt",
      "b?c.txt",
      '"my notes.txt"',
      `${"x".repeat(39)}…`,
      ".cache/",
      ".env",
    ]);
    expect(folder.more).toBe(false);
  });

  it("is bounded in entries and in characters, and says more are left out", () => {
    const few = folderContext(dir, { maxEntries: 3, maxChars: 1000 });
    expect(few.entries).toEqual(["Makefile", "package.json", "node_modules/"]);
    expect(few.more).toBe(true);
    const short = folderContext(dir, { maxEntries: 64, maxChars: 30 });
    expect(short.entries.join(" ").length).toBeLessThanOrEqual(30);
    expect(short.entries).toEqual(["Makefile", "package.json"]);
    expect(folderLines(short)[0]).toBe("folder: Makefile package.json …");
  });

  it("shows nothing with no entries asked for, and nothing for an empty or unreadable folder", () => {
    expect(folderContext(dir, { maxEntries: 0, maxChars: 100 }).entries).toEqual([]);
    expect(folderLines(folderContext(temp(), { maxEntries: 8, maxChars: 100 }))).toEqual([]);
    expect(folderContext(join(dir, "gone"), { maxEntries: 8, maxChars: 100 }).entries).toEqual([]);
  });

  it("shows a name as the model should read it: no control characters, cut when long, quoted with spaces", () => {
    expect(shownName("plain.txt")).toBe("plain.txt");
    expect(shownName("a\x1b[31mred")).toBe("a?[31mred");
    expect(shownName('say "hi"')).toBe('"say \\"hi\\""');
    expect([...shownName("é".repeat(50))].length).toBe(40);
  });
});

describe("the git branch, from .git/HEAD", () => {
  it("reads the branch from any folder inside the repository", () => {
    const repo = temp();
    write(join(repo, ".git", "HEAD"), "ref: refs/heads/feature/x\n");
    mkdirSync(join(repo, "src", "deep"), { recursive: true });
    expect(gitState(repo)).toEqual({ branch: "feature/x" });
    expect(gitState(join(repo, "src", "deep"))).toEqual({ branch: "feature/x" });
    expect(folderLines({ entries: [], more: false, git: gitState(repo) })).toEqual(["git branch: feature/x"]);
  });

  it("follows a worktree's .git file to its own HEAD, relative or absolute", () => {
    const main = temp();
    write(join(main, ".git", "HEAD"), "ref: refs/heads/main\n");
    write(join(main, ".git", "worktrees", "wt", "HEAD"), "ref: refs/heads/topic\n");
    const relative = temp();
    write(join(relative, ".git"), `gitdir: ${join(main, ".git", "worktrees", "wt")}\n`);
    expect(gitState(relative)).toEqual({ branch: "topic" });
    const sub = join(main, "sub");
    write(join(sub, ".git"), "gitdir: ../.git/worktrees/wt\n");
    expect(gitState(sub)).toEqual({ branch: "topic" });
  });

  it("says detached at a commit; nothing outside a repository or for a HEAD it cannot read", () => {
    const repo = temp();
    write(join(repo, ".git", "HEAD"), "9fceb02d0ae598e95dc970b74767f19372d61af8\n");
    expect(gitState(repo)).toEqual({ branch: null, commit: "9fceb02" });
    expect(folderLines({ entries: [], more: false, git: gitState(repo) })).toEqual(["git: detached at 9fceb02"]);
    const broken = temp();
    write(join(broken, ".git", "HEAD"), "garbage");
    expect(gitState(broken)).toBeNull();
    // A branch name is the repository's word: nothing in it reaches the prompt unshown.
    const hostile = temp();
    write(join(hostile, ".git", "HEAD"), "ref: refs/heads/a\x1b]0;x\x07b\n");
    expect(gitState(hostile)?.branch).toBe("a?]0;x?b");
  });
});

describe("shell builtins and reserved words", () => {
  it("knows each shell's own", () => {
    expect(isShellWord("zsh", "print")).toBe(true);
    expect(isShellWord("bash", "print")).toBe(false);
    expect(isShellWord("bash", "mapfile")).toBe(true);
    expect(isShellWord("sh", "mapfile")).toBe(false);
    expect(isShellWord("fish", "string")).toBe(true);
    expect(isShellWord("fish", "psub")).toBe(true);
    expect(isShellWord("bash", "string")).toBe(false);
    for (const shell of ["bash", "zsh", "fish", "sh"] as const) {
      expect(isShellWord(shell, "cd")).toBe(true);
      expect(isShellWord(shell, "ls")).toBe(false);
    }
    expect(isShellWord("bash", "[[")).toBe(true);
    expect(isShellWord("sh", "[[")).toBe(false);
  });
});

const FROB_PAGE = String.raw`.TH FROB 1
.SH NAME
frob \- frobnicate files
.SH SYNOPSIS
.B frob
[\fIOPTION\fR]... [\fIFILE\fR]...
.SH DESCRIPTION
.TP
\fB\-f\fR, \fB\-\-fast\fR
go fast
.TP
\fB\-\-sort\fR=\fI\,WORD\/\fR
sort by WORD
.TP
\-\^\-colou\&r[=\fIWHEN\fR]
.TP
.BR \-\-[no\-]verify
.TP
\f[B]\(hy\(hyhuman\-readable\f[]
`;

describe("manual pages", () => {
  it("reads long options through roff's escapes", () => {
    expect(plainRoff(String.raw`\fB\-\-fast\fR \-\^\-fixed\-strings \f[CR]\(hy\(hyx\f[]`)).toBe(
      "--fast --fixed-strings --x",
    );
    expect([...pageOptions(FROB_PAGE)].sort()).toEqual(
      ["colour", "fast", "human-readable", "no-verify", "sort", "verify"].sort(),
    );
  });

  it("reads mdoc's Fl flags", () => {
    expect(pageOptions(".Sh SYNOPSIS\n.Nm\n.Op Fl -long-one\n.It Fl -other Ar x\n.Fl v").has("long-one")).toBe(true);
    expect(pageOptions(".It Fl -other Ar x").has("other")).toBe(true);
  });

  it("tells a program that takes subcommands", () => {
    expect(parsePage(FROB_PAGE).takesCommands).toBe(false);
    expect(parsePage('.SH "SYNOPSIS"\n\\fBvcs\\fR <command> [<args>]\n.SH OPTIONS').takesCommands).toBe(true);
    expect(parsePage(".SH SYNOPSIS\npkg {install | remove} name\n.SH DESCRIPTION").takesCommands).toBe(true);
    expect(parsePage('.SH NAME\nx\n.SH "COMMANDS"\n.TP\nstart').takesCommands).toBe(true);
  });

  it("accepts a documented option, an unambiguous start of one, --no- of one, --help and --version", () => {
    const options = pageOptions(FROB_PAGE);
    for (const name of ["fast", "sort", "human", "no-fast", "verify", "no-verify", "help", "version"])
      expect(acceptsOption(options, name)).toBe(true);
    for (const name of ["sort-size", "slow", "fastest"]) expect(acceptsOption(options, name)).toBe(false);
  });

  it("finds pages in man1, man8 and man6, gzipped or not, in the order of MANPATH", () => {
    const one = temp();
    const two = temp();
    write(join(one, "man8", "frobd.8.gz"), gzipSync(FROB_PAGE));
    write(join(two, "man1", "frobd.1"), FROB_PAGE);
    write(join(two, "man1", "frob.1"), FROB_PAGE);
    const folders = manpathFolders(`${one}:${two}`);
    expect(findPage("frob", folders)).toBe(join(two, "man1", "frob.1"));
    expect(findPage("frobd", folders)).toBe(join(one, "man8", "frobd.8.gz"));
    expect(findPage("none", folders)).toBeNull();
    expect(findPage("../x", folders)).toBeNull();
  });

  it("reads MANPATH as man does: an empty part stands for the default folders; unset, none", () => {
    expect(manpathFolders(undefined)).toEqual([]);
    expect(manpathFolders("/a:relative:/b")).toEqual(["/a", "/b"]);
    expect(manpathFolders("/a:")).toContain("/usr/share/man");
  });

  it("looks beside the program's own install first", () => {
    expect(installFolders("/usr/bin/ls")).toContain("/usr/share/man");
    expect(installFolders("/opt/tool/bin/x")).toEqual(["/opt/tool/share/man", "/opt/tool/man"]);
  });
});

describe("checking a command against the machine", () => {
  let where: Grounding;
  let bin: string;
  let cwd: string;
  let home: string;
  beforeAll(() => {
    bin = binFolder(["frob", "vcs", "pkg", "nopage", "sudo", "xargs", "ls", "grep", "bare", "ssh", "python3", "which"]);
    const man = temp();
    write(join(man, "man1", "frob.1.gz"), gzipSync(FROB_PAGE));
    write(join(man, "man1", "ls.1"), ".SH SYNOPSIS\nls [OPTION]\n.TP\n\\-\\-all\n.TP\n\\-\\-sort=WORD");
    write(join(man, "man1", "grep.1"), ".SH SYNOPSIS\ngrep [OPTION] PATTERNS\n.TP\n\\-\\-color\n");
    write(join(man, "man1", "vcs.1"), '.SH SYNOPSIS\nvcs [\\-\\-paginate] <command>\n.SH "VCS COMMANDS"');
    write(join(man, "man1", "vcs-log.1"), ".SH SYNOPSIS\nvcs log\n.TP\n\\-\\-oneline\n");
    write(join(man, "man8", "pkg.8"), ".SH SYNOPSIS\npkg [\\-\\-quiet] {install | remove}\n");
    write(join(man, "man1", "bare.1"), ".SH SYNOPSIS\nbare \\-brief\n");
    write(join(man, "man1", "sudo.1"), ".SH SYNOPSIS\nsudo [\\-\\-user] command\n");
    cwd = temp();
    home = temp();
    writeFileSync(join(cwd, "run.sh"), "#!/bin/sh\n", { mode: 0o755 });
    writeFileSync(join(cwd, "notes.sh"), "echo\n", { mode: 0o644 });
    mkdirSync(join(cwd, "src"));
    mkdirSync(join(home, "bin"));
    writeFileSync(join(home, "bin", "mine"), "#!/bin/sh\n", { mode: 0o755 });
    where = { shell: "bash", cwd, env: { PATH: bin, MANPATH: man, HOME: home } };
  });
  const findings = async (command: string, changes: Partial<Grounding> = {}) =>
    (await groundingFindings(command, { ...where, ...changes })).map((f) => f.reason);

  it("passes a command whose programs are all there", async () => {
    expect(await findings("frob --fast a | grep --color x && ls --all")).toEqual([]);
  });

  it("names a program that is not installed, in every place a command runs", async () => {
    expect(await findings("fd -e py")).toEqual(["`fd` is not installed here"]);
    expect(await findings("ls | xargs fd")).toEqual(["`fd` is not installed here"]);
    expect(await findings("find . -exec fd {} +")).toEqual([
      "`find` is not installed here",
      "`fd` is not installed here",
    ]);
    expect(await findings("echo $(fd x)")).toEqual(["`fd` is not installed here"]);
    expect(await findings("sudo fd x")).toEqual(["`fd` is not installed here"]);
    expect(await findings("bash -c 'fd x'")).toEqual(["`bash` is not installed here", "`fd` is not installed here"]);
    expect(await findings("ls && rg x || ag y")).toEqual(["`rg` is not installed here", "`ag` is not installed here"]);
  });

  it("names a missing wrapper: sudo on a machine without it", async () => {
    expect(await findings("sudo ls", { env: { ...where.env, PATH: binFolder(["ls"]) } })).toEqual([
      "`sudo` is not installed here",
    ]);
  });

  it("takes builtins and keywords of the target shell only", async () => {
    expect(await findings("print -l a b", { shell: "zsh" })).toEqual([]);
    expect(await findings("print -l a b", { shell: "bash" })).toEqual(["`print` is not installed here"]);
    expect(await findings("for f in *; do echo $f; done; [[ -n x ]] && cd src")).toEqual([]);
    expect(await findings("set -l x (string upper a); and echo $x", { shell: "fish" })).toEqual([]);
  });

  it("takes the user's functions and aliases, and those the line defines", async () => {
    expect(await findings("gst", { names: ["gst", "ll"] })).toEqual([]);
    expect(await findings("f() { ls; }; f")).toEqual([]);
    expect(await findings("alias g=grep; g x")).toEqual([]);
    expect(await findings("function f; ls; end; f", { shell: "fish" })).toEqual([]);
  });

  it("leaves alone a program the line looks for first, with a way around it", async () => {
    expect(await findings("command -v fd >/dev/null && fd x || ls")).toEqual([]);
    expect(await findings("if which rg; then rg x; else grep x; fi")).toEqual([]);
  });

  it("judges paths: relative to the folder, absolute, under ~; made by the line itself is fine", async () => {
    expect(await findings("./run.sh")).toEqual([]);
    expect(await findings("./missing.sh")).toEqual(["`./missing.sh` does not exist here"]);
    expect(await findings("./notes.sh")).toEqual(["`./notes.sh` is not executable"]);
    expect(await findings("./src")).toEqual(["`./src` is a folder, not a program"]);
    expect(await findings(`${join(bin, "frob")} --fast`)).toEqual([]);
    expect(await findings("/nonexistent/tool")).toEqual(["`/nonexistent/tool` does not exist here"]);
    expect(await findings("~/bin/mine")).toEqual([]);
    expect(await findings("frob -o hello hello.c && ./hello")).toEqual([]);
    expect(await findings("frob > build.sh && ./build.sh")).toEqual([]);
    // After a cd, a relative path is somewhere caro cannot know.
    expect(await findings("cd src && ./configure")).toEqual([]);
  });

  it("leaves unjudged what it cannot know: variables, ssh's remote side, strings in interpreter code", async () => {
    expect(await findings("$EDITOR notes.txt")).toEqual([]);
    expect(await findings('"$(which frob)" --slow')).toEqual([]);
    expect(await findings("ssh host 'fd x --nope'")).toEqual([]);
    expect(await findings("python3 -c \"print('hello world')\"")).toEqual([]);
  });

  it("names a long option the program's manual page does not", async () => {
    expect(await findings("frob --sort-size")).toEqual(["`frob` has no option `--sort-size`"]);
    expect(await findings("frob --sortt=name x")).toEqual(["`frob` has no option `--sortt`"]);
    expect(await findings("frob --sort=size --human --no-verify --colour=auto")).toEqual([]);
    expect(await findings("ls | xargs frob --bogus")).toEqual(["`frob` has no option `--bogus`"]);
    expect(await findings("sudo frob --bogus")).toEqual(["`frob` has no option `--bogus`"]);
    expect(
      await findings("find . -exec frob --bogus {} +", { env: { ...where.env, PATH: `${bin}:/usr/bin` } }),
    ).toEqual(["`frob` has no option `--bogus`"]);
  });

  it("reads options with GNU's rules: operands in between, nothing after --", async () => {
    expect(await findings("frob file --bogus")).toEqual(["`frob` has no option `--bogus`"]);
    expect(await findings("frob -- --bogus")).toEqual([]);
  });

  it("judges a subcommand's options by its own page, and not at all without one", async () => {
    expect(await findings("vcs --paginate log --oneline")).toEqual([]);
    expect(await findings("vcs log --graphh")).toEqual(["`vcs` has no option `--graphh`"]);
    expect(await findings("pkg install --no-install-recommends x")).toEqual([]);
    expect(await findings("pkg --bogus install x")).toEqual(["`pkg` has no option `--bogus`"]);
  });

  it("does not judge options without a page, with a page naming none, or of builtins", async () => {
    expect(await findings("nopage --anything")).toEqual([]);
    expect(await findings("bare --brief")).toEqual([]);
    expect(await findings("echo --anything")).toEqual([]);
    expect(await findings("frob --bogus", { manPages: false })).toEqual([]);
  });

  it("refuses broken text before anything else", async () => {
    expect(await findings("ls \uFFFD")).toEqual(["it holds broken characters (U+FFFD)"]);
  });
});

describe("what caro adds to a request, and where it may go", () => {
  const settings = (changes: Partial<Settings> = {}): Settings => ({
    ...(Object.fromEntries(Object.entries(settingSpecs).map(([key, spec]) => [key, spec.default])) as Settings),
    ...changes,
  });
  const secretsDir = () => {
    const dir = temp();
    writeFileSync(join(dir, "password=hunter2.txt"), "");
    write(join(dir, ".git", "HEAD"), "ref: refs/heads/main\n");
    return dir;
  };
  const fix = (cwd: string, context = {}): UserRequest => ({
    words: "mysql -u root -phunter2 shop",
    intent: { kind: "fix", command: "mysql -u root -phunter2 shop", status: 1 },
    shell: "bash",
    cwd,
    env: { PATH: binFolder(["apt", "rg"]) },
    flags: {},
    context: {
      history: ["ls", "export GITHUB_TOKEN=ghp_0123456789abcdefghijABCDEFGHIJ012345", "git status"],
      screen: "ERROR 1045 (28000): Access denied; AWS_SECRET_ACCESS_KEY=abc123def456",
      ...context,
    },
  });

  it("tells loopback addresses from others", () => {
    for (const url of ["http://localhost:11434", "http://127.0.0.1:8000", "http://127.8.9.1", "http://[::1]:8000"])
      expect(isLoopbackUrl(url)).toBe(true);
    for (const url of ["http://10.0.0.5:11434", "https://api.example.com", "http://localhost.example.com", "nonsense"])
      expect(isLoopbackUrl(url)).toBe(false);
    expect(destinationOf("embedded", settings())).toEqual({ local: true, to: "this machine" });
    expect(destinationOf("ollama", settings({ "backends.ollama.host": "http://10.1.2.3:11434" })).local).toBe(false);
    expect(destinationOf("vllm", settings()).local).toBe(true);
  });

  it("sends the tools, the folder, the branch and the failed command to this machine as they are", () => {
    const added = addedContext(fix(secretsDir()), settings({ "context.history": 2 }), true);
    expect(added.tools).toMatch(/^Package manager: apt\.\nInstalled: rg\./);
    expect(added.place).toEqual(["folder: password=hunter2.txt", "git branch: main"]);
    expect(added.history).toEqual(["export GITHUB_TOKEN=ghp_0123456789abcdefghijABCDEFGHIJ012345", "git status"]);
    expect(added.fixCommand).toBe("mysql -u root -phunter2 shop");
    expect(added.screen).toContain("abc123def456");
    expect(added.redacting).toBe(false);
  });

  it("redacts all of it for a server elsewhere, and keeps the screen from it unless asked", () => {
    const remote = addedContext(fix(secretsDir()), settings({ "context.history": 5 }), false);
    const sent = contextLines(remote).join("\n");
    for (const secret of ["hunter2", "ghp_0123", "abc123def456"]) expect(sent).not.toContain(secret);
    expect(remote.place[0]).toBe("folder: password=[redacted]");
    expect(remote.fixCommand).toBe("mysql -u root -p[redacted] shop");
    expect(remote.screen).toBeUndefined();
    expect(remote.redacting).toBe(true);
    expect(remote.redacted).toBeGreaterThanOrEqual(3);
    const screen = addedContext(fix(secretsDir()), settings({ "context.screen": "always" }), false).screen;
    expect(screen).toBe("ERROR 1045 (28000): Access denied; AWS_SECRET_ACCESS_KEY=[redacted]");
  });

  it("redacts always or never, as context.redact says", () => {
    const always = addedContext(fix(secretsDir()), settings({ "context.redact": "always" }), true);
    expect(always.fixCommand).toBe("mysql -u root -p[redacted] shop");
    const never = addedContext(fix(secretsDir()), settings({ "context.redact": "never" }), false);
    expect(never.fixCommand).toBe("mysql -u root -phunter2 shop");
  });

  it("turns each piece off: history by default, the folder, the branch, the tools, the screen", () => {
    const none = addedContext(
      fix(secretsDir()),
      settings({ "context.entries": 0, "context.git": false, "context.tools": false, "context.screen": "never" }),
      true,
    );
    expect(none).toMatchObject({ place: [], history: [], tools: undefined, screen: undefined });
    const branchOnly = addedContext(fix(secretsDir()), settings({ "context.entries": 0 }), true);
    expect(branchOnly.place).toEqual(["git branch: main"]);
    // The screen belongs to a fix only.
    const ask = { ...fix(secretsDir()), intent: { kind: "ask" as const } };
    expect(addedContext(ask, settings(), true).screen).toBeUndefined();
  });
});
