import { execFileSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

// Why llama.cpp's GPU builds do not load here. node-llama-cpp says only "NoBinaryFoundError", so
// this looks for the prebuilt package and for the shared libraries its binaries need, then tries it.

export type GpuBuild = "cuda" | "vulkan";

export interface BuildDiagnosis {
  gpu: GpuBuild;
  /** The npm package that holds the prebuilt binaries, as @node-llama-cpp/linux-x64-cuda. */
  package: string;
  installed: boolean;
  /** Libraries the binaries link to that the dynamic linker cannot find. */
  missingLibraries: string[];
  loads: boolean;
  /** Why it does not load, in one line. */
  reason?: string;
}

/** What each build needs from the system, for the fix line. */
export const BUILD_FIXES: Record<GpuBuild, string> = {
  cuda:
    "for CUDA, install the CUDA 13 runtime and cuBLAS (libcublas.so.13: NVIDIA's cuda-libraries-13-0) " +
    "beside the driver's libcuda.so.1",
  vulkan:
    "for Vulkan, apt install libvulkan1 libglvnd0 libegl1 (the Vulkan loader, and libglvnd, " +
    "which NVIDIA's Vulkan driver loads through)",
};

/** The package's folder, found the way Node resolves it from here (hoisted, or under node-llama-cpp). */
function packageDir(name: string): string | null {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    for (const base of [join(dir, "node_modules"), join(dir, "node_modules", "node-llama-cpp", "node_modules")])
      if (existsSync(join(base, name, "package.json"))) return join(base, name);
    const up = dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}

/** `ldd` over the package's binaries: each "libX.so => not found", once. Empty where ldd is missing (musl). */
function missingLibraries(dir: string): string[] {
  const missing = new Set<string>();
  const bins = join(dir, "bins");
  for (const build of existsSync(bins) ? readdirSync(bins) : []) {
    const files = readdirSync(join(bins, build))
      .filter((f) => /\.(so|node)$/.test(f))
      .map((f) => join(bins, build, f));
    if (files.length === 0) continue;
    let out = "";
    try {
      out = execFileSync("ldd", files, { encoding: "utf8", timeout: 10_000, stdio: ["ignore", "pipe", "ignore"] });
    } catch (error) {
      out = String((error as { stdout?: string }).stdout ?? "");
    }
    for (const match of out.matchAll(/^\s*(\S+) => not found$/gm)) missing.add(match[1]);
  }
  return [...missing].sort();
}

async function tryLoad(gpu: GpuBuild): Promise<string | null> {
  try {
    const { getLlama, LlamaLogLevel } = await import("node-llama-cpp");
    const llama = await getLlama({
      gpu,
      build: "never",
      skipDownload: true,
      progressLogs: false,
      logLevel: LlamaLogLevel.disabled,
    });
    await llama.dispose();
    return null;
  } catch (error) {
    return (error as Error).message.split("\n")[0] || (error as Error).name;
  }
}

/** Each of llama.cpp's GPU builds for Linux on x64 or arm64: there, or not, and why it does not load. */
export async function diagnoseBuilds(builds: GpuBuild[] = ["cuda", "vulkan"]): Promise<BuildDiagnosis[]> {
  const results: BuildDiagnosis[] = [];
  for (const gpu of builds) {
    const name = `@node-llama-cpp/${process.platform}-${process.arch}-${gpu}`;
    const dir = packageDir(name);
    if (!dir) {
      const reason = `${name} is not installed`;
      results.push({ gpu, package: name, installed: false, missingLibraries: [], loads: false, reason });
      continue;
    }
    const missing = missingLibraries(dir);
    // A binary whose libraries are missing cannot load; trying it costs seconds and says less.
    const failure = missing.length > 0 ? null : await tryLoad(gpu);
    const reason =
      missing.length > 0
        ? `needs ${missing.join(", ")}, not found`
        : failure === null
          ? undefined
          : `it does not load (${failure})`;
    const loads = reason === undefined;
    results.push({ gpu, package: name, installed: true, missingLibraries: missing, loads, reason });
  }
  return results;
}
