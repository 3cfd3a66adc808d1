import { describe, expect, it } from "vitest";
import { caro, makeHome, modelConfig } from "./helpers/caro.js";
import { ollamaStandin } from "./helpers/standins.js";

describe("caro <request>", () => {
  it("prints one command on stdout and the risk on stderr, from unquoted words", async () => {
    const { env } = makeHome(modelConfig("tiny"));
    const result = await caro(["find", "files", "bigger", "than", "100MB"], { env });
    expect(result.exitCode).toBe(0);
    expect(result.stdout).not.toBe("");
    expect(result.stdout.split("\n")).toHaveLength(1);
    expect(result.stderr).toMatch(/^caro: risk (safe|moderate|high|critical)/m);
  });

  it("takes the request from stdin when no words are given", async () => {
    const { env } = makeHome(modelConfig("tiny"));
    const result = await caro(["--json"], { env, input: "list files\n" });
    expect(result.exitCode).toBe(0);
    expect(JSON.parse(String(result.stdout)).command).not.toBe("");
  });

  it("sends the model the same request for quoted and unquoted words", async () => {
    const ollama = await ollamaStandin();
    const { env } = makeHome(`backend = "ollama"\n[backends.ollama]\nhost = "${ollama.url}"\n`);
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
    const { env } = makeHome(modelConfig("tiny"));
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
    const { env } = makeHome(modelConfig("tiny"));
    const json = JSON.parse(String((await caro(["--json", "--explain", "list", "files"], { env })).stdout));
    expect(json.explanation).not.toBe("");
  });

  it("prints the explanation on stderr, the command alone on stdout", async () => {
    const ollama = await ollamaStandin({ commands: { "list files": "ls -la" } });
    const { env } = makeHome(`backend = "ollama"\n[backends.ollama]\nhost = "${ollama.url}"\n`);
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

describe("help and version", () => {
  it("prints usage with --help", async () => {
    const result = await caro(["--help"]);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain("--shell");
    expect(result.stdout).toContain("caro config");
  });

  it("prints the version", async () => {
    const result = await caro(["--version"]);
    expect(result.stdout).toMatch(/^\d+\.\d+\.\d+$/);
  });
});
