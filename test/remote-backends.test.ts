import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { caro, makeHome, modelConfig, ollamaConfig, vllmConfig } from "./helpers/caro.js";
import { serve } from "./helpers/http.js";
import { ollamaStandin, openaiStandin, type Standin } from "./helpers/standins.js";
import { connectionCounts } from "../src/backends/http.js";
import { OpenaiBackend } from "../src/backends/openai.js";
import { loadConfig } from "../src/config/load.js";

const servers: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function track<T extends { close(): Promise<void> }>(server: Promise<T>): Promise<T> {
  const s = await server;
  servers.push(s);
  return s;
}

/** A URL where nothing listens. */
async function deadUrl(): Promise<string> {
  const s = await serve(() => undefined);
  await s.close();
  return s.url;
}

async function json(args: string[], env: Record<string, string>) {
  const result = await caro(["--json", ...args], { env });
  return { result, answer: result.exitCode === 0 ? JSON.parse(String(result.stdout)) : null };
}

describe("Ollama", () => {
  it("answers through /api/chat with the schema as format, streamed", async () => {
    const ollama = await track(ollamaStandin({ commands: { "list files": "ls -la" } }));
    const { env } = makeHome(ollamaConfig(ollama.url));
    const { result, answer } = await json(["list", "files"], env);
    expect(result.exitCode).toBe(0);
    expect(answer).toMatchObject({
      command: "ls -la",
      risk: "safe",
      backend: "ollama",
      model: "qwen2.5-coder:1.5b",
      gpu: null,
    });
    expect(answer.timings.generated_tokens).toBeGreaterThan(0);
    const chat = ollama.chats[0];
    expect(chat.stream).toBe(true);
    expect(chat.format).toMatchObject({ type: "object", required: ["command"] });
    expect(chat.messages[0]).toMatchObject({ role: "system", content: expect.stringContaining("shell command") });
    expect(chat.messages.at(-1)?.content).toMatch(/request: list files$/);
    expect((chat.options as { temperature: number }).temperature).toBeLessThanOrEqual(0.3);
  });

  it("prints the command alone on stdout", async () => {
    const ollama = await track(ollamaStandin({ commands: { "show disk usage": "du -sh ." } }));
    const { env } = makeHome(ollamaConfig(ollama.url));
    const result = await caro(["show", "disk", "usage"], { env });
    expect(result.stdout).toBe("du -sh .");
  });

  it("takes $OLLAMA_HOST over the config file, in Ollama's own host:port form", async () => {
    const ollama = await track(ollamaStandin({ commands: { x: "pwd" } }));
    const { env } = makeHome(ollamaConfig(await deadUrl()));
    const { answer } = await json(["x"], { ...env, OLLAMA_HOST: ollama.url.replace("http://", "") });
    expect(answer.command).toBe("pwd");
  });

  it("reads a stream split inside UTF-8 characters and JSON strings", async () => {
    const ollama = await track(
      ollamaStandin({ commands: { "find photos": "find ./日本語 -name '*.jpg' -newer \"été.txt\"" }, chunkBytes: 1 }),
    );
    const { env } = makeHome(ollamaConfig(ollama.url));
    const { answer } = await json(["find", "photos"], env);
    expect(answer.command).toBe("find ./日本語 -name '*.jpg' -newer \"été.txt\"");
  });

  it("reads a non-streaming reply", async () => {
    const ollama = await track(ollamaStandin({ commands: { x: "uptime" }, single: true }));
    const { env } = makeHome(ollamaConfig(ollama.url));
    expect((await json(["x"], env)).answer.command).toBe("uptime");
  });

  it("HTTP 500: the status and Ollama's own error text", async () => {
    const ollama = await track(
      ollamaStandin({ fail: { status: 500, body: '{"error":"llama runner process has terminated"}' } }),
    );
    const { env } = makeHome(ollamaConfig(ollama.url));
    const result = await caro(["x"], { env });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toBe("caro: Ollama answered HTTP 500: llama runner process has terminated");
  });

  it("an unknown model: says to pull it", async () => {
    const ollama = await track(ollamaStandin());
    const { env } = makeHome(ollamaConfig(ollama.url, 'model = "qwen2.5-coder:7b"\n'));
    const result = await caro(["x"], { env });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toBe('caro: Ollama has no model "qwen2.5-coder:7b": run "ollama pull qwen2.5-coder:7b"');
  });

  it("--model names the Ollama model when the backend is ollama", async () => {
    const ollama = await track(ollamaStandin({ models: ["llama3.2:3b"], commands: { x: "date" } }));
    const { env } = makeHome(ollamaConfig(ollama.url));
    const { answer } = await json(["--model", "llama3.2:3b", "x"], env);
    expect(answer.model).toBe("llama3.2:3b");
  });

  it("a malformed body: a clear error", async () => {
    const ollama = await track(
      ollamaStandin({ malformed: '{"model":"qwen2.5-coder:1.5b","message":{"content":"{\\"com' }),
    );
    const { env } = makeHome(ollamaConfig(ollama.url));
    const result = await caro(["x"], { env });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/^caro: Ollama sent a reply caro cannot read: /);
  });

  it("a first byte later than the timeout", async () => {
    const ollama = await track(ollamaStandin({ firstByteDelayMs: 3000 }));
    const { env, configPath } = makeHome(ollamaConfig(ollama.url, "timeout = 0.3\n"));
    const result = await caro(["x"], { env });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toBe(
      `caro: Ollama did not answer within 0.3 s: raise [backends.ollama] timeout in ${configPath}`,
    );
  });

  it("connection refused: says to start it", async () => {
    const url = await deadUrl();
    const { env } = makeHome(ollamaConfig(url));
    const result = await caro(["x"], { env });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toBe(`caro: Ollama is not running at ${url}: start it with "ollama serve"`);
  });

  it("Ctrl-C in mid-stream aborts the HTTP request and exits 130", async () => {
    const ollama = await track(ollamaStandin({ chunkBytes: 8, chunkDelayMs: 100 }));
    const { env } = makeHome(ollamaConfig(ollama.url));
    const child = caro(["--verbose", "a", "long", "request"], { env });
    child.stderr?.on("data", (chunk: Buffer) => {
      if (chunk.toString().includes("decoding…")) child.kill("SIGINT");
    });
    const result = await child;
    expect(result.exitCode).toBe(130);
    expect(result.stdout).toBe("");
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(ollama.aborted).toBe(1);
  });
});

describe("vLLM and OpenAI-compatible servers", () => {
  it("answers through /v1/chat/completions with a json_schema response format, over SSE", async () => {
    const vllm = await track(openaiStandin({ commands: { "list files": "ls -la" } }));
    const { env } = makeHome(vllmConfig(vllm.url));
    const { result, answer } = await json(["list", "files"], env);
    expect(result.exitCode).toBe(0);
    // No model configured: the first id that /v1/models lists.
    expect(answer).toMatchObject({ command: "ls -la", backend: "vllm", model: "Qwen/Qwen2.5-Coder-1.5B-Instruct" });
    expect(answer.timings.prompt_tokens).toBe(412);
    const chat = vllm.chats[0];
    expect(chat.stream).toBe(true);
    expect(chat.response_format).toMatchObject({
      type: "json_schema",
      json_schema: { schema: { required: ["command"] } },
    });
  });

  it("sends the API key as a Bearer token, from the config or $CARO_VLLM_API_KEY", async () => {
    const vllm = await track(openaiStandin({ apiKey: "sekrit", commands: { x: "id" } }));
    const { env } = makeHome(vllmConfig(vllm.url));
    const refused = await caro(["x"], { env });
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toMatch(
      /refused the API key \(HTTP 401\): set \[backends\.vllm\] api_key or \$CARO_VLLM_API_KEY/,
    );
    expect((await json(["x"], { ...env, CARO_VLLM_API_KEY: "sekrit" })).answer.command).toBe("id");
  });

  it("asks again without the schema when the server refuses it, and reads the answer out of prose", async () => {
    const vllm = await track(openaiStandin({ rejectSchema: true, commands: { x: "whoami" } }));
    const { env } = makeHome(vllmConfig(vllm.url, 'model = "Qwen/Qwen2.5-Coder-1.5B-Instruct"\n'));
    const { answer } = await json(["x"], env);
    expect(answer.command).toBe("whoami");
    expect(vllm.chats.map((c) => Boolean(c.response_format))).toEqual([true, false]);
  });

  it("reads an SSE stream split inside UTF-8 characters and JSON strings", async () => {
    const vllm = await track(openaiStandin({ commands: { x: "grep -r 'naïve ✓' ." }, chunkBytes: 1 }));
    const { env } = makeHome(vllmConfig(vllm.url));
    expect((await json(["x"], env)).answer.command).toBe("grep -r 'naïve ✓' .");
  });

  it("HTTP 500, an unknown model, a malformed stream: one clear line each", async () => {
    const failing = await track(
      openaiStandin({ fail: { status: 500, body: '{"object":"error","message":"CUDA out of memory","code":500}' } }),
    );
    const r1 = await caro(["x"], { env: makeHome(vllmConfig(failing.url, 'model = "m"\n')).env });
    expect(r1.stderr).toBe(
      `caro: the OpenAI-compatible server at ${failing.url} answered HTTP 500: CUDA out of memory`,
    );

    const normal = await track(openaiStandin());
    const home = makeHome(vllmConfig(normal.url, 'model = "nope"\n'));
    const r2 = await caro(["x"], { env: home.env });
    expect(r2.exitCode).toBe(1);
    expect(r2.stderr).toBe(
      `caro: the OpenAI-compatible server at ${normal.url} has no model "nope" ` +
        `(HTTP 404: The model \`nope\` does not exist.): ` +
        `set [backends.vllm] model in ${home.configPath} to an id GET /v1/models lists, or to "" for its first`,
    );
    // A model the user named is not swapped for another behind their back.
    expect(normal.chats).toHaveLength(1);

    const broken = await track(
      openaiStandin({ malformed: 'data: {"choices": [{"delta": {"content": "{\\"co\n\ndata: [DONE]\n\n' }),
    );
    const r3 = await caro(["x"], { env: makeHome(vllmConfig(broken.url)).env });
    expect(r3.exitCode).toBe(1);
    expect(r3.stderr).toMatch(/sent a stream caro cannot read/);
  });

  it("a first byte later than the timeout", async () => {
    const vllm = await track(openaiStandin({ firstByteDelayMs: 3000 }));
    const { env, configPath } = makeHome(vllmConfig(vllm.url, 'model = "m"\ntimeout = 0.3\n'));
    const result = await caro(["x"], { env });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toBe(
      `caro: the OpenAI-compatible server at ${vllm.url} did not answer within 0.3 s: raise [backends.vllm] timeout ` +
        `in ${configPath}`,
    );
  });

  it("connection refused: says to start a server, vLLM only as an example", async () => {
    const url = await deadUrl();
    const { env, configPath } = makeHome(vllmConfig(url, 'model = "Qwen/Qwen2.5-Coder-1.5B-Instruct"\n'));
    const result = await caro(["x"], { env });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toBe(
      `caro: no OpenAI-compatible server is running at ${url}: start one, e.g. "vllm serve <model>" or "llama-server ` +
        `-m <file.gguf>", ` +
        `or fix [backends.vllm] url in ${configPath}`,
    );
  });

  it("Ctrl-C in mid-stream aborts the HTTP request and exits 130", async () => {
    const vllm = await track(openaiStandin({ chunkBytes: 16, chunkDelayMs: 100 }));
    const { env } = makeHome(vllmConfig(vllm.url));
    const child = caro(["--verbose", "x"], { env });
    child.stderr?.on("data", (chunk: Buffer) => {
      if (chunk.toString().includes("decoding…")) child.kill("SIGINT");
    });
    const result = await child;
    expect(result.exitCode).toBe(130);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(vllm.aborted).toBe(1);
  });
});

describe("choosing a backend automatically", () => {
  it("takes the embedded backend first when its model is present", async () => {
    const ollama = await track(ollamaStandin());
    const { env } = makeHome(`${modelConfig("tiny")}[backends.ollama]\nhost = "${ollama.url}"\n`);
    const { answer } = await json(["list"], env);
    expect(answer.backend).toBe("embedded");
    expect(answer.passed_over).toEqual([]);
    expect(ollama.chats).toHaveLength(0);
  });

  it("then Ollama when a server answers, saying why embedded was passed over", async () => {
    const ollama = await track(ollamaStandin({ commands: { list: "ls" } }));
    const { env } = makeHome(
      `[backends.embedded]\nmodel = "/missing/model.gguf"\n[backends.ollama]\nhost = "${ollama.url}"\n`,
    );
    const { answer } = await json(["list"], env);
    expect(answer.backend).toBe("ollama");
    expect(answer.passed_over).toEqual([
      { backend: "embedded", reason: expect.stringContaining("model file not found: /missing/model.gguf") },
    ]);
    const verbose = await caro(["--verbose", "list", "again"], { env });
    expect(verbose.stderr).toContain("caro: passed over embedded: model file not found");
    expect(verbose.stderr).toContain("caro: backend ollama");
  });

  it("then vLLM when configured and enabled", async () => {
    const vllm = await track(openaiStandin({ commands: { list: "ls" } }));
    const { env } = makeHome(
      `[backends.embedded]\nmodel = "/missing.gguf"\n[backends.ollama]\nhost = ` +
        `"${await deadUrl()}"\n[backends.vllm]\nurl = "${vllm.url}"\n`,
    );
    const { answer } = await json(["list"], env);
    expect(answer.backend).toBe("vllm");
    expect(answer.passed_over.map((p: { backend: string }) => p.backend)).toEqual(["embedded", "ollama"]);
    expect(answer.passed_over[1].reason).toMatch(/no Ollama server answers at/);
  });

  it("skips a disabled Ollama", async () => {
    const ollama = await track(ollamaStandin());
    const vllm = await track(openaiStandin({ commands: { list: "ls" } }));
    const { env } = makeHome(
      `[backends.embedded]\nmodel = "/missing.gguf"\n[backends.ollama]\nenabled = false\nhost = ` +
        `"${ollama.url}"\n[backends.vllm]\nurl = "${vllm.url}"\n`,
    );
    const { answer } = await json(["list"], env);
    expect(answer.backend).toBe("vllm");
    expect(answer.passed_over[1]).toEqual({ backend: "ollama", reason: "disabled in the config" });
  });

  it("when none can serve: a short line naming why each could not, then what to do, exit 1", async () => {
    const ollamaUrl = await deadUrl();
    const vllmUrl = await deadUrl();
    const { env, configPath } = makeHome(
      `[backends.embedded]\nmodel = "/missing.gguf"\n` +
        `[backends.ollama]\nhost = "${ollamaUrl}"\n[backends.vllm]\nurl = "${vllmUrl}"\n`,
    );
    const result = await caro(["list"], { env });
    expect(result.exitCode).toBe(1);
    expect(result.stderr.split("\n")).toEqual([
      "caro: no backend can answer:",
      expect.stringMatching(/^ {4}embedded: model file not found: \/missing\.gguf/),
      `    ollama: no Ollama server answers at ${ollamaUrl}`,
      `    vllm: no OpenAI-compatible server answers at ${vllmUrl}`,
      `  set [backends.embedded] model in ${configPath} to a GGUF file`,
      '  or start a server: "ollama serve", or an OpenAI-compatible one (e.g. "vllm serve <model>")',
    ]);
  });

  it("never switches away from a backend chosen by name", async () => {
    const url = await deadUrl();
    const { env } = makeHome(`${modelConfig("tiny")}[backends.ollama]\nhost = "${url}"\n`);
    const result = await caro(["--backend", "ollama", "list"], { env });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toBe(`caro: Ollama is not running at ${url}: start it with "ollama serve"`);
  });

  it("rates every backend's answer the same way", async () => {
    const ollama = await track(ollamaStandin({ commands: { "wipe everything": "sudo rm -rf /" } }));
    const { env } = makeHome(ollamaConfig(ollama.url));
    const { answer } = await json(["wipe", "everything"], env);
    expect(answer.risk).toBe("critical");
    expect(answer.reasons[0]).toMatch(/everything on the system/);
  });

  it("refuses an answer that does not parse as shell from a server too, after one retry", async () => {
    const ollama = await track(ollamaStandin({ commands: { x: "echo 'unclosed" } }));
    const { env } = makeHome(ollamaConfig(ollama.url));
    const result = await caro(["x"], { env });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/no usable command in 2 tries/);
    expect(ollama.chats.map((c) => (c.options as { seed: number }).seed)).toEqual([1, 2]);
  });
});

/** Waits until the stand-in has seen the client hang up (it counts the close as it happens). */
async function hungUp(standin: Standin): Promise<void> {
  for (let i = 0; i < 100 && standin.aborted === 0; i++) await new Promise((resolve) => setTimeout(resolve, 50));
}

const FIFTY_MB = 50 * 1024 * 1024;

/** `caro doctor --json`'s checks by name. */
async function doctorChecks(env: Record<string, string>): Promise<Record<string, { status: string; detail: string }>> {
  const report = JSON.parse(String((await caro(["doctor", "--json"], { env })).stdout)) as {
    checks: { name: string }[];
  };
  return Object.fromEntries(report.checks.map((c) => [c.name, c])) as Record<
    string,
    { status: string; detail: string }
  >;
}

describe("hostile and broken servers", () => {
  it("a kept connection the server drops when it is used again: the request is sent once more, afresh", async () => {
    // Each connection takes one chat; a second on it is dropped unanswered, as a server that
    // closed an idle connection at the moment it was reused would.
    const chats = new Map<object, number>();
    const ollama = await track(
      serve((req, res) => {
        if (req.url === "/api/version") return res.end('{"version":"0.5.7"}');
        const used = (chats.get(req.socket) ?? 0) + 1;
        chats.set(req.socket, used);
        if (used > 1) return req.socket.destroy();
        req
          .resume()
          .on("end", () =>
            res.end(`${JSON.stringify({ message: { content: '{"command":"ls -la"}' }, done: true })}\n`),
          );
      }),
    );
    const { env } = makeHome(ollamaConfig(ollama.url));
    for (const request of ["list files", "list the files again", "and once more"]) {
      const result = await caro([request], { env });
      expect(result.exitCode, String(result.stderr)).toBe(0);
      expect(result.stdout).toBe("ls -la");
    }
    const posts = ollama.requests.filter((r) => r === "POST /api/chat");
    // Three answers; each after the first went out twice: on the kept connection, then on a new one.
    expect(posts).toHaveLength(5);
  });

  it("a server that trickles its answer is cut off once the rest does not come within another timeout", async () => {
    // Each piece comes well within the timeout; the whole answer would take minutes.
    const ollama = await track(ollamaStandin({ chunkBytes: 4, chunkDelayMs: 100 }));
    const home = makeHome(ollamaConfig(ollama.url, "timeout = 0.5\n"));
    const r1 = await caro(["x"], { env: home.env });
    expect(r1.exitCode).toBe(1);
    expect(r1.stderr).toBe(
      `caro: Ollama started answering but did not finish within another 0.5 s: raise [backends.ollama] timeout in ` +
        `${home.configPath}`,
    );

    const vllm = await track(openaiStandin({ chunkBytes: 4, chunkDelayMs: 100 }));
    const vhome = makeHome(vllmConfig(vllm.url, 'model = "Qwen/Qwen2.5-Coder-1.5B-Instruct"\ntimeout = 0.5\n'));
    const r2 = await caro(["--no-daemon", "x"], { env: vhome.env });
    expect(r2.exitCode).toBe(1);
    expect(r2.stderr).toBe(
      `caro: the OpenAI-compatible server at ${vllm.url} started answering but did not finish within another 0.5 s: ` +
        `raise [backends.vllm] timeout in ${vhome.configPath}`,
    );
  });

  for (const daemon of [true, false]) {
    const how = daemon ? "through the daemon" : "with --no-daemon";
    const flags = daemon ? [] : ["--no-daemon"];

    it(`Ollama answering without end: stops reading past the length cap, ${how}`, async () => {
      const ollama = await track(ollamaStandin({ endless: "text" }));
      const { env, configPath } = makeHome(ollamaConfig(ollama.url));
      const result = await caro([...flags, "x"], { env });
      expect(result.exitCode).toBe(1);
      expect(result.stderr).toBe(
        `caro: Ollama's answer ran past 1600 characters, longer than any command caro takes, so caro stopped reading ` +
          `it ` +
          `(max_command_length in ${configPath} sets the limit)`,
      );
      await hungUp(ollama);
      expect(ollama.aborted).toBe(1);
      expect(ollama.sentBytes).toBeLessThan(FIFTY_MB);
    });

    it(`an OpenAI-compatible server answering without end: stops reading past the length cap, ${how}`, async () => {
      const vllm = await track(openaiStandin({ endless: "text" }));
      const { env, configPath } = makeHome(vllmConfig(vllm.url));
      const result = await caro([...flags, "x"], { env });
      expect(result.exitCode).toBe(1);
      expect(result.stderr).toBe(
        `caro: the answer from the OpenAI-compatible server at ${vllm.url} ran past 1600 characters, longer than any ` +
          `command ` +
          `caro takes, so caro stopped reading it (max_command_length in ${configPath} sets the limit)`,
      );
      await hungUp(vllm);
      expect(vllm.aborted).toBe(1);
      expect(vllm.sentBytes).toBeLessThan(FIFTY_MB);
    });
  }

  it("endless bytes that hold no model text (one unending line, keep-alive comments) are cut off too", async () => {
    const ollama = await track(ollamaStandin({ endless: "chatter" }));
    const { env, configPath } = makeHome(ollamaConfig(ollama.url));
    const r1 = await caro(["x"], { env });
    expect(r1.exitCode).toBe(1);
    expect(r1.stderr).toMatch(
      /^caro: Ollama's answer ran past 1 MB, longer than any command caro takes, so caro stopped reading it/,
    );
    expect(r1.stderr).toContain(`(max_command_length in ${configPath} sets the limit)`);
    await hungUp(ollama);
    expect(ollama.sentBytes).toBeLessThan(FIFTY_MB);

    const vllm = await track(openaiStandin({ endless: "chatter" }));
    const r2 = await caro(["x"], { env: makeHome(vllmConfig(vllm.url)).env });
    expect(r2.exitCode).toBe(1);
    expect(r2.stderr).toMatch(/^caro: the answer from the OpenAI-compatible server at .* ran past 1 MB/);
    await hungUp(vllm);
    expect(vllm.sentBytes).toBeLessThan(FIFTY_MB);
  });

  it("a server that hangs up mid-answer: says so, not that it is not running", async () => {
    const ollama = await track(ollamaStandin({ dropAfterBytes: 300 }));
    const r1 = await caro(["x"], { env: makeHome(ollamaConfig(ollama.url)).env });
    expect(r1.exitCode).toBe(1);
    expect(r1.stderr).toBe(
      `caro: Ollama at ${ollama.url} closed the connection mid-answer: see its log, then ask again`,
    );

    const vllm = await track(openaiStandin({ dropAfterBytes: 300 }));
    const r2 = await caro(["--no-daemon", "x"], { env: makeHome(vllmConfig(vllm.url)).env });
    expect(r2.exitCode).toBe(1);
    expect(r2.stderr).toBe(
      `caro: the OpenAI-compatible server at ${vllm.url} closed the connection mid-answer: see its log, then ask again`,
    );

    const rude = await track(ollamaStandin({ hangUp: true }));
    const r3 = await caro(["x"], { env: makeHome(ollamaConfig(rude.url)).env });
    expect(r3.exitCode).toBe(1);
    expect(r3.stderr).toBe(
      `caro: Ollama at ${rude.url} closed the connection before answering: see its log, then ask again`,
    );
  });

  it("quotes a server's error text inert: no escape sequences, no control characters, one line", async () => {
    const hostile =
      "\x1b]0;owned\x07\x1b[31mmodel\x1b[0m crashed\nsee \x1b]8;;http://evil/\x1b\\log\x1b]8;;\x1b\\\r\x9b2J\x07 now";
    const ollama = await track(ollamaStandin({ fail: { status: 500, body: JSON.stringify({ error: hostile }) } }));
    const r1 = await caro(["x"], { env: makeHome(ollamaConfig(ollama.url)).env });
    expect(r1.stderr).toBe("caro: Ollama answered HTTP 500: model crashed see log now");

    const inStream = await track(ollamaStandin({ malformed: `${JSON.stringify({ error: hostile })}\n` }));
    const r2 = await caro(["x"], { env: makeHome(ollamaConfig(inStream.url)).env });
    expect(r2.stderr).toBe("caro: Ollama failed: model crashed see log now");

    const vllm = await track(openaiStandin({ malformed: `data: \x1b[2J\x1b]52;c;ZWNobyBoaQ==\x07{not json\n\n` }));
    const r3 = await caro(["x"], { env: makeHome(vllmConfig(vllm.url)).env });
    expect(r3.stderr).toBe(
      `caro: the OpenAI-compatible server at ${vllm.url} sent a stream caro cannot read: "{not json"`,
    );
    for (const r of [r1, r2, r3]) expect(r.stderr).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f]/);
  });

  it("never uses a listed model id that would put control characters on the terminal", async () => {
    const models = ["\x1b]0;owned\x07m", "Qwen/Qwen2.5-Coder-1.5B-Instruct"];
    const vllm = await track(openaiStandin({ models, commands: { x: "pwd" } }));
    const { answer } = await json(["x"], makeHome(vllmConfig(vllm.url)).env);
    expect(answer.model).toBe("Qwen/Qwen2.5-Coder-1.5B-Instruct");
  });
});

describe("OpenAI-compatible servers other than vLLM", () => {
  it("takes a url ending in /v1 or /v1/, as LM Studio and the OpenAI SDKs show it", async () => {
    const server = await track(openaiStandin({ commands: { x: "hostname" } }));
    for (const suffix of ["/v1", "/v1/"]) {
      const { answer } = await json(["x"], makeHome(vllmConfig(`${server.url}${suffix}`)).env);
      expect(answer.command).toBe("hostname");
    }
    expect(server.requests.filter((r) => r.includes("/v1/v1"))).toEqual([]);
  });

  it("after the server changes model, the daemon finds the new one before asking", async () => {
    const models = ["Qwen/Qwen2.5-Coder-1.5B-Instruct"];
    const server = await track(openaiStandin({ models, commands: { x: "uname -a", y: "uname -r" } }));
    const { env } = makeHome(vllmConfig(server.url));
    expect((await json(["x"], env)).answer.model).toBe("Qwen/Qwen2.5-Coder-1.5B-Instruct");
    // The daemon keeps the id it discovered; the server now serves another model.
    models.splice(0, 1, "meta-llama/Llama-3.2-3B-Instruct");
    const { result, answer } = await json(["y"], env);
    expect(result.exitCode).toBe(0);
    expect(answer).toMatchObject({ command: "uname -r", model: "meta-llama/Llama-3.2-3B-Instruct", cached: false });
    // The list the answer cache asks for shows the change: no request goes to the model that left.
    const [before, after] = ["Qwen/Qwen2.5-Coder-1.5B-Instruct", "meta-llama/Llama-3.2-3B-Instruct"];
    expect(server.chats.map((c) => c.model)).toEqual([before, after]);
  });

  it("auto probes the server's /v1/models, and doctor says the same", async () => {
    const dead = await deadUrl();
    const base = `[backends.embedded]\nmodel = "/missing.gguf"\n[backends.ollama]\nhost = "${await deadUrl()}"\n`;
    const down = makeHome(`${base}[backends.vllm]\nurl = "${dead}"\n`);
    const r1 = await caro(["list"], { env: down.env });
    expect(r1.exitCode).toBe(1);
    expect(r1.stderr).toContain(`    vllm: no OpenAI-compatible server answers at ${dead}\n`);
    const d1 = await doctorChecks(down.env);
    expect(d1.vllm).toMatchObject({ status: "warn", detail: `no OpenAI-compatible server answers at ${dead}` });

    const server = await track(openaiStandin({ commands: { list: "ls" } }));
    const up = makeHome(`${base}[backends.vllm]\nurl = "${server.url}/v1"\n`);
    expect((await json(["list"], up.env)).answer.backend).toBe("vllm");
    const d2 = await doctorChecks(up.env);
    expect(d2.vllm).toMatchObject({
      status: "ok",
      detail: `answering at ${server.url} with Qwen/Qwen2.5-Coder-1.5B-Instruct`,
    });
    expect(d2.backend).toMatchObject({ status: "ok", detail: "auto will use vllm" });
  });
});

describe("OpenAI-compatible servers as llama-server behaves", () => {
  it("keeps the connection where the server does: one for every chat; llama-server closes it: one a chat", async () => {
    const keeping = await track(openaiStandin({ commands: { a: "ls", b: "pwd", c: "id" } }));
    const closing = await track(openaiStandin({ like: "llama-server", commands: { a: "ls", b: "pwd", c: "id" } }));
    for (const server of [keeping, closing]) {
      const { env } = makeHome(vllmConfig(server.url));
      for (const request of ["a", "b", "c"]) {
        const { result, answer } = await json([request], env);
        expect(result.exitCode, String(result.stderr)).toBe(0);
        expect(answer.cached).toBe(false);
      }
      expect(server.chats).toHaveLength(3);
    }
    // Each reply read to its end (not left at [DONE]): the daemon's one connection carried all three.
    expect(keeping.chatConnections).toBe(1);
    expect(closing.chatConnections).toBe(3);
  });

  it("names the model that answered in --json, --verbose and daemon status; follows the server's changes", async () => {
    const models = ["alpha.gguf"];
    const server = await track(openaiStandin({ like: "llama-server", models, commands: { x: "ls", y: "pwd" } }));
    const { env } = makeHome(vllmConfig(server.url));
    expect((await json(["x"], env)).answer.model).toBe("alpha.gguf");
    // The server restarts with another file; it still takes any name, so nothing fails to say so.
    models.splice(0, 1, "beta.gguf");
    const verbose = await caro(["--verbose", "y"], { env });
    expect(verbose.stderr).toContain("caro: vllm · beta.gguf · server · ");
    expect((await caro(["daemon", "status"], { env })).stdout).toMatch(/^ {2}model +beta\.gguf$/m);
    // A name the config gives is sent, and the one the server answers with is reported.
    const named = makeHome(vllmConfig(server.url, 'model = "gpt-4o"\n'));
    const { answer } = await json(["--no-daemon", "x"], named.env);
    expect(answer.model).toBe("beta.gguf");
    expect(server.chats.map((c) => c.model)).toEqual(["alpha.gguf", "beta.gguf", "gpt-4o"]);
  });

  it("keys the answer cache by the server, the model it serves and the API key, never holding the key", async () => {
    const models = ["alpha.gguf"];
    const first = await track(openaiStandin({ like: "llama-server", models, commands: { x: "ls" } }));
    const second = await track(openaiStandin({ like: "llama-server", models: ["alpha.gguf"], commands: { x: "ls" } }));
    const { env, configPath } = makeHome(vllmConfig(first.url));
    const ask = async (extra: Record<string, string> = {}) => (await json(["x"], { ...env, ...extra })).answer;
    const key = (k: string) => ({ CARO_VLLM_API_KEY: k });
    expect(await ask(key("key-one"))).toMatchObject({ cached: false, model: "alpha.gguf" });
    expect(await ask(key("key-one"))).toMatchObject({ cached: true, model: "alpha.gguf" });
    expect(await ask(key("key-two"))).toMatchObject({ cached: false });
    models.splice(0, 1, "beta.gguf");
    expect(await ask(key("key-one"))).toMatchObject({ cached: false, model: "beta.gguf" });
    writeFileSync(configPath, vllmConfig(second.url));
    expect(await ask(key("key-one"))).toMatchObject({ cached: false, model: "alpha.gguf" });
    expect(first.chats).toHaveLength(3);
    expect(second.chats).toHaveLength(1);
    const log = readFileSync(join(env.XDG_STATE_HOME, "caro", "daemon.log"), "utf8");
    expect(log).toContain("(from the answer cache)");
    expect(log).not.toContain("key-one");
  });

  it("a server loading its model: caro asks again within its timeout, then says to wait", async () => {
    const loading = await track(openaiStandin({ like: "llama-server", loadingMs: 800, commands: { x: "ls" } }));
    const r1 = await caro(["--no-daemon", "--verbose", "x"], { env: makeHome(vllmConfig(loading.url)).env });
    expect(r1.exitCode, String(r1.stderr)).toBe(0);
    expect(r1.stdout).toBe("ls");
    expect(r1.stderr).toContain(
      `caro: the OpenAI-compatible server at ${loading.url} is not ready (HTTP 503: Loading model): asking again for ` +
        `up to 30 s`,
    );
    expect(loading.unavailable).toBeGreaterThan(0);
    expect(loading.chats).toHaveLength(1);

    const stuck = await track(openaiStandin({ like: "llama-server", loadingMs: 60_000 }));
    const home = makeHome(vllmConfig(stuck.url, "timeout = 0.6\n"));
    const r2 = await caro(["x"], { env: home.env });
    expect(r2.exitCode).toBe(1);
    expect(r2.stderr).toBe(
      `caro: the OpenAI-compatible server at ${stuck.url} is still loading its model after 0.6 s (HTTP 503: Loading ` +
        `model): ` +
        `wait until it has loaded, then ask again (caro waits up to [backends.vllm] timeout in ${home.configPath})`,
    );
  });

  it("a url that is not the API's base: says to fix the url, whatever the server and the model's source", async () => {
    const llama = await track(openaiStandin({ like: "llama-server" }));
    const vllm = await track(openaiStandin());
    for (const [server, said] of [
      [llama, "File Not Found"],
      [vllm, "Not Found"],
    ] as const) {
      for (const model of ["", 'model = "m"\n']) {
        const home = makeHome(vllmConfig(`${server.url}/api`, model));
        const result = await caro(["--no-daemon", "x"], { env: home.env });
        expect(result.exitCode).toBe(1);
        expect(result.stderr).toBe(
          `caro: no OpenAI-compatible API answers at ${server.url}/api (HTTP 404: ${said}): ` +
            `set [backends.vllm] url in ${home.configPath} to the server's base URL (caro adds /v1/…)`,
        );
      }
    }
  });

  it("a request longer than the server's context: says so, exit 2, with no second try", async () => {
    const llama = await track(openaiStandin({ like: "llama-server", contextSize: 64 }));
    const r1 = await caro(["x"], { env: makeHome(vllmConfig(llama.url)).env });
    expect(r1.exitCode).toBe(2);
    expect(r1.stderr).toMatch(
      new RegExp(
        `^caro: the request is too long for the model at ${llama.url} \\(HTTP 400: request \\(\\d+ tokens\\) exceeds ` +
          "the available context size \\(64 tokens\\), try increasing it\\): shorten the request, or raise the " +
          "server's context \\(llama-server -c, vllm serve --max-model-len\\)$",
      ),
    );
    expect(llama.chats).toHaveLength(1);

    const vllm = await track(openaiStandin({ contextSize: 64 }));
    const r2 = await caro(["--no-daemon", "x"], { env: makeHome(vllmConfig(vllm.url)).env });
    expect(r2.exitCode).toBe(2);
    expect(r2.stderr).toMatch(/HTTP 400: This model's maximum context length is 64 tokens\. .*: shorten the request/);
    expect(vllm.chats).toHaveLength(1);
  });

  it("a server that holds the body open after [DONE]: the answer is not kept waiting", async () => {
    const server = await track(openaiStandin({ commands: { x: "ls" }, holdAfterDoneMs: 20_000 }));
    const result = await caro(["--no-daemon", "x"], { env: makeHome(vllmConfig(server.url)).env });
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe("ls");
    await hungUp(server);
    expect(server.aborted).toBe(1);
  });
});

describe("an OpenAI-compatible backend in one process", () => {
  const settings = (url: string) => ({
    ...loadConfig({}, { HOME: "/nonexistent", CARO_CONFIG: "/nonexistent/caro.toml" }).settings,
    "backends.vllm.url": url,
  });
  const request = (text: string) => ({
    prompt: { system: "Answer with JSON only.", examples: [], user: `request: ${text}` },
    schema: { type: "object" },
    seed: 1,
    maxTextLength: 1600,
  });

  it("asks again at once, as the pipeline's second try does: none sent on a connection the server closed", async () => {
    const server = await track(openaiStandin({ like: "llama-server", commands: { x: "ls" } }));
    const backend = new OpenaiBackend(settings(server.url), "/config.toml");
    const before = { ...connectionCounts };
    for (let i = 0; i < 4; i++) expect((await backend.generate(request("x"))).text).toBe('{"command":"ls"}');
    expect(connectionCounts.resent - before.resent).toBe(0);
    expect(connectionCounts.opened - before.opened).toBe(4);
    expect(server.chatConnections).toBe(4);
  });

  it("a model gone from the server since it was listed: the new one is found and asked, once", async () => {
    const models = ["alpha"];
    const server = await track(openaiStandin({ models, commands: { x: "ls" } }));
    const backend = new OpenaiBackend(settings(server.url), "/config.toml");
    expect((await backend.generate(request("x"))).model).toBe("alpha");
    models.splice(0, 1, "beta");
    expect((await backend.generate(request("x"))).model).toBe("beta");
    expect(server.chats.map((c) => c.model)).toEqual(["alpha", "alpha", "beta"]);
  });
});
