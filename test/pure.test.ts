// The Ctrl-G path's pure functions, without a shell, a daemon or a model: a bug here fails in
// milliseconds with its input, instead of as a tmux screen that times out.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { intentOfBuffer } from "../src/answer/intent.js";
import type { UnratedAnswer, UserRequest } from "../src/answer/types.js";
import { selectBackend } from "../src/backends/select.js";
import type { BackendPool } from "../src/backends/pool.js";
import { parseRequest } from "../src/shell/contract.js";
import { sentContext } from "../src/shell/shell-context.js";
import { sessionDirProblem } from "../src/shell/session.js";
import { typedText } from "../src/shell/terminal.js";
import { parseWidgetArgs } from "../src/shell/widget.js";
import { loadConfig } from "../src/config/load.js";
import { answerCacheKey, usableAnswer, worthKeeping } from "../src/daemon/answer-cache.js";
import { readAsk } from "../src/daemon/client-message.js";
import { verdictFor } from "../src/safety/policy.js";
import { testModelPath } from "./helpers/models.js";

const temp = () => mkdtempSync(join(tmpdir(), "caro-pure-"));

/** A loaded config from TOML text, read as the daemon would (no environment of the developer's). */
function configOf(toml: string, home = temp()) {
  const path = join(home, "config.toml");
  writeFileSync(path, toml);
  return loadConfig({}, { HOME: home, CARO_CONFIG: path, XDG_CACHE_HOME: join(home, "cache") });
}

describe("parseRequest: the session's request file", () => {
  const file = (...fields: string[]) => fields.map((f) => `${f}\0`).join("");
  /** No history, no names: the two groups a request starts with after its folder, empty. */
  const none = ["0", "0"];

  it("reads the folder, the history, the names, the arguments and the forwarded environment", () => {
    const data = file(
      "/home/ada/my dir",
      "2",
      "make test",
      "for f in *; do\n  echo $f\ndone",
      "3",
      "gst",
      "mk-dir",
      "ll",
      "3",
      "zsh",
      "--",
      "find 'a b' # ünïcode ✓",
      "3",
      "PATH=/bin",
      "CARO_X=a=b",
      "HOME=",
    );
    expect(parseRequest(data)).toEqual({
      cwd: "/home/ada/my dir",
      argv: ["zsh", "--", "find 'a b' # ünïcode ✓"],
      env: { PATH: "/bin", CARO_X: "a=b", HOME: "" },
      history: ["make test", "for f in *; do\n  echo $f\ndone"],
      names: ["gst", "mk-dir", "ll"],
    });
  });

  it("keeps an empty argument and newlines in one", () => {
    expect(parseRequest(file("/", ...none, "2", "", "a\nb", "0"))).toEqual({
      cwd: "/",
      argv: ["", "a\nb"],
      env: {},
      history: [],
      names: [],
    });
  });

  it("refuses what is not a whole request", () => {
    expect(parseRequest("")).toBeNull();
    expect(parseRequest("/tmp\x000\x000\x002\x00a\x00b")).toBeNull(); // cut off: the last field has no NUL
    expect(parseRequest(file("/tmp", ...none, "3", "a", "b", "0"))).toBeNull(); // more arguments counted than sent
    expect(parseRequest(file("/tmp", ...none, "1", "a", "1"))).toBeNull(); // a variable counted, none sent
    expect(parseRequest(file("/tmp", ...none, "1", "a", "0", "PATH=/bin"))).toBeNull(); // one sent, none counted
    expect(parseRequest(file("", ...none, "0", "0"))).toBeNull(); // no folder
    expect(parseRequest(file("tmp", ...none, "0", "0"))).toBeNull(); // a folder that is not absolute
    for (const count of ["-1", "1.5", "x", "", " 1", "1e0"]) {
      expect(parseRequest(file("/tmp", ...none, count, "a", "0"))).toBeNull();
      expect(parseRequest(file("/tmp", count, "ls", "0", "0", "0"))).toBeNull();
    }
    // The request of a widget from before history and names: not read as one with them empty.
    expect(parseRequest(file("/tmp", "1", "a", "0"))).toBeNull();
    expect(parseRequest(file("/tmp", "2", "--", "x", "1", "PATH=/bin"))).toBeNull();
    // History or names counted otherwise than sent.
    expect(parseRequest(file("/tmp", "2", "ls", "0", "0", "0"))).toBeNull();
    expect(parseRequest(file("/tmp", "0", "2", "ll", "0", "0"))).toBeNull();
  });

  it("refuses a variable no request carries, one without a name, and one given twice", () => {
    // What a NUL typed into a zsh line would inject, were the fields not counted and checked.
    expect(parseRequest(file("/tmp", ...none, "0", "1", "LD_PRELOAD=/tmp/x.so"))).toBeNull();
    expect(parseRequest(file("/tmp", ...none, "0", "1", "=x"))).toBeNull();
    expect(parseRequest(file("/tmp", ...none, "0", "2", "PATH=/bin", "PATH=/tmp"))).toBeNull();
  });

  it("adds no variable from a history line, a name or the buffer that held separators", () => {
    // Each as the shell would write it, had it not dropped the NULs: the variables come last, so
    // the shell's own count of them would have to be read as one.
    const evil = "CARO_CONFIG=/tmp/evil.toml";
    const shellEnv = ["1", "HOME=/h"];
    for (const smuggled of [`ls\x000\x000\x001\x00${evil}`, `ls\x001\x00${evil}`, `x\x00${evil}`]) {
      expect(parseRequest(file("/tmp", "1", smuggled, "0", "2", "--", "x", ...shellEnv))).toBeNull();
      expect(parseRequest(file("/tmp", "0", "1", smuggled, "2", "--", "x", ...shellEnv))).toBeNull();
      expect(parseRequest(file("/tmp", ...none, "2", "--", smuggled, ...shellEnv))).toBeNull();
    }
    // Read where it belongs, it is only a line of history.
    expect(parseRequest(file("/tmp", "1", evil, "0", "0", "0"))).toMatchObject({ env: {}, history: [evil] });
  });
});

describe("sentContext: what of the shell's history and names a request carries", () => {
  it("keeps the last 50 lines, each cut at 1000 characters, and drops blank ones", () => {
    const history = [...Array.from({ length: 60 }, (_, i) => `cmd ${i}`), "  ", "x".repeat(1500)];
    const sent = sentContext(history, []).history ?? [];
    expect(sent).toHaveLength(50);
    expect(sent[0]).toBe("cmd 11");
    expect(sent.at(-1)).toBe("x".repeat(1000));
  });

  it("keeps names that could be commands, once each, at most 2000; nothing sent is nothing carried", () => {
    const names = ["gst", "ll", "gst", "two words", "tab\there", "a\x1b[2J", "y".repeat(65), "mk-dir", "é"];
    expect(sentContext([], names).names).toEqual(["gst", "ll", "mk-dir", "é"]);
    const many = Array.from({ length: 2500 }, (_, i) => `f${i}`);
    expect(sentContext([], many).names).toHaveLength(2000);
    expect(sentContext([], [])).toEqual({});
  });
});

describe("sessionDirProblem: the session folder must be this user's alone", () => {
  function sessionDir(mode = 0o700): string {
    const dir = join(temp(), "session");
    mkdirSync(dir, { mode });
    // Node cannot make a FIFO: mkfifo, once per case, is the only process these tests start.
    for (const fifo of ["req", "rep"]) execFileSync("mkfifo", [join(dir, fifo)]);
    return dir;
  }

  it("accepts a private folder with its two FIFOs", () => {
    expect(sessionDirProblem(sessionDir())).toBeNull();
  });

  it("refuses a folder others can open, a missing FIFO, a file in a FIFO's place, and no folder", () => {
    expect(sessionDirProblem(sessionDir(0o750))).toMatch(/is not a folder of this user's that only this user/);
    const noReply = sessionDir();
    rmSync(join(noReply, "rep"));
    expect(sessionDirProblem(noReply)).toMatch(/cannot be checked \(ENOENT\)/);
    const plain = sessionDir();
    rmSync(join(plain, "req"));
    writeFileSync(join(plain, "req"), "");
    expect(sessionDirProblem(plain)).toBe(`${join(plain, "req")} is not a FIFO of this user's`);
    expect(sessionDirProblem(join(temp(), "absent"))).toMatch(/cannot be checked \(ENOENT\)/);
  });
});

describe("parseWidgetArgs", () => {
  it("reads the shell, the options and the one buffer, after -- or as the last word", () => {
    expect(parseWidgetArgs(["zsh", "--shown", "ls", "--shown", "ls -la", "--", "--list files"])).toEqual({
      shell: "zsh",
      buffer: "--list files",
      shown: ["ls", "ls -la"],
      explain: false,
      comments: false,
    });
    expect(parseWidgetArgs(["fish", "find ✓ files"])).toMatchObject({ shell: "fish", buffer: "find ✓ files" });
    expect(parseWidgetArgs(["bash", "--explain", "--", "rm -rf ~"])).toMatchObject({
      explain: true,
      buffer: "rm -rf ~",
    });
    expect(parseWidgetArgs(["bash"])).toMatchObject({ buffer: "" });
  });

  it("takes a failed command only with a status of up to three digits, and not a blank one", () => {
    const fix = parseWidgetArgs(["bash", "--failed", "grpe x", "--status", "127", "--", ""]);
    expect(fix).toMatchObject({ failed: { command: "grpe x", status: 127 }, buffer: "" });
    expect(parseWidgetArgs(["bash", "--failed", "  ", "--status", "1", "--", ""])).not.toHaveProperty("failed");
    expect(parseWidgetArgs(["bash", "--failed", "x", "--", ""])).not.toHaveProperty("failed");
    expect(parseWidgetArgs(["bash", "--failed", "x", "--status", "1000", "--", ""])).toBe(
      'caro: unknown widget option "--status"',
    );
  });

  it("refuses another shell, an unknown option and two buffers, with one line", () => {
    expect(parseWidgetArgs(["sh", "--", "x"])).toBe("caro: the widget supports zsh, bash, fish, not sh");
    expect(parseWidgetArgs([])).toBe("caro: the widget supports zsh, bash, fish, not undefined");
    expect(parseWidgetArgs(["zsh", "--frob", "--", "x"])).toBe('caro: unknown widget option "--frob"');
    expect(parseWidgetArgs(["zsh", "--shown"])).toBe('caro: unknown widget option "--shown"');
    expect(parseWidgetArgs(["zsh", "--", "a", "b"])).toBe("caro: the widget takes one buffer");
    expect(parseWidgetArgs(["zsh", "a", "b"])).toBe('caro: unknown widget option "a"');
  });
});

describe("intentOfBuffer: a trailing comment revises the command before it", () => {
  it.each([
    [
      "find . -name '*.log' # only files over 1MB",
      { kind: "refine", command: "find . -name '*.log'", words: "only files over 1MB" },
    ],
    ["ls ## with sizes ", { kind: "refine", command: "ls", words: "with sizes" }],
    ["grep été f # ünïcode", { kind: "refine", command: "grep été f", words: "ünïcode" }],
  ])("%j is a refine", (buffer, intent) => {
    expect(intentOfBuffer(buffer)).toEqual(intent);
  });

  it.each([
    "list files",
    "",
    "# just a comment",
    "ls #",
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell text, not a template
    "echo $# ${#x} a#b",
    "echo '# quoted' \"# quoted\"",
    "echo \\# escaped",
    "ls # a comment\nand another line",
    "echo 'unclosed # quote",
  ])("%j is plain words", (buffer) => {
    expect(intentOfBuffer(buffer)).toEqual({ kind: "ask" });
  });
});

describe("typedText: only printable keys typed while caro thinks", () => {
  it("drops newlines, control keys and escape sequences, and keeps unicode", () => {
    expect(typedText("ls\r\n")).toBe("ls");
    expect(typedText("a\x1b[Ab\x1bOPc\x1b[1;5Cd\x1bxe")).toBe("abcde");
    expect(typedText("é✓\x03\x04\x7f\x9b")).toBe("é✓");
    expect(typedText("\x1b")).toBe("");
    expect(typedText("")).toBe("");
  });
});

describe("verdictFor: what each level does with each risk", () => {
  it("blocks critical under strict and moderate, and never runs it unasked", () => {
    const table = (["strict", "moderate", "permissive"] as const).map((level) =>
      (["safe", "moderate", "high", "critical"] as const).map((risk) => verdictFor(risk, level)),
    );
    expect(table).toEqual([
      ["run", "confirm", "block", "block"],
      ["run", "warn", "confirm", "block"],
      ["run", "warn", "warn", "confirm"],
    ]);
  });
});

describe("readAsk: a client's ask, checked field by field", () => {
  const ask = { t: "ask", id: 1, words: "list files", shell: "bash", cwd: "/tmp", env: { PATH: "/bin" }, flags: {} };

  it("rebuilds the message from the checked fields only", () => {
    const read = readAsk({ ...ask, extra: "dropped", flags: { verbose: true, evil: 1 } });
    expect(read).toEqual({ ...ask, intent: { kind: "ask" }, shown: [], flags: { verbose: true } });
  });

  it.each([
    [{ id: "1" }, "id must be an integer"],
    [{ id: 1.5 }, "id must be an integer"],
    [{ words: " \n " }, "words must be a non-empty string"],
    [{ words: undefined, request: "old field" }, "words must be a non-empty string"],
    [{ shell: "tcsh" }, "shell must be one of"],
    [{ cwd: "tmp" }, "cwd must be an absolute path"],
    [{ env: { PATH: 1 } }, "env must map names to strings"],
    [{ flags: { explain: "yes" } }, "flags.explain must be a boolean"],
    [{ intent: { kind: "refine", command: "ls" } }, "intent.words must be a non-empty string"],
  ])("refuses %j", (change, reason) => {
    expect(readAsk({ ...ask, ...change })).toMatch(reason);
  });
});

describe("the answer cache's policy", () => {
  const config = configOf("");
  const request: UserRequest = { words: "list files", shell: "bash", cwd: "/tmp", env: { PATH: "/bin" }, flags: {} };
  const key = (change: Partial<UserRequest>, c = config) => answerCacheKey({ ...request, ...change }, c, "model-a");

  it("keys the words as the user means them: trimmed, but exact for a command to explain", () => {
    expect(key({ words: "  list files \n" })).toBe(key({}));
    const explain = { intent: { kind: "explain" } } as const;
    expect(key({ words: " ls ", ...explain })).not.toBe(key({ words: "ls", ...explain }));
  });

  it("tells apart what changes the answer, and not what only changes what happens around it", () => {
    const base = key({});
    for (const change of [
      { shell: "zsh" },
      { cwd: "/home" },
      { env: { PATH: "/usr/bin" } },
      { flags: { explain: true } },
      { context: { names: ["ll"] } },
      { intent: { kind: "refine", command: "ls", words: "list files" } },
    ] as Partial<UserRequest>[])
      expect(key(change), JSON.stringify(change)).not.toBe(base);
    expect(answerCacheKey(request, config, "model-b")).not.toBe(base);
    expect(key({}, configOf('[safety]\nlevel = "strict"\n'))).toBe(base);
    expect(key({ shown: ["ls"], env: { PATH: "/bin", HOME: "/x" } })).toBe(base);
  });

  it("holds an API key by its fingerprint only", () => {
    const withKey = key({}, configOf('[backends.vllm]\napi_key = "sk-secret-123"\n'));
    expect(withKey).not.toContain("sk-secret-123");
    expect(withKey).not.toBe(key({}, configOf('[backends.vllm]\napi_key = "sk-other"\n')));
  });

  it("gives back no answer the user was shown, and keeps only a first, clean answer", () => {
    const found = { command: "ls -la", warnings: [], cached: false } as unknown as UnratedAnswer;
    expect(usableAnswer(found, request)).toBe(found);
    expect(usableAnswer(found, { ...request, shown: [" ls -la "] })).toBeUndefined();
    expect(usableAnswer(undefined, request)).toBeUndefined();
    expect(worthKeeping(request, found)).toBe(true);
    expect(worthKeeping({ ...request, shown: ["ls"] }, found)).toBe(false);
    expect(worthKeeping(request, { ...found, warnings: ["`fd` is not installed here"] })).toBe(false);
  });
});

describe("selectBackend", () => {
  // Backends are made by the pool; here it only says which one was asked for.
  const pool = { get: (name: string) => ({ backend: { name }, release() {} }) } as unknown as BackendPool;

  it("uses a named backend even where it would fail: the user asked for it", async () => {
    const config = configOf('backend = "ollama"\n[backends.embedded]\nmodel = "/absent.gguf"\n');
    expect(await selectBackend(config, pool)).toMatchObject({ backend: { name: "ollama" }, passedOver: [] });
  });

  it("under auto, takes the embedded backend when its model is on disk", async () => {
    const config = configOf(`[backends.embedded]\nmodel = "${testModelPath("tiny")}"\n`);
    expect(await selectBackend(config, pool)).toMatchObject({ backend: { name: "embedded" }, passedOver: [] });
  });

  it("under auto with nothing to use, says why for each backend and what to do", async () => {
    const config = configOf(
      '[backends.embedded]\nmodel = "/absent.gguf"\n' +
        "[backends.ollama]\nenabled = false\n[backends.vllm]\nenabled = false\n",
    );
    const error = await selectBackend(config, pool).catch((e: Error) => e);
    expect(String((error as Error).message).split("\n")).toEqual([
      "no backend can answer:",
      expect.stringMatching(/^ {2}embedded: .*\/absent\.gguf/),
      "  ollama: disabled in the config",
      "  vllm: disabled in the config",
      expect.stringMatching(/^set \[backends\.embedded\] model in .*config\.toml to a GGUF file$/),
      'or start a server: "ollama serve", or an OpenAI-compatible one (e.g. "vllm serve <model>")',
    ]);
  });
});
