import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

// The GPUs the kernel knows of, found without llama.cpp: when its GPU builds cannot load, llama.cpp
// reports no GPU at all, and a machine with an idle H100 looked like one without.

export interface GpuDevice {
  vendor: "NVIDIA" | "AMD" | "Intel";
  /** The model name where the driver gives one, else the vendor's name and the DRM card. */
  name: string;
  /** PCI address, as 0000:3b:00.0, where known: one GPU seen by two sources counts once. */
  pciSlot?: string;
}

/** PCI vendor ids of GPU makers; virtual display adapters (QEMU, virtio, VMware) are left out on purpose. */
const PCI_VENDORS: Record<string, GpuDevice["vendor"]> = { "0x10de": "NVIDIA", "0x1002": "AMD", "0x8086": "Intel" };

function read(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

function list(path: string): string[] {
  try {
    return readdirSync(path).sort();
  } catch {
    return [];
  }
}

/** NVIDIA's kernel driver lists each GPU by PCI address, with its model name. */
function fromNvidiaProc(root: string): GpuDevice[] {
  const dir = join(root, "proc", "driver", "nvidia", "gpus");
  return list(dir).map((slot) => {
    const model = /^Model:\s*(.+?)\s*$/m.exec(read(join(dir, slot, "information")))?.[1];
    return { vendor: "NVIDIA", name: model || "NVIDIA GPU", pciSlot: slot.toLowerCase() };
  });
}

/** Containers often show nvidia-smi but not /proc/driver/nvidia. */
function fromNvidiaSmi(): GpuDevice[] {
  try {
    const out = execFileSync("nvidia-smi", ["--query-gpu=name,pci.bus_id", "--format=csv,noheader"], {
      encoding: "utf8",
      timeout: 5000,
      stdio: ["ignore", "pipe", "ignore"],
    });
    return out
      .trim()
      .split("\n")
      .filter(Boolean)
      .map((line) => {
        const [name, bus] = line.split(",").map((s) => s.trim());
        // nvidia-smi writes 00000000:3B:00.0; the kernel writes 0000:3b:00.0.
        return { vendor: "NVIDIA", name, pciSlot: bus?.replace(/^0000(?=[0-9a-f]{4}:)/i, "").toLowerCase() };
      });
  } catch {
    return [];
  }
}

/** Every DRM card, whatever its driver (nvidia, nouveau, amdgpu, i915, xe), by its PCI vendor id. */
function fromDrm(root: string): GpuDevice[] {
  const dir = join(root, "sys", "class", "drm");
  const found: GpuDevice[] = [];
  for (const card of list(dir).filter((name) => /^card\d+$/.test(name))) {
    const vendor =
      PCI_VENDORS[
        read(join(dir, card, "device", "vendor"))
          .trim()
          .toLowerCase()
      ];
    if (!vendor) continue;
    const slot = /^PCI_SLOT_NAME=(.+)$/m
      .exec(read(join(dir, card, "device", "uevent")))?.[1]
      .trim()
      .toLowerCase();
    found.push({ vendor, name: `${vendor} GPU (${card})`, pciSlot: slot });
  }
  return found;
}

/**
 * The GPUs under `root` ("/" but in tests): NVIDIA's /proc entries (and nvidia-smi, on the real root
 * only), then DRM cards. A GPU already named by an earlier source is not listed again.
 */
export function findGpus(root = "/"): GpuDevice[] {
  const found: GpuDevice[] = [];
  const seen = new Set<string>();
  const sources = [() => fromNvidiaProc(root), () => (root === "/" ? fromNvidiaSmi() : []), () => fromDrm(root)];
  for (const source of sources) {
    // nvidia-smi only when the driver's /proc entries said nothing: it takes a second to start.
    if (source === sources[1] && found.some((d) => d.vendor === "NVIDIA")) continue;
    for (const device of source()) {
      if (device.pciSlot && seen.has(device.pciSlot)) continue;
      if (device.pciSlot) seen.add(device.pciSlot);
      found.push(device);
    }
  }
  return found;
}
