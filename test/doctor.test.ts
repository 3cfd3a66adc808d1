import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { CARO_BIN, caro, makeHome, modelConfig, ollamaConfig } from "./helpers/caro.js";
import { shellQuote } from "./helpers/tmux.js";
import { serve } from "./helpers/http.js";
import { ollamaStandin, openaiStandin, type Standin } from "./helpers/standins.js";
import { gpuCheck } from "../src/cli/doctor-command.js";
import { diagnoseBuilds } from "../src/cli/gpu-builds.js";
import { findGpus } from "../src/cli/gpu-devices.js";

const [vulkan] = await diagnoseBuilds(["vulkan"]);
const vulkanLoads = vulkan.loads;

const GB = 1e9;
/** Fake machines for the model suggestion, as $CARO_TEST_MACHINE takes them. */
const MACHINES = {
  bigGpu: {
    cores: 16,
    ram_total_bytes: 64 * GB,
    ram_available_bytes: 48 * GB,
    gpu: { build: "cuda", name: "NVIDIA GeForce RTX 4090", vram_total_bytes: 24 * GB, vram_free_bytes: 23 * GB },
  },
  eightCores: { cores: 8, ram_total_bytes: 32 * GB, ram_available_bytes: 20 * GB, gpu: null },
  small: { cores: 2, ram_total_bytes: 4 * GB, ram_available_bytes: 2.5 * GB, gpu: null },
};
const onMachine = (env: Record<string, string>, machine: object) => ({
  ...env,
  CARO_TEST_MACHINE: JSON.stringify(machine),
});
const checkOf = (stdout: unknown, name: string) =>
  JSON.parse(String(stdout)).checks.find((c: { name: string }) => c.name === name);

let ollama: Standin | undefined;
afterEach(async () => {
  await ollama?.close();
  ollama = undefined;
});

describe("caro doctor", () => {
  it("shows machine, GPU, config, model, daemon, backends and shells; exit 0 when the default path works", async () => {
    ollama = await ollamaStandin({ models: ["qwen2.5-coder:1.5b", "llama3.2:3b"] });
    const { env, home, configPath } = makeHome(`${modelConfig("tiny")}[backends.ollama]\nhost = "${ollama.url}"\n`);
    writeFileSync(join(home, ".zshrc"), `eval "$(${shellQuote(process.execPath)} ${shellQuote(CARO_BIN)} init zsh)"\n`);
    await caro(["list", "files"], { env }); // starts the daemon
    const result = await caro(["doctor"], { env });
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(/^· system +.+, x64, \d+ cores, [\d.]+ GB RAM/m);
    expect(result.stdout).toMatch(/^· gpu +none found: llama\.cpp runs on the CPU/m);
    expect(result.stdout).toContain(`✓ config   ${configPath}`);
    expect(result.stdout).toMatch(/^✓ model +.*tiny-\w+\.gguf \(\d+ (kB|MB)\)/m);
    // This machine as it is: whichever model suits it, against a file that is not in the catalog.
    expect(result.stdout).toMatch(
      new RegExp(
        String.raw`^· suggest +qwen2\.5-coder-[\d.]+b: .+ an answer \(estimate\); the configured ` +
          String.raw`.+tiny-\w+\.gguf is not in the catalog`,
        "m",
      ),
    );
    expect(result.stdout).toMatch(/^✓ daemon +running, pid \d+, \d+ MB, 1 requests served/m);
    expect(result.stdout).toContain(`✓ ollama   running at ${ollama.url} with qwen2.5-coder:1.5b, llama3.2:3b`);
    expect(result.stdout).toMatch(/^✓ backend +auto will use embedded/m);
    expect(result.stdout).toMatch(/^✓ zsh +Ctrl-G runs caro/m);
  });

  it("names every problem with its fix, and exits 1 when no backend can answer", async () => {
    const { env, home, configPath } = makeHome(`[backends.ollama]\nhost = "http://127.0.0.1:9"\nmodell = "x"\n`);
    // 2 cores and 4 GB: the configured 1.5B would take more than a quarter of the RAM.
    const result = await caro(["doctor"], { env: onMachine(env, MACHINES.small) });
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toMatch(/^! config .*unknown key "backends\.ollama\.modell"/m);
    expect(result.stdout).toMatch(/^! model +qwen2\.5-coder-1\.5b is not downloaded \(1\.1 GB\)/m);
    expect(result.stdout).toMatch(/fix: caro models pull qwen2\.5-coder-1\.5b/);
    expect(result.stdout).toMatch(/^✗ backend +no backend can answer a request now/m);
    expect(result.stdout).toContain(`fix: add eval "$(caro init zsh)" to ${join(home, ".zshrc")}`);
    expect(result.stdout).toMatch(
      new RegExp(
        String.raw`^! suggest +qwen2\.5-coder-0\.5b \(a machine described by \$CARO_TEST_MACHINE\): no GPU ` +
          String.raw`llama\.cpp can use: on the CPU, 2 cores, 4\.0 GB RAM \(2\.5 GB free\); NL2SH accuracy 0\.36; ` +
          String.raw`qwen2\.5-coder-1\.5b \(0\.50\) needs 1\.6 GB, more than a quarter of 4\.0 GB RAM; ~0\.\d s an ` +
          String.raw`answer \(estimate\); against the configured qwen2\.5-coder-1\.5b, switching to ` +
          String.raw`qwen2\.5-coder-0\.5b gains faster answers \(~1\.\d s → ~0\.\d s, estimates\), 800 MB less ` +
          String.raw`memory; against that: 14 points of NL2SH accuracy \(0\.50 → 0\.36\), a 490 MB download$`,
        "m",
      ),
    );
    expect(result.stdout).toContain(
      `fix: caro models pull qwen2.5-coder-0.5b (490 MB), then set [backends.embedded] model = "qwen2.5-coder-0.5b" ` +
        `in ${configPath}`,
    );
  });

  it("exits 1 on a config that does not parse, with where", async () => {
    const { env, configPath } = makeHome("backend = [");
    const result = await caro(["doctor"], { env });
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toMatch(new RegExp(`^✗ config +${configPath}:1:\\d+: `, "m"));
  });

  it("says when Ollama lacks the configured model", async () => {
    ollama = await ollamaStandin({ models: ["llama3.2:3b"] });
    const { env } = makeHome(ollamaConfig(ollama.url));
    const result = await caro(["doctor", "--json"], { env });
    const report = JSON.parse(String(result.stdout));
    expect(report.ok).toBe(false);
    expect(report.checks.find((c: { name: string }) => c.name === "ollama")).toMatchObject({
      status: "warn",
      fix: "ollama pull qwen2.5-coder:1.5b",
    });
  });

  it("advice that fits the OpenAI-compatible server's state: down, loading, a wrong url, a wrong key", async () => {
    const down = await serve(() => undefined);
    await down.close();
    const loading = await openaiStandin({ like: "llama-server", loadingMs: 60_000 });
    const keyed = await openaiStandin({ like: "llama-server", apiKey: "right" });
    const plain = await openaiStandin({ like: "llama-server" });
    try {
      const cases = [
        [down.url, `no OpenAI-compatible server answers at ${down.url}`, /^start one, e\.g\. "vllm serve <model>"/],
        [
          loading.url,
          `the server at ${loading.url} is loading its model (HTTP 503: Loading model)`,
          /^wait until it has loaded/,
        ],
        [
          `${plain.url}/api`,
          `no OpenAI-compatible API at ${plain.url}/api: HTTP 404 at /v1/models`,
          /^set \[backends\.vllm\] url in /,
        ],
      ] as const;
      const all = [...cases, [keyed.url, "refused the API key (HTTP 401: Invalid API Key)", /api_key/]] as const;
      const check = async ([url, detail, fix]: (typeof all)[number]) => {
        const { env, configPath } = makeHome(`backend = "vllm"\n[backends.vllm]\nurl = "${url}"\n`);
        const result = await caro(["doctor"], { env });
        expect(result.exitCode).toBe(1);
        const text = String(result.stdout);
        const [vllm, vllmFix] = text.slice(text.indexOf("vllm ")).split("\n");
        expect(vllm).toContain(detail);
        expect(vllmFix.replace(/^ +fix: /, "")).toMatch(fix);
        if (!String(fix).includes("wait")) expect(vllmFix).toContain(configPath);
        // The backend's fix is the server's, never the embedded model's download.
        expect(text).toMatch(/^✗ backend +vllm, chosen in the config, cannot answer now$/m);
        expect(text.slice(text.indexOf("✗ backend")).split("\n")[1]).toBe(vllmFix);
        expect(text).not.toMatch(/\b(\w+) \1\b/);
      };
      // Side by side: each doctor run spends most of its time looking at the machine and the shells.
      await Promise.all(all.map(check));
    } finally {
      await Promise.all([loading.close(), keyed.close(), plain.close()]);
    }
  });

  it("finds a downloaded catalog model, and a suggested one already downloaded needs no pull", async () => {
    const { env, home, configPath } = makeHome();
    mkdirSync(join(home, ".cache", "caro", "models"), { recursive: true });
    writeFileSync(join(home, ".cache", "caro", "models", "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"), "GGUF");
    writeFileSync(join(home, ".cache", "caro", "models", "qwen2.5-coder-3b-instruct-q4_k_m.gguf"), "GGUF");
    // No GPU, 8 cores and 32 GB: 3B, as 7B's estimated answer is over the budget.
    const { stdout } = await caro(["doctor", "--json"], { env: onMachine(env, MACHINES.eightCores) });
    expect(checkOf(stdout, "model").status).toBe("ok");
    expect(checkOf(stdout, "suggest")).toMatchObject({
      status: "info",
      fix: `set [backends.embedded] model = "qwen2.5-coder-3b" in ${configPath}`,
      suggestion: {
        model: "qwen2.5-coder-3b",
        machine: { ...MACHINES.eightCores, unused_gpus: [] },
        machine_source: "CARO_TEST_MACHINE",
        configured: "qwen2.5-coder-1.5b",
        switch: { nl2sh_points: 8, memory_bytes_delta: 1.2 * GB, download_bytes: 0 },
        speeds: "estimates",
      },
    });
    expect(checkOf(stdout, "suggest").detail).toMatch(
      new RegExp(
        String.raw`: no GPU llama\.cpp can use: on the CPU, 8 cores, 32 GB RAM \(20 GB free\); NL2SH accuracy ` +
          String.raw`0\.58; qwen2\.5-coder-7b \(0\.62\) takes ~2\.\d s an answer on 8 CPU cores \(estimate\), over ` +
          String.raw`caro's 2 s; ~1\.\d s an answer \(estimate\); against the configured qwen2\.5-coder-1\.5b, ` +
          String.raw`switching to qwen2\.5-coder-3b gains 8 points of NL2SH accuracy \(0\.50 → 0\.58\); against ` +
          String.raw`that: slower answers \(~0\.\d s → ~1\.\d s, estimates\), 1\.2 GB more memory$`,
      ),
    );
  });
});

describe("the model doctor suggests for a machine", () => {
  it("a large GPU: 7B, why, what the configured 1.5B costs or gains against it, and how to switch", async () => {
    const { env, configPath } = makeHome();
    const result = await caro(["doctor"], { env: { ...env, CARO_TEST_MACHINE: JSON.stringify(MACHINES.bigGpu) } });
    expect(result.stdout).toMatch(
      new RegExp(
        String.raw`^· suggest +qwen2\.5-coder-7b \(a machine described by \$CARO_TEST_MACHINE\): llama\.cpp's ` +
          String.raw`cuda build loads for NVIDIA GeForce RTX 4090, whose 24 GB hold its 5\.6 GB with room; NL2SH ` +
          String.raw`accuracy 0\.62, the catalog's best; ~0\.\d s an answer \(estimate\); against the configured ` +
          String.raw`qwen2\.5-coder-1\.5b, switching to qwen2\.5-coder-7b gains 12 points of NL2SH accuracy ` +
          String.raw`\(0\.50 → 0\.62\); against that: slower answers \(.+, estimates\), 4\.0 GB more memory, a ` +
          String.raw`4\.7 GB download$`,
        "m",
      ),
    );
    expect(result.stdout).toContain(
      `fix: caro models pull qwen2.5-coder-7b (4.7 GB), then set [backends.embedded] model = "qwen2.5-coder-7b" in ` +
        `${configPath}`,
    );
    // What doctor shows of the machine itself stays this machine's.
    expect(result.stdout).toMatch(/^· system +.+, \d+ cores, /m);
  });
});

describe("GPU settings", () => {
  // On a machine where Vulkan works the build loads and there is nothing to fall back from.
  it.skipIf(vulkanLoads)("a GPU whose build cannot load falls back to the CPU with one warning line", async () => {
    const { env } = makeHome(modelConfig("tiny", 'gpu = "vulkan"\n'));
    const result = await caro(["--json", "list", "files"], { env });
    expect(result.exitCode).toBe(0);
    expect(JSON.parse(String(result.stdout)).gpu).toBe(false);
    expect(result.stderr).toMatch(
      /^caro: warning: llama\.cpp's vulkan build cannot load here \(.*\): running on the CPU/,
    );
    expect(result.stderr.split("\n")).toHaveLength(1);
  });

  it("takes gpu_layers and reports the GPU in use in --verbose and daemon status", async () => {
    const { env } = makeHome(modelConfig("tiny", 'gpu = "auto"\ngpu_layers = "max"\n'));
    const verbose = await caro(["--verbose", "list"], { env });
    expect(verbose.exitCode).toBe(0);
    expect(verbose.stderr).toMatch(/model loaded in \d+ ms on (the CPU|cuda|vulkan|metal)/);
    expect((await caro(["daemon", "status"], { env })).stdout).toMatch(/gpu\s+(none \(CPU\)|cuda|vulkan|metal)/);
  });
});

/** A fake root with the /proc and /sys files the kernel would show for these devices. */
function fakeRoot(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), "caro-root-"));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

const H100 = {
  // As NVIDIA's driver writes it: tabs and spaces between key and value.
  "proc/driver/nvidia/gpus/0000:3b:00.0/information":
    "Model: \t\t NVIDIA H100 80GB HBM3\nIRQ:   \t\t 183\nBus Location: \t 0000:3b:00.0\nDevice Minor: \t 0\n",
  // The same GPU again, as a DRM card of the nvidia-drm driver.
  "sys/class/drm/card1/device/vendor": "0x10de\n",
  "sys/class/drm/card1/device/uevent": "DRIVER=nvidia\nPCI_SLOT_NAME=0000:3b:00.0\n",
};

describe("GPUs found without llama.cpp", () => {
  it("reads NVIDIA's /proc entries and DRM cards, each GPU once, virtual adapters left out", () => {
    const root = fakeRoot({
      ...H100,
      "sys/class/drm/card0/device/vendor": "0x1af4\n", // virtio-gpu
      "sys/class/drm/card2/device/vendor": "0x1002\n",
      "sys/class/drm/card2/device/uevent": "DRIVER=amdgpu\nPCI_SLOT_NAME=0000:c1:00.0\n",
      "sys/class/drm/card2-DP-1/status": "connected\n", // a connector, not a card
      "sys/class/drm/card3/device/vendor": "0x8086\n",
      "sys/class/drm/renderD128/device/vendor": "0x1002\n", // card2's render node
    });
    expect(findGpus(root)).toEqual([
      { vendor: "NVIDIA", name: "NVIDIA H100 80GB HBM3", pciSlot: "0000:3b:00.0" },
      { vendor: "AMD", name: "AMD GPU (card2)", pciSlot: "0000:c1:00.0" },
      { vendor: "Intel", name: "Intel GPU (card3)", pciSlot: undefined },
    ]);
  });

  it("finds none on a machine without /proc/driver/nvidia or DRM cards", () => {
    expect(findGpus(fakeRoot({ "proc/cpuinfo": "processor : 0\n" }))).toEqual([]);
  });

  it("names a GPU llama.cpp does not use, each build tried, why it failed and the fix", async () => {
    const check = await gpuCheck(null, fakeRoot(H100));
    // Where llama.cpp does run on a real GPU, it says so and the fake tree is never read.
    if (check.status === "ok") return;
    expect(check.status).toBe("warn");
    expect(check.detail).toMatch(
      /^NVIDIA H100 80GB HBM3 found, but llama\.cpp runs on the CPU \(cuda build: .+; vulkan build: .+\)$/,
    );
    expect(check.devices).toEqual([{ vendor: "NVIDIA", name: "NVIDIA H100 80GB HBM3", pciSlot: "0000:3b:00.0" }]);
    expect(check.builds?.map((b) => [b.gpu, b.package])).toEqual([
      ["cuda", `@node-llama-cpp/${process.platform}-${process.arch}-cuda`],
      ["vulkan", `@node-llama-cpp/${process.platform}-${process.arch}-vulkan`],
    ]);
    for (const build of check.builds ?? []) {
      if (build.loads) continue;
      expect(build.reason).toBeTruthy();
      expect(check.detail).toContain(`${build.gpu} build: ${build.reason}`);
      if (build.missingLibraries.length > 0)
        expect(build.reason).toBe(`needs ${build.missingLibraries.join(", ")}, not found`);
    }
    const failed = (check.builds ?? []).filter((b) => !b.loads && b.installed).map((b) => b.gpu);
    if (failed.includes("cuda")) expect(check.fix).toMatch(/CUDA 13 runtime and cuBLAS/);
    if (failed.includes("vulkan")) expect(check.fix).toContain("apt install libvulkan1 libglvnd0 libegl1");
    expect(check.fix).toMatch(/caro daemon restart$/);
  });

  it("tries only the Vulkan build for an AMD GPU", async () => {
    const root = fakeRoot({
      "sys/class/drm/card0/device/vendor": "0x1002\n",
      "sys/class/drm/card0/device/uevent": "PCI_SLOT_NAME=0000:c1:00.0\n",
    });
    const check = await gpuCheck(null, root);
    if (check.status === "ok") return;
    expect(check.detail).toMatch(/^AMD GPU \(card0\) found, but llama\.cpp runs on the CPU \(vulkan build: [^;]+\)$/);
    expect(check.fix).not.toMatch(/CUDA/);
  });
});
