// Which tools this machine has, for the fixed part of the prompt: the package manager, and for
// the common jobs which of the usual programs are installed and which are not. A small model picks
// the wrong program more than anything else (NL2SH, NAACL 2025); told what is here, it need not guess.
//
// Found on the request's PATH without running anything, and kept until a PATH folder changes. The
// text lists names in one fixed order, so it changes only when the tools do, and the embedded
// backend's evaluated prefix (which holds it) stays valid across requests.

import { findOnPath, pathStamp } from "./executables.js";

/** Package managers, in the order they are named when a machine has more than one (brew on Linux). */
const PACKAGE_MANAGERS: [shown: string, programs: string[]][] = [
  ["apt", ["apt", "apt-get"]],
  ["dnf", ["dnf"]],
  ["yum", ["yum"]],
  ["pacman", ["pacman"]],
  ["zypper", ["zypper"]],
  ["apk", ["apk"]],
  ["brew", ["brew"]],
  ["nix", ["nix", "nix-env"]],
];

/**
 * The usual programs for the common jobs, each job's alternatives in order of preference. Only
 * names whose presence varies between machines are here: grep, find, tar and sed are everywhere,
 * yet listed where a model picks between them and a rarer alternative.
 */
export const JOBS: { job: string; tools: string[] }[] = [
  { job: "search text", tools: ["rg", "grep"] },
  // Debian and Ubuntu install fd as fdfind.
  { job: "find files", tools: ["fd", "fdfind", "find"] },
  { job: "sockets", tools: ["ss", "netstat", "lsof"] },
  { job: "network", tools: ["ip", "ifconfig"] },
  { job: "JSON", tools: ["jq"] },
  { job: "archives", tools: ["7z", "unzip", "tar"] },
  { job: "download", tools: ["curl", "wget"] },
  { job: "containers", tools: ["docker", "podman"] },
  { job: "services", tools: ["systemctl", "service", "launchctl"] },
  { job: "python", tools: ["python3", "python"] },
  { job: "clipboard", tools: ["pbcopy", "wl-copy", "xclip", "xsel"] },
  { job: "version control", tools: ["git"] },
  { job: "copy trees", tools: ["rsync"] },
];

export interface Inventory {
  /** The package managers found, in PACKAGE_MANAGERS' order. */
  packageManagers: string[];
  installed: string[];
  missing: string[];
}

let kept: { path: string; stamp: string; inventory: Inventory } | undefined;

/** This PATH's package managers and tools; from the last look while no PATH folder has changed. */
export function machineInventory(path: string | undefined): Inventory {
  const stamp = pathStamp(path);
  if (kept && kept.path === (path ?? "") && kept.stamp === stamp) return kept.inventory;
  const found = (name: string) => findOnPath(name, path) !== null;
  const packageManagers = PACKAGE_MANAGERS.filter(([, programs]) => programs.some(found)).map(([shown]) => shown);
  const installed: string[] = [];
  const missing: string[] = [];
  for (const { tools } of JOBS) for (const tool of tools) (found(tool) ? installed : missing).push(tool);
  const inventory = { packageManagers, installed, missing };
  kept = { path: path ?? "", stamp, inventory };
  return inventory;
}

/**
 * The inventory as the prompt's tool lines, compact: every name costs tokens once per evaluation
 * of the fixed prompt. A tool is named missing only where it would be reached for before the one
 * a job has (fd before find, rg before grep): netstat missing beside ss tells the model nothing.
 */
export function inventoryText(inventory: Inventory): string {
  const lines: string[] = [];
  const managers = inventory.packageManagers;
  lines.push(`Package manager: ${managers.length ? managers.join(", ") : "none found"}.`);
  if (inventory.installed.length) lines.push(`Installed: ${inventory.installed.join(", ")}.`);
  const missing = inventory.missing.filter((tool) => {
    const job = JOBS.find((j) => j.tools.includes(tool))!;
    const done = job.tools.some((t) => inventory.installed.includes(t));
    return !done || job.tools.indexOf(tool) < job.tools.findIndex((t) => inventory.installed.includes(t));
  });
  if (missing.length) lines.push(`Not installed: ${missing.join(", ")}.`);
  return lines.join("\n");
}
