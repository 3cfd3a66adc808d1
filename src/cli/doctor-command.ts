import { writeOut } from "./closed-output.js";
import { existsSync, statSync } from "node:fs";
import { availableParallelism, freemem, homedir, totalmem } from "node:os";
import { getJson } from "../backends/http.js";
import { probeOpenaiServer } from "../backends/openai.js";
import { connectToDaemon } from "../client/connection.js";
import { loadConfig, type LoadedConfig } from "../config/load.js";
import type { CaroError } from "../errors.js";
import { catalogModel } from "../models/catalog.js";
import { cachedModelPath, parseHfUri } from "../models/hf.js";
import { detectContext } from "../prompt/context.js";
import { parseStrict } from "./args.js";
import { COMMANDS } from "./commands.js";
import { BUILD_FIXES, diagnoseBuilds } from "./gpu-builds.js";
import { findGpus, type GpuDevice } from "./gpu-devices.js";
import { optionLines } from "./help.js";
import { llamaGpu } from "./machine.js";
import { suggestionCheck } from "./model-advice.js";
import { shellChecks } from "../shell/shell-checks.js";
import { shellsInWords } from "../shell/shells.js";
import { formatBytes } from "../text/bytes.js";
import { inertLine } from "../text/inert.js";
import type { Check } from "./doctor-check.js";

/** A GPU the kernel sees while llama.cpp runs on the CPU: which builds were tried, why each failed, the fix. */
async function unusedGpuCheck(devices: GpuDevice[]): Promise<Check> {
  // CUDA is NVIDIA's alone; Vulkan drives all three vendors.
  const builds = await diagnoseBuilds(devices.some((d) => d.vendor === "NVIDIA") ? ["cuda", "vulkan"] : ["vulkan"]);
  const failed = builds.filter((b) => !b.loads);
  const names = [...new Set(devices.map((d) => d.name))].join(", ");
  const fixes = failed.map((b) =>
    b.installed
      ? BUILD_FIXES[b.gpu]
      : `for ${b.gpu}, reinstall caro without --omit=optional, which leaves ${b.package} out`,
  );
  const tried = builds.map((b) => `${b.gpu} build: ${b.loads ? "loads" : b.reason}`).join("; ");
  return {
    name: "gpu",
    status: "warn",
    detail: `${names} found, but llama.cpp runs on the CPU (${tried})`,
    fix: `${fixes.length > 0 ? `${fixes.join("; or ")}; then ` : ""}caro daemon restart`,
    devices,
    builds,
  };
}

/** llama.cpp's view of the GPU; `root` is where the kernel's /proc and /sys are read ("/" but in tests). */
export async function gpuCheck(config: LoadedConfig | null, root = "/"): Promise<Check> {
  const wanted = config?.settings["backends.embedded.gpu"] ?? "auto";
  try {
    const inUse = await llamaGpu(wanted);
    if (!inUse) {
      const devices = findGpus(root);
      if (devices.length === 0) return { name: "gpu", status: "info", detail: "none found: llama.cpp runs on the CPU" };
      if (wanted === "false")
        return {
          name: "gpu",
          status: "info",
          detail: `llama.cpp runs on the CPU, as gpu = false asks; found: ${devices.map((d) => d.name).join(", ")}`,
          devices,
        };
      return await unusedGpuCheck(devices);
    }
    const vram = `${formatBytes(inUse.vram_total_bytes)} VRAM (${formatBytes(inUse.vram_free_bytes)} free)`;
    return { name: "gpu", status: "ok", detail: `${inUse.build}: ${inUse.name || "a device"}, ${vram}`, inUse };
  } catch (error) {
    return {
      name: "gpu",
      status: "warn",
      detail:
        `the ${wanted} build of llama.cpp cannot load (${(error as Error).message.split("\n")[0]}); caro falls ` +
        `back to the CPU`,
      fix: `set [backends.embedded] gpu = "auto" in ${config?.path ?? "the config"}`,
    };
  }
}

function modelCheck(config: LoadedConfig): { check: Check; present: boolean } {
  const spec = config.settings["backends.embedded.model"];
  const entry = catalogModel(spec);
  const hf = parseHfUri(entry?.uri ?? spec);
  const path = hf ? cachedModelPath(hf) : spec.replace(/^~(?=\/|$)/, homedir());
  if (existsSync(path))
    return {
      present: true,
      check: { name: "model", status: "ok", detail: `${spec}: ${path} (${formatBytes(statSync(path).size)})` },
    };
  return {
    present: false,
    check: {
      name: "model",
      status: "warn",
      detail:
        `${spec} is not downloaded${entry ? ` (${formatBytes(entry.sizeBytes)})` : ""}: the embedded backend ` +
        `cannot answer until it is`,
      fix: hf
        ? `caro models pull ${entry ? entry.name : spec}`
        : `set [backends.embedded] model to a GGUF file in ${config.path}`,
    },
  };
}

async function daemonCheck(): Promise<Check> {
  try {
    const connection = await connectToDaemon({ start: false });
    connection.send({ t: "status" });
    const reply = await connection.next();
    connection.close();
    if (reply?.t === "status")
      return {
        name: "daemon",
        status: "ok",
        detail:
          `running, pid ${reply.status.pid}, ${reply.status.rss_mb} MB, ${reply.status.requests_served} ` +
          `requests served`,
      };
  } catch {
    // Not running.
  }
  return { name: "daemon", status: "info", detail: "not running (it starts on the first request)" };
}

async function ollamaCheck(config: LoadedConfig): Promise<{ check: Check; serves: boolean }> {
  const host = config.settings["backends.ollama.host"];
  const model = config.settings["backends.ollama.model"];
  const tags = (await getJson(`${host}/api/tags`, 1000)) as { models?: { name: string }[] } | null;
  if (!tags)
    return {
      serves: false,
      check: {
        name: "ollama",
        status: "info",
        detail: `not running at ${host}`,
        fix: config.settings.backend === "ollama" ? 'start it with "ollama serve"' : undefined,
      },
    };
  const names = (tags.models ?? []).map((m) => m.name);
  if (!names.includes(model))
    return {
      serves: false,
      check: {
        name: "ollama",
        status: "warn",
        detail: `running at ${host}, without ${model} (has: ${names.join(", ") || "no models"})`,
        fix: `ollama pull ${model}`,
      },
    };
  return {
    serves: true,
    check: { name: "ollama", status: "ok", detail: `running at ${host} with ${names.join(", ")}` },
  };
}

/** What auto sees of the OpenAI-compatible server, with the same probe, so the two agree. */
async function vllmCheck(config: LoadedConfig): Promise<{ check: Check; serves: boolean; loading?: boolean }> {
  const { settings } = config;
  const probe = await probeOpenaiServer(settings, config.path);
  // Only a server the user set up is worth a warning when it does not answer.
  const chosen =
    settings.backend === "vllm" ||
    config.sources["backends.vllm.url"] !== "default" ||
    config.sources["backends.vllm.model"] !== "default";
  if ("problem" in probe) {
    const fix = chosen ? probe.fix : undefined;
    return { serves: false, check: { name: "vllm", status: chosen ? "warn" : "info", detail: probe.problem, fix } };
  }
  if (probe.loading !== undefined) {
    const detail = `the server at ${probe.url} is loading its model (HTTP 503: ${probe.loading})`;
    const timeout = settings["backends.vllm.timeout"];
    const fix = `wait until it has loaded (a request waits for it up to [backends.vllm] timeout, ${timeout} s)`;
    return { serves: false, loading: true, check: { name: "vllm", status: "warn", detail, fix } };
  }
  const detail = `answering at ${probe.url} with ${probe.models.join(", ") || "no models"}`;
  if (!settings["backends.vllm.enabled"] && settings.backend !== "vllm") {
    const passed = `${detail}, but disabled in the config: auto passes it over`;
    return { serves: false, check: { name: "vllm", status: "info", detail: passed } };
  }
  return { serves: true, check: { name: "vllm", status: "ok", detail } };
}

const doctorArgs = COMMANDS.doctor.args;

export const help = `caro doctor: what caro sees on this machine, and what to fix

Usage
  caro doctor [--json]

Options
${optionLines(doctorArgs)}

Checks the system, GPU, config, model, daemon, Ollama, vLLM and shell set-up; each line that
needs work says how to fix it. The suggest line names the catalog model this machine should run,
why, and what the configured one costs or gains against it (speeds are estimates).
Exit 0, or 1 when no backend can answer a request.

For each of ${shellsInWords("and")} found on PATH, doctor starts it as a terminal would (rc files
loaded, at most 5 s) and asks what caro's keys do there: another tool loaded after caro may have
taken Ctrl-G. zellij and Warp take keys before the shell; doctor warns when it runs inside them.
`;

function systemCheck(): Check {
  const context = detectContext("sh");
  const memory = `${formatBytes(totalmem())} RAM (${formatBytes(freemem())} free)`;
  return {
    name: "system",
    status: "info",
    detail: `${context.os}, ${context.arch}, ${availableParallelism()} cores, ${memory}`,
  };
}

function configCheck(): { check: Check; config: LoadedConfig | null } {
  let config: LoadedConfig;
  try {
    config = loadConfig();
  } catch (error) {
    const fix = "correct the file: caro reads nothing else until it parses";
    return { config: null, check: { name: "config", status: "fail", detail: (error as CaroError).message, fix } };
  }
  const where = `${config.path}${config.fileExists ? "" : " (not found: defaults apply)"}`;
  if (config.warnings.length === 0) return { config, check: { name: "config", status: "ok", detail: where } };
  const fix = `remove or correct those keys in ${config.path}`;
  return { config, check: { name: "config", status: "warn", detail: `${where}: ${config.warnings.join("; ")}`, fix } };
}

type BackendName = "embedded" | "ollama" | "vllm";

/**
 * Can the configured backend (or, under auto, any) answer now? The fix is the chosen backend's
 * own; under auto, the embedded model's (auto's first choice), unless a server auto would take is
 * only loading.
 */
function backendCheck(
  config: LoadedConfig,
  checks: Record<BackendName, { check: Check; serves: boolean; loading?: boolean }>,
): Check {
  const backend = config.settings.backend;
  const auto = backend === "auto";
  const serves = (name: BackendName) => checks[name].serves;
  const names: BackendName[] = ["embedded", "ollama", "vllm"];
  if (auto ? names.some(serves) : serves(backend)) {
    const detail = auto ? `auto will use ${names.find(serves)}` : `${backend} can answer`;
    return { name: "backend", status: "ok", detail };
  }
  const detail = auto ? "no backend can answer a request now" : `${backend}, chosen in the config, cannot answer now`;
  const loading = checks.vllm.loading && config.settings["backends.vllm.enabled"];
  const fix = auto ? (loading ? checks.vllm : checks.embedded).check.fix : checks[backend].check.fix;
  return { name: "backend", status: "fail", detail, fix: fix ?? "see the lines above" };
}

/** One line a check, its fix under it; server and model names in them are shown inert. */
function printChecks(checks: Check[]): void {
  const mark = { ok: "✓", warn: "!", fail: "✗", info: "·" };
  for (const c of checks) {
    writeOut(`${mark[c.status]} ${c.name.padEnd(8)} ${inertLine(c.detail)}\n`);
    if (c.fix) writeOut(`  ${"".padEnd(8)} fix: ${inertLine(c.fix)}\n`);
  }
}

/** `caro doctor`: one screen of what caro sees and what to fix. Exit 1 when the default path is broken. */
export async function runDoctor(argv: string[]): Promise<number> {
  const args = parseStrict(argv, doctorArgs, "doctor");
  const { check: configChecked, config } = configCheck();
  const gpu = await gpuCheck(config);
  const checks: Check[] = [systemCheck(), configChecked, gpu];
  if (config) {
    const [model, ollama, vllm] = [modelCheck(config), await ollamaCheck(config), await vllmCheck(config)];
    checks.push(model.check, suggestionCheck(config, gpu));
    checks.push(await daemonCheck(), ollama.check, vllm.check);
    const embedded = { check: model.check, serves: model.present };
    checks.push(backendCheck(config, { embedded, ollama, vllm }));
  }
  checks.push(...(await shellChecks()));
  const broken = checks.some((c) => c.status === "fail");
  if (args.json) writeOut(`${JSON.stringify({ ok: !broken, checks })}\n`);
  else printChecks(checks);
  return broken ? 1 : 0;
}
