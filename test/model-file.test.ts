import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { caro, makeHome, modelConfig } from "./helpers/caro.js";
import { sendFile, serve, type TestServer } from "./helpers/http.js";
import { testModelPath } from "./helpers/models.js";

/** A failure is one line on stderr, exit 1, nothing on stdout and no stack trace. */
function expectOneLineFailure(result: { exitCode?: number; stdout: unknown; stderr: unknown }, pattern: RegExp) {
  expect(result.exitCode).toBe(1);
  expect(result.stdout).toBe("");
  expect(String(result.stderr).split("\n")).toHaveLength(1);
  expect(result.stderr).toMatch(pattern);
}

describe("bad models", () => {
  it("a missing path: one line naming it and the fix", async () => {
    const result = await caro(["--backend", "embedded", "--model", "/nowhere/model.gguf", "list", "files"]);
    expectOneLineFailure(result, /^caro: model file not found: \/nowhere\/model\.gguf: set --model/);
  });

  it("a file that is not a GGUF", async () => {
    const { env, home } = makeHome();
    const path = join(home, "notes.gguf");
    writeFileSync(path, "these are not weights\n");
    // Under auto, the broken model is why embedded was passed over, in the few lines of that message.
    const result = await caro(["--model", path, "list"], { env });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(
      /^caro: no backend can answer:\n {4}embedded: .*notes\.gguf is not a GGUF model file/,
    );
  });

  it("a GGUF cut off inside its header", async () => {
    const { env, home } = makeHome();
    const path = join(home, "cut.gguf");
    writeFileSync(path, readFileSync(testModelPath("tiny")).subarray(0, 2000));
    expectOneLineFailure(await caro(["--model", path, "list"], { env }), /truncated.*download it again/);
  });

  it("a GGUF cut off inside its weights", async () => {
    const { env, home } = makeHome(`[backends.embedded]\nthreads = 1\n`);
    const path = join(home, "half.gguf");
    const bytes = readFileSync(testModelPath("tiny"));
    writeFileSync(path, bytes.subarray(0, Math.floor(bytes.length * 0.9)));
    expectOneLineFailure(await caro(["--model", path, "list"], { env }), /truncated|could not load/);
  });

  it("shows the stack trace only with --verbose", async () => {
    const quiet = await caro(["--backend", "embedded", "--model", "/nowhere/model.gguf", "list"]);
    expect(quiet.stderr).not.toMatch(/\n\s+at /);
    const verbose = await caro(["--verbose", "--backend", "embedded", "--model", "/nowhere/model.gguf", "list"]);
    expect(verbose.exitCode).toBe(1);
    expect(verbose.stderr).toMatch(/\n\s+at /);
  });
});

describe("the model is fetched on first use", () => {
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it("downloads an hf: model into $XDG_CACHE_HOME/caro/models with progress on stderr, then answers", async () => {
    const bytes = readFileSync(testModelPath("tiny"));
    server = await serve((req, res) => {
      if (req.url?.split("?")[0] === "/test-user/test-repo/resolve/main/tiny-test.gguf") sendFile(req, res, bytes);
      else res.writeHead(404).end();
    });
    const { env, home } = makeHome(
      `[backends.embedded]\nmodel = "hf:test-user/test-repo/tiny-test.gguf"\nthreads = 1\n`,
    );
    const result = await caro(["list", "files"], { env: { ...env, HF_ENDPOINT: server.url } });
    expect(result.stderr).toMatch(/caro: downloading tiny-test\.gguf 100% /);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).not.toBe("");
    const cached = join(home, ".cache", "caro", "models", "test-user", "test-repo", "tiny-test.gguf");
    expect(readFileSync(cached).equals(bytes)).toBe(true);

    // The second run finds it in the cache and asks the server nothing.
    const before = server.requests.length;
    const again = await caro(["list", "files"], { env: { ...env, HF_ENDPOINT: server.url } });
    expect(again.exitCode).toBe(0);
    expect(again.stderr).not.toContain("downloading");
    expect(server.requests.length).toBe(before);
  });

  it("a file the hub does not have: one line with the manual command", async () => {
    server = await serve((_req, res) => res.writeHead(404).end());
    const { env, home } = makeHome(
      `backend = "embedded"\n[backends.embedded]\nmodel = "hf:test-user/test-repo/missing.gguf"\n`,
    );
    const result = await caro(["list"], { env: { ...env, HF_ENDPOINT: server.url } });
    expectOneLineFailure(
      result,
      new RegExp(
        String.raw`HTTP 404.*fetch it by hand: mkdir -p .* && curl -fL -C - -o .*missing\.gguf\.part' ` +
          String.raw`'.*\/test-user\/test-repo\/resolve\/main\/missing\.gguf' && mv .*missing\.gguf'$`,
      ),
    );
    expect(existsSync(join(home, ".cache", "caro", "models", "test-user", "test-repo", "missing.gguf"))).toBe(false);
  });

  it("no server at all: fails at once with the manual command", async () => {
    const closed = await serve(() => undefined);
    const url = closed.url;
    await closed.close();
    const { env } = makeHome('backend = "embedded"\n');
    const result = await caro(["list"], { env: { ...env, HF_ENDPOINT: url } });
    expectOneLineFailure(result, /connection refused.*curl -fL -C - -o .*qwen2\.5-coder-1\.5b-instruct-q4_k_m\.gguf/);
  });

  it("under auto, offline with no other backend: why each was passed over, and the manual command", async () => {
    const closed = await serve(() => undefined);
    await closed.close();
    const { env } = makeHome(`[backends.ollama]\nhost = "${closed.url}"\n[backends.vllm]\nurl = "${closed.url}"\n`);
    const result = await caro(["list"], { env: { ...env, HF_ENDPOINT: closed.url } });
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toBe("");
    // A few short lines, the command to run alone on its own so it can be copied.
    expect(String(result.stderr).split("\n")).toEqual([
      "caro: no backend can answer:",
      "    embedded: qwen2.5-coder-1.5b-instruct-q4_k_m.gguf is not downloaded and cannot be fetched now (connection " +
        "refused)",
      `    ollama: no Ollama server answers at ${closed.url}`,
      `    vllm: no OpenAI-compatible server answers at ${closed.url}`,
      "  fetch the model by hand:",
      expect.stringMatching(/^ {4}mkdir -p .* && curl -fL -C - -o .*qwen2\.5-coder-1\.5b-instruct-q4_k_m\.gguf.*$/),
      '  or start a server: "ollama serve", or an OpenAI-compatible one (e.g. "vllm serve <model>")',
    ]);
  });
});

describe("the model stays loaded in its worker", () => {
  it("serves a second request without loading again", async () => {
    // Driven through the backend, since one CLI run makes one request.
    const { EmbeddedBackend } = await import("../dist/backends/embedded.js");
    const { loadConfig } = await import("../dist/config/load.js");
    const { buildPrompt } = await import("../dist/prompt/build.js");
    const { detectContext } = await import("../dist/prompt/context.js");
    const { draftSchema, maxTextLengthFor } = await import("../dist/answer/draft.js");
    const { env } = makeHome(modelConfig("tiny"));
    const saved = { ...process.env };
    Object.assign(process.env, env);
    const backend = new EmbeddedBackend(loadConfig().settings, process.env);
    Object.assign(process.env, saved);
    const events: { type: string; cached?: boolean }[] = [];
    const request = (text: string) => ({
      prompt: buildPrompt(detectContext("bash"), text),
      schema: draftSchema(false),
      maxTextLength: maxTextLengthFor(400),
      seed: 1,
      onEvent: (event: { type: string; cached?: boolean }) => events.push(event),
    });
    try {
      await backend.generate(request("list files"));
      await backend.generate(request("show disk usage"));
    } finally {
      await backend.close();
    }
    expect(events.filter((e) => e.type === "loaded").map((e) => e.cached)).toEqual([false, true]);
  });
});
