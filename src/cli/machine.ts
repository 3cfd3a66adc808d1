import { availableParallelism, freemem, totalmem } from "node:os";
import type { Env } from "../config/paths.js";
import type { LoadedConfig } from "../config/load.js";
import type { GpuKind } from "../config/schema.js";
import { UsageError } from "../errors.js";
import type { Machine, MachineGpu } from "../models/suggest.js";
import { findGpus } from "./gpu-devices.js";

// The machine the model suggestion reads: cores, RAM and the GPU llama.cpp uses.

/**
 * Tests describe a fake machine here (JSON, as `caro models list --json` prints `machine`): the
 * suggestion's inputs come from llama.cpp (which build loads, its VRAM) as much as from the kernel,
 * so a fake /proc and /sys, as the GPU tests use, could not describe them, and the CLI the tests run
 * is another process. It replaces only what the suggestion reads, never what inference uses, and
 * every line it shapes says it came from here.
 */
export const TEST_MACHINE_ENV = "CARO_TEST_MACHINE";

const isBytes = (value: unknown) => typeof value === "number" && Number.isFinite(value) && value >= 0;

function parseGpu(value: unknown): MachineGpu | null {
  if (value === null || value === undefined) return null;
  const gpu = value as Partial<MachineGpu>;
  if (
    !["cuda", "vulkan", "metal"].includes(String(gpu.build)) ||
    !isBytes(gpu.vram_total_bytes) ||
    !isBytes(gpu.vram_free_bytes)
  )
    throw new Error("gpu needs build (cuda, vulkan or metal), vram_total_bytes and vram_free_bytes");
  return {
    build: gpu.build as MachineGpu["build"],
    name: String(gpu.name ?? ""),
    vram_total_bytes: gpu.vram_total_bytes as number,
    vram_free_bytes: gpu.vram_free_bytes as number,
    unified: gpu.unified === true,
  };
}

/** The machine a test describes in $CARO_TEST_MACHINE; null when it is not set. */
export function testMachine(env: Env = process.env): Machine | null {
  const text = env[TEST_MACHINE_ENV];
  if (!text) return null;
  try {
    const raw = JSON.parse(text) as Partial<Machine>;
    if (!Number.isInteger(raw.cores) || (raw.cores as number) < 1) throw new Error("cores must be a whole number");
    if (!isBytes(raw.ram_total_bytes)) throw new Error("ram_total_bytes must be a number of bytes");
    return {
      cores: raw.cores as number,
      ram_total_bytes: raw.ram_total_bytes as number,
      ram_available_bytes: isBytes(raw.ram_available_bytes)
        ? (raw.ram_available_bytes as number)
        : (raw.ram_total_bytes as number),
      gpu: parseGpu(raw.gpu),
      unused_gpus: Array.isArray(raw.unused_gpus) ? raw.unused_gpus.map(String) : [],
    };
  } catch (error) {
    throw new UsageError(
      `$${TEST_MACHINE_ENV} does not describe a machine (${(error as Error).message}): unset it, it is for caro's ` +
        `tests`,
    );
  }
}

/** This machine's cores and RAM (a container's limit where one is set), with the GPU given. */
export function machineWith(gpu: MachineGpu | null, unusedGpus: string[]): Machine {
  // Unlimited, Node reports 2^64 here: the smaller of the two is what the daemon may take.
  const limit = process.constrainedMemory?.() || Number.POSITIVE_INFINITY;
  return {
    cores: availableParallelism(),
    ram_total_bytes: Math.min(totalmem(), limit),
    ram_available_bytes: Math.min(freemem(), limit),
    gpu,
    unused_gpus: unusedGpus,
  };
}

/**
 * The GPU llama.cpp uses under the `gpu` setting, as the daemon would load it; null on the CPU.
 * Throws when a build named in the setting cannot load.
 */
export async function llamaGpu(wanted: GpuKind): Promise<MachineGpu | null> {
  const { getLlama, LlamaLogLevel } = await import("node-llama-cpp");
  const llama = await getLlama({
    gpu: wanted === "false" ? false : wanted,
    build: "never",
    skipDownload: true,
    progressLogs: false,
    logLevel: LlamaLogLevel.disabled,
  });
  if (!llama.gpu) return null;
  const vram = await llama.getVramState();
  return {
    build: llama.gpu,
    name: (await llama.getGpuDeviceNames()).join(", "),
    vram_total_bytes: vram.total,
    vram_free_bytes: vram.free,
    unified: vram.unifiedSize > 0,
  };
}

/**
 * The machine, for commands that do not run doctor's GPU check. Loading llama.cpp's GPU builds
 * takes a second or two, so on Linux it is asked only where the kernel knows of a GPU; elsewhere
 * (Metal, Windows) it is always asked.
 */
export async function probeMachine(config: LoadedConfig): Promise<Machine> {
  const fake = testMachine(config.env);
  if (fake) return fake;
  const devices = process.platform === "linux" ? findGpus() : [];
  if (process.platform === "linux" && devices.length === 0) return machineWith(null, []);
  let gpu: MachineGpu | null = null;
  try {
    gpu = await llamaGpu(config.settings["backends.embedded.gpu"]);
  } catch {
    // A named build that cannot load: the daemon falls back to the CPU, and so does the suggestion.
  }
  return machineWith(gpu, gpu ? [] : devices.map((d) => d.name));
}
