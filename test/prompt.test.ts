import { describe, expect, it } from "vitest";
import { parseDraft } from "../src/answer/draft.js";
import { buildPrompt } from "../src/prompt/build.js";
import type { PromptContext } from "../src/prompt/context.js";

const linuxBash: PromptContext = {
  os: "Debian GNU/Linux 12",
  arch: "x64",
  shell: "bash",
  userland: "GNU",
  cwd: "/home/ada/src",
};
const macFish: PromptContext = { os: "macOS 15.1", arch: "arm64", shell: "fish", userland: "BSD", cwd: "/Users/ada" };

describe("the prompt", () => {
  it("names the OS, arch, shell and userland in the fixed part", () => {
    const { system } = buildPrompt(linuxBash, "list files");
    expect(system).toContain("bash on Debian GNU/Linux 12 (x64), with GNU command-line tools");
    expect(system).not.toContain("{{");
  });

  it("keeps what changes per request (cwd, request) out of the fixed part and last", () => {
    const a = buildPrompt(linuxBash, "list files");
    const b = buildPrompt({ ...linuxBash, cwd: "/tmp" }, "delete logs");
    expect(a.system).toBe(b.system);
    expect(a.examples).toEqual(b.examples);
    expect(a.user).toBe("cwd: /home/ada/src\nrequest: list files");
    expect(a.system).not.toContain("/home/ada/src");
  });

  it("picks fish syntax and BSD options for fish on macOS", () => {
    const { system, examples } = buildPrompt(macFish, "x");
    const answers = examples.map((e) => e.assistant).join("\n");
    expect(system).toContain("fish is not POSIX");
    expect(system).toContain("BSD sed needs");
    expect(answers).toContain("set NAME world");
    expect(answers).toContain("sed -i ''");
    expect(answers).not.toContain("NAME=world");
    expect(answers).not.toContain("ss -ltnp");
  });

  it("picks POSIX syntax and GNU options for bash on Linux", () => {
    const answers = buildPrompt(linuxBash, "x")
      .examples.map((e) => e.assistant)
      .join("\n");
    expect(answers).toContain("NAME=world");
    expect(answers).toContain("sed -i 's/foo/bar/g'");
    expect(answers).not.toContain("set NAME world");
  });

  it("has examples whose answers are the JSON the model must give", () => {
    for (const example of buildPrompt(linuxBash, "x").examples)
      expect(() => parseDraft(example.assistant)).not.toThrow();
  });
});

describe("the prompt for each intent", () => {
  const intents = {
    ask: { words: "list files" },
    another: { words: "list files", shown: ["ls", 'printf "%s\\n" a\nb'] },
    refine: { words: "ls # with sizes", intent: { kind: "refine", command: "ls", words: "with sizes" } },
    fix: { words: "grpe x f", intent: { kind: "fix", command: "grpe x f", status: 127 } },
    explain: { words: " rm -rf ~ ", intent: { kind: "explain" } },
  } as const;
  const prompts = Object.fromEntries(
    Object.entries(intents).map(([name, ask]) => [
      name,
      buildPrompt(linuxBash, { ...ask, shown: [...("shown" in ask ? ask.shown : [])] }),
    ]),
  );

  it("keeps the system prompt and examples byte for byte: only the last user message differs", () => {
    for (const prompt of Object.values(prompts)) {
      expect(prompt.system).toBe(prompts.ask.system);
      expect(prompt.examples).toEqual(prompts.ask.examples);
    }
    expect(new Set(Object.values(prompts).map((p) => p.user)).size).toBe(5);
  });

  it("gives each intent the words the system prompt tells the model to expect", () => {
    expect(prompts.ask.user).toBe("cwd: /home/ada/src\nrequest: list files");
    // Commands already shown go one per line, quoted, so a command of two lines stays one entry.
    expect(prompts.another.user).toBe(
      'cwd: /home/ada/src\nrequest: list files\nNot any of these:\n"ls"\n"printf \\"%s\\\\n\\" a\\nb"',
    );
    expect(prompts.refine.user).toBe("cwd: /home/ada/src\nRevise this command: ls\nChange: with sizes");
    expect(prompts.fix.user).toBe(
      "cwd: /home/ada/src\nThis command failed with exit status 127: grpe x f\nGive a corrected command.",
    );
    expect(prompts.explain.user).toBe("cwd: /home/ada/src\nExplain this command:  rm -rf ~ ");
    for (const phrase of [
      "Revise this command:",
      "failed with exit status",
      "Not any of these:",
      "Explain this command:",
    ])
      expect(prompts.ask.system).toContain(phrase);
  });
});

describe("parseDraft", () => {
  it("reads strict JSON", () => {
    expect(parseDraft('{"command": "ls -la"}')).toEqual({ command: "ls -la", explanation: "" });
  });

  it("reads the first object inside chatter", () => {
    expect(parseDraft('Sure! {"command": "du -sh .", "explanation": "disk usage"} Hope it helps')).toEqual({
      command: "du -sh .",
      explanation: "disk usage",
    });
  });

  it("refuses JSON without a command string", () => {
    expect(() => parseDraft('{"cmd": "ls"}')).toThrow(/not the JSON that was asked for/);
    expect(() => parseDraft("ls -la")).toThrow(/not the JSON/);
  });
});

describe("the prompt grounded in this machine", () => {
  const tools = "Package manager: apt.\nInstalled: grep, find, curl.\nNot installed: rg, fd.";
  const grounded = { ...linuxBash, tools };

  it("puts the tool lines in the fixed part, with the rule to keep to them", () => {
    const { system } = buildPrompt(grounded, "x");
    expect(system).toContain(`with GNU command-line tools.\n${tools}\n\nRules:`);
    expect(system).toContain("Use only programs this machine has: never one it lists as not installed.");
    expect(system).not.toContain("may not be installed");
    // Without them, the old rule, and no empty lines where they were.
    const bare = buildPrompt(linuxBash, "x").system;
    expect(bare).toContain("tools.\n\nRules:");
    expect(bare).toContain(
      "Use the tools every Debian GNU/Linux 12 system has before tools that may not be installed.",
    );
  });

  it("puts where the user is before the request, the history after it, and why the last answer failed last", () => {
    const ask = {
      words: "find python files",
      place: ["folder: src/ package.json …", "git branch: main"],
      history: ["cd src", 'echo "hi"'],
    };
    const first = buildPrompt(grounded, ask);
    expect(first.user).toBe(
      'cwd: /home/ada/src\nfolder: src/ package.json …\ngit branch: main\nRecent commands:\n"cd src"\n"echo ' +
        '\\"hi\\""\nrequest: find python files',
    );
    const again = buildPrompt(grounded, {
      ...ask,
      shown: ["ls"],
      failed: { command: "fd -e py", reasons: ["`fd` is not installed here"] },
    });
    expect(again.system).toBe(first.system);
    expect(again.examples).toEqual(first.examples);
    expect(again.user.startsWith(first.user)).toBe(true);
    expect(again.user.endsWith('Not any of these:\n"ls"\nFails here: "fd -e py" (`fd` is not installed here)')).toBe(
      true,
    );
    expect(again.system).toContain('("Fails here:" then the command and why)');
  });

  it("puts what a failed command printed with the fix", () => {
    const { user } = buildPrompt(grounded, {
      words: "tar xzf b.tar",
      intent: { kind: "fix", command: "tar xzf b.tar", status: 2 },
      screen: "tar: b.tar: Cannot open: No such file or directory\n",
    });
    expect(user).toBe(
      "cwd: /home/ada/src\nThis command failed with exit status 2: tar xzf b.tar\nIt printed:\ntar: b.tar: Cannot " +
        "open: No such file or directory\nGive a corrected command.",
    );
  });
});
