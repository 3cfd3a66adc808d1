import { afterEach, describe, expect, it } from "vitest";
import { caro, makeHome, modelConfig, ollamaConfig } from "./helpers/caro.js";
import { ollamaStandin, type Standin } from "./helpers/standins.js";

let ollama: Standin | undefined;
afterEach(async () => {
  await ollama?.close();
  ollama = undefined;
});

const json = async (args: string[], env: Record<string, string>) => {
  const result = await caro(["--json", ...args], { env });
  expect(result.exitCode).toBe(0);
  return JSON.parse(String(result.stdout));
};

describe("the fixed prompt's evaluation is kept", () => {
  it("in the daemon between requests: each evaluates only its own tokens", async () => {
    const { env } = makeHome(modelConfig("tiny"));
    const first = await json(["list", "files"], env);
    const second = await json(["show", "disk", "usage"], env);
    expect(first.prefix_cache).toBe("evaluated");
    expect(second.prefix_cache).toBe("memory");
    expect(second.timings.prompt_tokens).toBeLessThan(60);
  });

  it("on disk, so a fresh process skips the prefill", async () => {
    const { env } = makeHome(modelConfig("tiny"));
    const first = await json(["--no-daemon", "list", "files"], env);
    const second = await json(["--no-daemon", "list", "files"], env);
    expect(first.prefix_cache).toBe("evaluated");
    expect(second.prefix_cache).toBe("disk");
    expect(second.timings.prompt_tokens).toBe(first.timings.prompt_tokens);
  });

  it("not at all with prefix_cache = false: every request reads the whole prompt", async () => {
    const { env } = makeHome(modelConfig("tiny", "prefix_cache = false\n"));
    const first = await json(["list", "files"], env);
    const second = await json(["show", "disk", "usage"], env);
    expect([first.prefix_cache, second.prefix_cache]).toEqual(["off", "off"]);
    expect(second.timings.prompt_tokens).toBeGreaterThan(500);
  });

  it("a new prompt (another shell) gets its own prefix", async () => {
    const { env } = makeHome(modelConfig("tiny"));
    await json(["list", "files"], env);
    const fish = await json(["--shell", "fish", "list", "files"], env);
    expect(fish.prefix_cache).toBe("evaluated");
  });
});

describe("the answer cache", () => {
  it("answers an identical request in an identical context from memory", async () => {
    ollama = await ollamaStandin({ commands: { "list files": "ls -la" } });
    const { env } = makeHome(ollamaConfig(ollama.url));
    const first = await json(["list", "files"], env);
    const again = await json(["list", "files"], env);
    expect(first.cached).toBe(false);
    expect(again).toMatchObject({ command: "ls -la", cached: true });
    expect((await caro(["--verbose", "list", "files"], { env })).stderr).toContain(
      "caro: from the daemon's cache of identical requests",
    );
    expect(ollama.chats).toHaveLength(1);
    // Another folder, another shell or another model is another context.
    await caro(["list", "files"], { env, cwd: "/" });
    await caro(["--shell", "zsh", "list", "files"], { env });
    expect(ollama.chats).toHaveLength(3);
  });
});
