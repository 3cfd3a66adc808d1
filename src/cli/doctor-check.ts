// One line of `caro doctor`: a leaf, so the modules that make checks (model advice, shell checks)
// need not import the command that prints them.

import type { BuildDiagnosis } from "./gpu-builds.js";
import type { GpuDevice } from "./gpu-devices.js";
import type { MachineGpu } from "../models/suggest.js";

export interface Check {
  name: string;
  /** ok: fine; warn: worth fixing; fail: the default path is broken. */
  status: "ok" | "warn" | "fail" | "info";
  detail: string;
  fix?: string;
  /** gpu only: the GPUs the kernel sees, when llama.cpp uses none of them. */
  devices?: GpuDevice[];
  /** gpu only: llama.cpp's GPU builds tried, and why each failed. */
  builds?: BuildDiagnosis[];
  /** gpu only: the GPU llama.cpp uses, as the model suggestion reads it. */
  inUse?: MachineGpu;
}
