// Which catalog model a machine should run, and why: a pure rule over the machine's GPU, RAM and
// cores and the catalog's sizes and published accuracy. Its speeds are estimates from a simple model
// of llama.cpp (below), never measurements, and every figure shown says so.

import { CATALOG, type CatalogModel } from "./catalog.js";
import { formatBytes } from "../text/bytes.js";

export interface MachineGpu {
  /** The llama.cpp build that loads here. */
  build: "cuda" | "vulkan" | "metal";
  name: string;
  vram_total_bytes: number;
  vram_free_bytes: number;
  /** Memory shared with the CPU (Apple silicon, an integrated GPU): slower than a card's own. */
  unified: boolean;
}

/** What the rule reads of a machine. `caro models list --json` prints it; tests describe fake ones so. */
export interface Machine {
  cores: number;
  ram_total_bytes: number;
  ram_available_bytes: number;
  /** The GPU llama.cpp uses; null when it runs on the CPU. */
  gpu: MachineGpu | null;
  /** GPUs the kernel shows that llama.cpp does not use (no build of it loads there, or gpu = false). */
  unused_gpus: string[];
}

/**
 * An answer should be on screen within this. Ctrl-G replaces the line the user is looking at, and
 * past about two seconds the wait reads as a hang. A more accurate model that misses it is not
 * suggested: a small model is often wrong anyway, and a second Ctrl-G after a fast wrong answer
 * comes sooner than one slow answer.
 */
export const ANSWER_BUDGET_S = 2;

/** A typical request once caro's instructions are cached: its words and folder in, a short command out. */
const REQUEST_TOKENS = 30;
const ANSWER_TOKENS = 10;

/**
 * llama.cpp reads every weight once for each token it writes, so writing goes as fast as memory
 * hands the model's bytes over; reading the request reads the weights once for many tokens and is
 * bound by arithmetic instead. Per CPU thread, from caro's bench on a 2-core x64 machine with a
 * model of the 1.5B's shape (1.0 GB; ~12 tokens/s written, ~70 read on 2 threads): 6 GB/s writing
 * and 35 GB/s reading a thread. Writing stops scaling where RAM's bandwidth ends: 25 GB/s is what
 * dual-channel DDR4 or DDR5 gives llama.cpp in ordinary desktops and laptops. Every logical core
 * counts as a thread, which flatters machines with SMT: these are estimates.
 */
const CPU = { writePerThread: 6e9, readPerThread: 35e9, ramBandwidth: 25e9 };
/**
 * A GPU's own memory is far faster: 300 GB/s is a modest card's (an RTX 3060 has 360), and reading
 * runs at thousands of tokens a second. Memory shared with the CPU reads at about 60 GB/s, a base
 * Apple M1's and a recent laptop's integrated GPU's.
 */
const CARD = { bandwidth: 300e9, read: 2000e9 };
const SHARED = { bandwidth: 60e9, read: 300e9 };

/**
 * A GPU keeps room besides the model for the desktop, other programs and the driver: a fifth of its
 * memory, at least 1 GB. Judged on the total, not on what is free this minute: caro's own daemon
 * may be holding a model there now, and a suggestion should not change with it.
 */
const vramRoom = (total: number) => Math.max(1e9, total * 0.2);

/**
 * On the CPU the daemon keeps its model in RAM while the user works, so it takes at most a quarter
 * of the RAM, and what is available now must hold it with 1 GB to spare for what the user runs.
 */
const RAM_SHARE = 0.25;
const RAM_SPARE = 1e9;

export interface ModelFit {
  name: string;
  nl2sh: number | null;
  /** Where llama.cpp would run it: all on the GPU where its memory fits there, else the CPU. */
  on: "gpu" | "cpu";
  /** Seconds for a typical answer: an estimate from the speed model above, never a measurement. */
  answer_s: number;
  /** Why this machine should not run it; null when it suits. */
  problem: string | null;
}

/** Seconds for a typical answer, as the speed model above estimates them. */
function answerSeconds(model: CatalogModel, machine: Machine, on: "gpu" | "cpu"): number {
  let write: number;
  let read: number;
  if (on === "gpu" && machine.gpu) {
    const memory = machine.gpu.unified ? SHARED : CARD;
    [write, read] = [memory.bandwidth, memory.read];
  } else {
    write = Math.min(machine.cores * CPU.writePerThread, CPU.ramBandwidth);
    read = machine.cores * CPU.readPerThread;
  }
  return (REQUEST_TOKENS * model.sizeBytes) / read + (ANSWER_TOKENS * model.sizeBytes) / write;
}

/** An estimate of seconds as shown: one decimal, and under 0.1 s as such. */
export const seconds = (s: number) => (s < 0.05 ? "<0.1 s" : `~${s < 10 ? s.toFixed(1) : Math.round(s)} s`);

/** How one catalog model would run on this machine, and why it should not, if it should not. */
export function fitOf(model: CatalogModel, machine: Machine): ModelFit {
  const { gpu } = machine;
  const onGpu = gpu !== null && model.memoryBytes <= gpu.vram_total_bytes - vramRoom(gpu.vram_total_bytes);
  const on = onGpu ? "gpu" : "cpu";
  const answer_s = answerSeconds(model, machine, on);
  const fit = { name: model.name, nl2sh: model.nl2sh, on, answer_s } as const;
  const problem = problemOf(model, machine, on, answer_s);
  // Where the GPU cannot hold it, that is the first reason it does not suit.
  const tooBig = gpu && !onGpu ? `is too big for the GPU's ${formatBytes(gpu.vram_total_bytes)} with room, and ` : "";
  return { ...fit, problem: problem && tooBig + problem };
}

function problemOf(model: CatalogModel, machine: Machine, on: "gpu" | "cpu", answer_s: number): string | null {
  const needs = formatBytes(model.memoryBytes);
  if (on === "cpu" && model.memoryBytes > machine.ram_total_bytes * RAM_SHARE)
    return `needs ${needs}, more than a quarter of ${formatBytes(machine.ram_total_bytes)} RAM`;
  if (on === "cpu" && model.memoryBytes + RAM_SPARE > machine.ram_available_bytes)
    return `needs ${needs}, and ${formatBytes(machine.ram_available_bytes)} of RAM is free`;
  if (answer_s > ANSWER_BUDGET_S) {
    const where =
      on === "gpu"
        ? `on the ${machine.gpu?.build} GPU`
        : `on ${machine.cores} CPU ${machine.cores === 1 ? "core" : "cores"}`;
    return `takes ${seconds(answer_s)} an answer ${where} (estimate), over caro's ${ANSWER_BUDGET_S} s`;
  }
  return null;
}

export interface Suggestion {
  model: CatalogModel;
  /** Every catalog model on this machine, in catalog order. */
  fits: ModelFit[];
  /** Why this model, in short clauses. */
  reasons: string[];
  /** The next more accurate model, which does not suit (its problem is among the reasons); null for the best. */
  passedOver: string | null;
}

/**
 * The most accurate catalog model that suits the machine: one whose memory fits where it would run
 * and whose estimated answer stays within the budget. Only models with a published accuracy are
 * weighed: without one there is nothing to say it answers better. Where none suits, the smallest.
 */
export function suggestModel(machine: Machine, catalog: CatalogModel[] = CATALOG): Suggestion {
  const fits = catalog.map((m) => fitOf(m, machine));
  const weighed = catalog
    .flatMap((model, i) => (model.nl2sh === null ? [] : [{ model, nl2sh: model.nl2sh, fit: fits[i] }]))
    .sort((a, b) => a.nl2sh - b.nl2sh || b.model.memoryBytes - a.model.memoryBytes);
  const smallest = [...weighed].sort((a, b) => a.model.memoryBytes - b.model.memoryBytes)[0];
  const chosen = weighed.filter((c) => c.fit.problem === null).at(-1) ?? smallest;
  const better = weighed.find((c) => c.nl2sh > chosen.nl2sh);
  const reasons = [where(chosen.model, chosen.fit, machine)];
  if (chosen.fit.problem !== null)
    reasons.push(`no catalog model suits this machine well: the smallest (${chosen.fit.problem})`);
  reasons.push(
    better
      ? `NL2SH accuracy ${accuracy(chosen.nl2sh)}; ${better.model.name} (${accuracy(better.nl2sh)}) ` +
          `${better.fit.problem}`
      : `NL2SH accuracy ${accuracy(chosen.nl2sh)}, the catalog's best`,
  );
  reasons.push(`${seconds(chosen.fit.answer_s)} an answer (estimate)`);
  return { model: chosen.model, fits, reasons, passedOver: better?.model.name ?? null };
}

export const accuracy = (value: number | null) => (value === null ? "-" : value.toFixed(2));

/** Where the chosen model runs, and what of the machine lets it. */
function where(model: CatalogModel, fit: ModelFit, machine: Machine): string {
  const { gpu } = machine;
  if (fit.on === "gpu" && gpu) {
    const free =
      gpu.vram_free_bytes < model.memoryBytes
        ? ` (${formatBytes(gpu.vram_free_bytes)} free now: until more is, part of it runs on the CPU)`
        : "";
    return (
      `llama.cpp's ${gpu.build} build loads for ${gpu.name || "the GPU"}, whose ` +
      `${formatBytes(gpu.vram_total_bytes)} hold its ${formatBytes(model.memoryBytes)} with room${free}`
    );
  }
  const why = gpu
    ? `${gpu.name || "the GPU"} (${formatBytes(gpu.vram_total_bytes)}) cannot hold it with room`
    : machine.unused_gpus.length > 0
      ? `llama.cpp uses no GPU here (${machine.unused_gpus.join(", ")} found: see caro doctor's gpu line)`
      : "no GPU llama.cpp can use";
  const ram = `${formatBytes(machine.ram_total_bytes)} RAM (${formatBytes(machine.ram_available_bytes)} free)`;
  return `${why}: on the CPU, ${machine.cores} ${machine.cores === 1 ? "core" : "cores"}, ${ram}`;
}

/** What moving from the configured model to the suggested one gains and costs, in figures. */
export interface Switch {
  /** NL2SH accuracy points gained (negative: lost); null where either has no published figure. */
  nl2sh_points: number | null;
  /** Estimated seconds an answer takes more (negative: less). */
  answer_s_delta: number;
  memory_bytes_delta: number;
  /** The download the switch needs; 0 when the suggested model is here. */
  download_bytes: number;
}

export function switchTo(from: CatalogModel, suggestion: Suggestion, downloaded: boolean): Switch {
  const to = suggestion.model;
  const fitOfName = (name: string) => suggestion.fits.find((f) => f.name === name)!;
  return {
    nl2sh_points: from.nl2sh === null || to.nl2sh === null ? null : Math.round((to.nl2sh - from.nl2sh) * 100),
    answer_s_delta: Math.round((fitOfName(to.name).answer_s - fitOfName(from.name).answer_s) * 100) / 100,
    memory_bytes_delta: to.memoryBytes - from.memoryBytes,
    download_bytes: downloaded ? 0 : to.sizeBytes,
  };
}

/** The switch as one sentence: what it gains, then what it costs. */
export function describeSwitch(from: CatalogModel, suggestion: Suggestion, change: Switch): string {
  const to = suggestion.model;
  const gains: string[] = [];
  const costs: string[] = [];
  const points = change.nl2sh_points;
  if (points !== null && points !== 0) {
    const text = `${Math.abs(points)} points of NL2SH accuracy (${accuracy(from.nl2sh)} → ${accuracy(to.nl2sh)})`;
    (points > 0 ? gains : costs).push(text);
  }
  const fromS = suggestion.fits.find((f) => f.name === from.name)!.answer_s;
  const toS = suggestion.fits.find((f) => f.name === to.name)!.answer_s;
  if (seconds(fromS) !== seconds(toS)) {
    const faster = change.answer_s_delta < 0;
    (faster ? gains : costs).push(
      `${faster ? "faster" : "slower"} answers (${seconds(fromS)} → ${seconds(toS)}, estimates)`,
    );
  }
  if (change.memory_bytes_delta !== 0) {
    const text =
      `${formatBytes(Math.abs(change.memory_bytes_delta))} ` +
      `${change.memory_bytes_delta < 0 ? "less" : "more"} memory`;
    (change.memory_bytes_delta < 0 ? gains : costs).push(text);
  }
  if (change.download_bytes > 0) costs.push(`a ${formatBytes(change.download_bytes)} download`);
  const list = (items: string[]) => items.join(", ");
  const unknown =
    points === null ? ` (${from.nl2sh === null ? from.name : to.name} has no published NL2SH figure)` : "";
  if (gains.length === 0)
    return `switching to ${to.name} gains nothing caro can show, and costs ${list(costs)}${unknown}`;
  return (
    `switching to ${to.name} gains ` +
    `${list(gains)}${costs.length > 0 ? `; against that: ${list(costs)}` : ""}${unknown}`
  );
}
