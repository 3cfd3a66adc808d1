import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, describe, expect, it } from "vitest";
import { CARO_BIN, caro, makeHome, modelConfig, ollamaConfig, stopDaemons } from "./helpers/caro.js";
import { ROOT } from "./helpers/models.js";
import { ollamaStandin } from "./helpers/standins.js";

describe("caro <request>", () => {
  // One daemon, holding the tiny model, for the cases that only ask it (each asks its own words):
  // starting one and loading the model costs about 2.4 CPU-s.
  let tiny: ReturnType<typeof makeHome> | undefined;
  const tinyHome = () => (tiny ??= makeHome(modelConfig("tiny"), { shared: true }));
  afterAll(() => tiny && stopDaemons([tiny.home]));

  it("prints one command on stdout and the risk on stderr, from unquoted words", async () => {
    const { env } = tinyHome();
    const result = await caro(["find", "files", "bigger", "than", "100MB"], { env });
    expect(result.exitCode).toBe(0);
    expect(result.stdout.split("\n")).toHaveLength(1);
    // The same request as JSON: the very command printed, and the risk stderr gave it.
    const json = JSON.parse(
      String((await caro(["--json", "find", "files", "bigger", "than", "100MB"], { env })).stdout),
    );
    expect(json.command).toBe(result.stdout);
    expect(json.command.length).toBeGreaterThan(0);
    expect(result.stderr).toMatch(new RegExp(`^caro: risk ${json.risk}`, "m"));
  });

  it("takes the request from stdin when no words are given", async () => {
    const { env } = tinyHome();
    const result = await caro(["--json"], { env, input: "list files\n" });
    expect(result.exitCode).toBe(0);
    const answer = JSON.parse(String(result.stdout));
    // The generated model writes nonsense, but the same request from the words gives the same command.
    expect(answer.command.length).toBeGreaterThan(0);
    expect((await caro(["list", "files"], { env })).stdout).toBe(answer.command);
  });

  it("sends the model the same request for quoted and unquoted words", async () => {
    const ollama = await ollamaStandin();
    const { env } = makeHome(ollamaConfig(ollama.url));
    try {
      expect((await caro(["list all files"], { env })).exitCode).toBe(0);
      expect((await caro(["list", "all", "files"], { env })).exitCode).toBe(0);
      expect((await caro([], { env, input: "list all files\n" })).exitCode).toBe(0);
    } finally {
      await ollama.close();
    }
    const asked = ollama.chats.map((c) => c.messages.at(-1)?.content);
    expect(asked[0]).toMatch(/request: list all files$/);
    expect(new Set(asked).size).toBe(1);
  });

  it("prints one JSON object with --json", async () => {
    const { env } = tinyHome();
    const result = await caro(["--json", "show", "disk", "usage"], { env });
    expect(result.exitCode).toBe(0);
    const answer = JSON.parse(String(result.stdout));
    expect(Object.keys(answer)).toEqual(
      expect.arrayContaining(["command", "explanation", "risk", "reasons", "backend", "model", "gpu", "timings"]),
    );
    expect(answer.backend).toBe("embedded");
    expect(answer.model).toMatch(/\.gguf$/);
    expect(answer.gpu).toBe(false);
    expect(answer.explanation).toBe("");
    expect(answer.timings.total_ms).toBeGreaterThan(0);
    expect(answer.timings.generated_tokens).toBeGreaterThan(0);
    expect(result.stderr).toBe("");
  });

  it("asks the model for an explanation with --explain", async () => {
    const { env } = tinyHome();
    const json = JSON.parse(String((await caro(["--json", "--explain", "list", "files"], { env })).stdout));
    expect(json.explanation).not.toBe("");
  });

  it("prints the explanation on stderr, the command alone on stdout", async () => {
    const ollama = await ollamaStandin({ commands: { "list files": "ls -la" } });
    const { env } = makeHome(ollamaConfig(ollama.url));
    try {
      const plain = await caro(["--explain", "list", "files"], { env });
      expect(plain.stdout).toBe("ls -la");
      expect(plain.stderr).toContain("caro: runs ls");
    } finally {
      await ollama.close();
    }
  });

  it("says what happens with --verbose", async () => {
    const { env } = makeHome(modelConfig("tiny"));
    const result = await caro(["--verbose", "list", "files"], { env });
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toMatch(/model loaded in \d+ ms on the CPU/);
    expect(result.stderr).toContain("embedded · ");
  });
});

describe("usage errors exit 2", () => {
  it("without a request", async () => {
    const result = await caro([]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/^caro: no request: .*caro "find files over 100MB"/);
  });

  it("with an unknown option", async () => {
    const result = await caro(["--frobnicate", "list", "files"]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toBe("caro: unknown option --frobnicate: see caro --help");
  });

  it("with an unknown backend, listing the valid ones", async () => {
    const result = await caro(["--backend", "gpt5", "list", "files"]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/backend must be one of auto, embedded/);
  });

  it("with an unknown backend from CARO_BACKEND", async () => {
    const { env } = makeHome();
    const result = await caro(["list", "files"], { env: { ...env, CARO_BACKEND: "nope" } });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/^caro: \$CARO_BACKEND: backend must be one of/);
  });

  it("with an unknown shell", async () => {
    const result = await caro(["--shell", "tcsh", "list", "files"]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toBe('caro: unknown shell "tcsh": use one of zsh, bash, fish, sh');
  });

  it("with a string option that has no value", async () => {
    const result = await caro(["list", "--model"]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toBe("caro: --model needs a value");
  });
});

const SUBCOMMANDS = ["check", "config", "init", "completions", "models", "doctor", "daemon"];

/** Help is read in pipes and pagers: no escape sequences, nothing trailing at the ends of lines. */
function expectPlain(text: string): void {
  expect(text).not.toContain("\x1b");
  expect(text.split("\n").filter((line) => /\s$/.test(line))).toEqual([]);
}

describe("help and version", () => {
  it("prints usage, options, examples and commands with --help, -h and a bare help", async () => {
    const result = await caro(["--help"]);
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toBe("");
    expect(result.stdout).toContain("--shell <shell>");
    expect(result.stdout).toMatch(/^Examples\n {2}caro /m);
    for (const name of SUBCOMMANDS) expect(result.stdout).toMatch(new RegExp(`^ {2}${name} +\\w`, "m"));
    expect(result.stdout).toMatch(/^Exit codes: 0 answered, .*130 interrupted/m);
    // citty lists --daemon and --no-daemon apart, with a "(Default: true)": one line names both here.
    expect(result.stdout.split("\n").filter((line) => line.includes("-daemon"))).toEqual([
      expect.stringMatching(/^ +--daemon\/--no-daemon +Use the background daemon/),
    ]);
    expectPlain(String(result.stdout));
    expect((await caro(["-h"])).stdout).toBe(result.stdout);
    expect((await caro(["help"])).stdout).toBe(result.stdout);
    expect((await caro(["list", "files", "--help"])).stdout).toBe(result.stdout);
  });

  it.each(SUBCOMMANDS)("caro %s has its own help: --help, -h, help <command>", async (name) => {
    const result = await caro([name, "--help"]);
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toBe("");
    expect(result.stdout).toMatch(new RegExp(`^caro ${name}: \\w.*\n\nUsage\n {2}caro ${name}`));
    expect(result.stdout).toMatch(/^ {2}-h, --help +Show this help$/m);
    expectPlain(String(result.stdout));
    expect((await caro([name, "-h"])).stdout).toBe(result.stdout);
    expect((await caro(["help", name])).stdout).toBe(result.stdout);
  });

  it("points an unknown option of a command at that command's help", async () => {
    const result = await caro(["models", "--frobnicate"]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toBe("caro: unknown option --frobnicate: see caro models --help");
  });

  it("rates --help after -- as a command, not as a wish for help", async () => {
    const result = await caro(["check", "--json", "--", "--help"]);
    expect(result.exitCode).toBe(0);
    expect(JSON.parse(String(result.stdout)).command).toBe("--help");
  });

  it("answers a request that starts with the word help", async () => {
    const ollama = await ollamaStandin({ commands: { "help me find big files": "find . -size +100M" } });
    const { env } = makeHome(ollamaConfig(ollama.url));
    try {
      const result = await caro(["help", "me", "find", "big", "files"], { env });
      expect(result.exitCode).toBe(0);
      expect(result.stdout).toBe("find . -size +100M");
    } finally {
      await ollama.close();
    }
  });

  it("prints the version with --version and -V", async () => {
    const result = await caro(["--version"]);
    expect(result.stdout).toMatch(/^\d+\.\d+\.\d+$/);
    expect((await caro(["-V"])).stdout).toBe(result.stdout);
  });
});

describe("where caro's files are", () => {
  /** bin/ copied to a new folder `name`; `links` of the checkout linked beside it. */
  function checkoutAt(name: string, links: string[]): string {
    const root = join(mkdtempSync(join(tmpdir(), "caro-place-")), name);
    mkdirSync(root);
    cpSync(join(ROOT, "bin"), join(root, "bin"), { recursive: true });
    for (const link of links) symlinkSync(join(ROOT, link), join(root, link));
    return root;
  }

  it("says in one line how to build a checkout that was never built, and exits 1", async () => {
    const root = checkoutAt("unbuilt", ["package.json", "node_modules"]);
    try {
      for (const args of [["--version"], ["session", "zsh"]]) {
        const result = await execa(process.execPath, [join(root, "bin", "caro.js"), ...args], { reject: false });
        expect(result.exitCode).toBe(1);
        expect(result.stderr).toMatch(new RegExp(`^caro: dist/\\S+ is missing: run npm run build in ${root}$`));
      }
    } finally {
      rmSync(join(root, ".."), { recursive: true, force: true });
    }
  });

  it("runs from a folder whose name has # and % in it, the session client too", async () => {
    const root = checkoutAt("a#b%41", ["package.json", "node_modules", "dist", "shell"]);
    try {
      const caroThere = (args: string[]) =>
        execa(process.execPath, [join(root, "bin", "caro.js"), ...args], { reject: false });
      expect((await caroThere(["--version"])).stdout).toMatch(/^\d+\.\d+\.\d+$/);
      // Its own usage error: its code was found.
      const session = await caroThere(["session"]);
      expect(session.stderr).toMatch(/^caro: usage: caro session /);
      expect(session.exitCode).toBe(2);
    } finally {
      rmSync(join(root, ".."), { recursive: true, force: true });
    }
  });
});

describe("a reader that goes away", () => {
  // A fifo whose only reader has closed: every write fails at once, as once `head -1` has its line.
  const closedOutput = (args: string) =>
    `f=$(mktemp -u) && mkfifo "$f" && exec 3<>"$f" 4>"$f" 3<&- && rm "$f"; ` +
    `node "${CARO_BIN}" ${args} >&4; echo "rc=$?" >&2`;

  it.each([
    ["models list"],
    ["doctor"],
    ["--help"],
    ["models --help"],
    ["check -- ls"],
    ["config show"],
    ["init zsh"],
    ["-V"],
    ["daemon status"],
  ])("ends caro %s quietly with exit 141, as it ends ls", async (args) => {
    const { env } = makeHome();
    const result = await execa("bash", ["-c", closedOutput(args)], { env, extendEnv: false, reject: false });
    expect(result.stderr).toBe("rc=141");
  });

  it("ends a request quietly too", async () => {
    const ollama = await ollamaStandin();
    const { env } = makeHome(ollamaConfig(ollama.url));
    try {
      const result = await execa("bash", ["-c", closedOutput("list files")], { env, extendEnv: false, reject: false });
      // The failed write surfaces a moment later: the rating on stderr may already be out.
      expect(result.stderr).toMatch(/^(caro: risk safe\n)?rc=141$/);
    } finally {
      await ollama.close();
    }
  });

  it("keeps every line for a slow reader of a pipe another program made non-blocking", async () => {
    // Some programs set O_NONBLOCK on a pipe they hand on (perl here, which Debian always has):
    // caro's writes then meet a full buffer, not a wait, while the reader is away.
    const nonBlocking =
      "fcntl(STDOUT, F_SETFL, fcntl(STDOUT, F_GETFL, 0) | O_NONBLOCK) or die $!; exec @ARGV or die $!";
    const parent = ["-MFcntl", "-e", nonBlocking, process.execPath, CARO_BIN, "check", "--json", "--stdin"];
    const commands = Array.from({ length: 150 }, (_, i) => `echo ${String(i).padStart(4, "0")} ${"x".repeat(1000)}`);
    const child = execa("perl", parent, {
      env: makeHome().env,
      input: `${commands.join("\n")}\n`,
      extendEnv: false,
      reject: false,
      buffer: false,
    });
    // Away long enough for the pipe's 64 KiB to fill (the output is some 160 KiB), then read all.
    child.stdout.pause();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (out += chunk));
    child.stdout.resume();
    const result = await child;
    expect(result.exitCode).toBe(0);
    expect(
      out
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line).command),
    ).toEqual(commands);
  });

  it("lets head take the first line of caro models list", async () => {
    const { env } = makeHome();
    const script = `node "${CARO_BIN}" models list | head -1`;
    const result = await execa("bash", ["-c", script], { env, extendEnv: false, reject: false });
    expect(result.stdout).toMatch(/^ +NAME +SIZE/);
    expect(result.stderr).toBe("");
  });
});
