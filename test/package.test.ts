import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { makeHome, ollamaConfig } from "./helpers/caro.js";
import { ROOT } from "./helpers/models.js";
import { ollamaStandin } from "./helpers/standins.js";

// npm as the developer runs it (its cache in their home), without its notices.
const npmEnv = {
  ...process.env,
  npm_config_update_notifier: "false",
  npm_config_fund: "false",
  npm_config_audit: "false",
};

/** What caro reads at run time: the built code, the entry point, the shell widgets and the prompt. */
const SHIPPED = /^(bin\/|dist\/|shell\/|src\/prompt\/prompt\.md$|package\.json$|README\.md$|LICENSE$)/;

describe("the npm package", () => {
  it("ships what caro runs on and nothing else, installs with npm install -g, and works from there", async () => {
    const dir = mkdtempSync(join(tmpdir(), "caro-pack-"));
    const ollama = await ollamaStandin({ commands: { "list files": "ls -la" } });
    try {
      // prepack builds dist/ first, so the tarball never holds a stale or missing build. The global
      // setup has just built it: packing without scripts leaves dist/ alone for the files running
      // beside this one.
      const manifest = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
      expect(manifest.scripts.prepack).toBe(manifest.scripts.build);
      const pack = await execa("npm", ["pack", "--json", "--ignore-scripts", "--pack-destination", dir], {
        cwd: ROOT,
        env: npmEnv,
      });
      const [info] = JSON.parse(pack.stdout) as { filename: string; files: { path: string }[] }[];
      const files = info.files.map((f) => f.path);
      expect(files).toEqual(
        expect.arrayContaining([
          "bin/caro.js",
          // Says bin/ is CommonJS: without it, caro.js would load as an ES module (a slower start).
          "bin/package.json",
          "dist/cjs/main.cjs",
          "dist/cli/main.js",
          "dist/worker/inference-worker.js",
          "src/prompt/prompt.md",
          "shell/zsh/caro.zsh",
          "shell/bash/caro.bash",
          "shell/fish/caro.fish",
          // init splices it into zsh's and bash's script; doctor has each shell source its keys query.
          "shell/common.sh",
          "shell/zsh/keys.zsh",
        ]),
      );
      expect(files.filter((f) => !SHIPPED.test(f) || f.endsWith(".map"))).toEqual([]);

      // From npm's cache where it can: the test needs no network when the dependencies are there.
      // Without install scripts: here they only build native add-ons, chiefly tree-sitter, whose
      // prebuilt binary wants a newer libstdc++ than Debian 12's (a C++ compile of 27 CPU-s). caro
      // runs without them, rating with tree-sitter's WASM build, as it would where that compile fails.
      const prefix = join(dir, "prefix");
      const tarball = join(dir, info.filename);
      const install = ["install", "-g", "--prefix", prefix, "--prefer-offline", "--ignore-scripts", tarball];
      await execa("npm", install, { env: npmEnv });
      const installed = join(prefix, "bin", "caro");
      const { env } = makeHome(ollamaConfig(ollama.url));
      const run = (args: string[]) => execa(installed, args, { env, extendEnv: false, reject: false, stdin: "ignore" });

      const version = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version;
      expect((await run(["--version"])).stdout).toBe(version);
      const init = await run(["init", "zsh"]);
      expect(init.exitCode).toBe(0);
      expect(init.stdout).toContain(`'${join(prefix, "lib", "node_modules", "caro", "bin", "caro.js")}' widget zsh`);
      const check = await run(["check", "--", "ls"]);
      expect(check.stdout).toBe("safe");
      // A request starts the installed daemon, which builds its prompt from the shipped prompt file.
      const answer = await run(["list", "files"]);
      expect(answer.stderr).toBe("caro: risk safe");
      expect(answer.stdout).toBe("ls -la");
      const prompt = readFileSync(join(ROOT, "src", "prompt", "prompt.md"), "utf8");
      expect(ollama.chats[0].messages[0].content).toContain(prompt.slice(0, 40));
    } finally {
      await ollama.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 240_000);
});
