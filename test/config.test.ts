import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { caro, makeHome, modelConfig } from "./helpers/caro.js";
import { testModelPath } from "./helpers/models.js";

describe("config", () => {
  it("reads $XDG_CONFIG_HOME/caro/config.toml, and $CARO_CONFIG instead when set", async () => {
    const { env, home, configPath } = makeHome();
    expect((await caro(["config", "path"], { env })).stdout).toBe(configPath);
    const other = join(home, "elsewhere.toml");
    expect((await caro(["config", "path"], { env: { ...env, CARO_CONFIG: other } })).stdout).toBe(other);
  });

  it("is fine without a file: defaults apply", async () => {
    const { env } = makeHome();
    const result = await caro(["config", "show"], { env });
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain("(not found: defaults apply)");
    expect(result.stdout).toContain('backend = "auto"  # default');
    expect(result.stdout).toContain("backends.embedded.context_size = 2048  # default");
  });

  it("takes flags over env over the file over defaults, and says where each value came from", async () => {
    const { env } = makeHome('backend = "embedded"\n[backends.embedded]\nmodel = "/from/file.gguf"\nthreads = 3\n');
    const fileOnly = await caro(["config", "show"], { env });
    expect(fileOnly.stdout).toContain('backends.embedded.model = "/from/file.gguf"  # file');
    expect(fileOnly.stdout).toContain("backends.embedded.threads = 3  # file");
    expect(fileOnly.stdout).toContain('backend = "embedded"  # file');

    const withEnv = await caro(["config", "show"], { env: { ...env, CARO_MODEL: "/from/env.gguf" } });
    expect(withEnv.stdout).toContain('backends.embedded.model = "/from/env.gguf"  # $CARO_MODEL');

    // A request shows which value won by the path it fails to find.
    const flagWins = await caro(["--model", "/from/flag.gguf", "list"], {
      env: { ...env, CARO_MODEL: "/from/env.gguf" },
    });
    expect(flagWins.stderr).toContain("/from/flag.gguf");
    const envWins = await caro(["list"], { env: { ...env, CARO_MODEL: "/from/env.gguf" } });
    expect(envWins.stderr).toContain("/from/env.gguf");
    const fileWins = await caro(["list"], { env });
    expect(fileWins.stderr).toContain("/from/file.gguf");
  });

  it("answers with the model the file names", async () => {
    const { env } = makeHome(modelConfig("tiny"));
    const result = await caro(["--json", "list", "files"], { env });
    expect(result.exitCode).toBe(0);
    expect(JSON.parse(String(result.stdout)).model).toBe(testModelPath("tiny").split("/").at(-1));
  });

  it("stops with path:line:col on a syntax error, exit 2", async () => {
    const { env, configPath } = makeHome('backend = "auto"\n[backends.embedded\nmodel = "x"\n');
    const result = await caro(["list", "files"], { env });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(new RegExp(`^caro: ${configPath}:2:\\d+: .+$`));
    expect(result.stderr.split("\n")).toHaveLength(1);
  });

  it("stops on a value of the wrong type, naming the key, exit 2", async () => {
    const { env, configPath } = makeHome('[backends.embedded]\nthreads = "many"\n');
    const result = await caro(["list", "files"], { env });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toBe(
      `caro: ${configPath}: backends.embedded.threads must be a whole number of at least 0 (got "many")`,
    );
  });

  it("warns once about an unknown key and goes on", async () => {
    const { env, configPath } = makeHome(`${modelConfig("tiny")}colour = "blue"\n`);
    const result = await caro(["list", "files"], { env });
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toContain(`caro: warning: unknown key "backends.embedded.colour" in ${configPath} (ignored)`);
  });

  it("never writes to the config file", async () => {
    const text = '# my settings\nbackend = "auto"\n';
    const { env, configPath } = makeHome(text);
    await caro(["config", "show"], { env });
    await caro(["list"], { env });
    const { readFileSync } = await import("node:fs");
    expect(readFileSync(configPath, "utf8")).toBe(text);
  });

  it("rejects an unknown config action", async () => {
    const result = await caro(["config", "edit"]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('unknown config action "edit"');
  });
});
