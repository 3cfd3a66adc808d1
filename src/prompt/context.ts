import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { arch, platform, release } from "node:os";
import { SHELLS, type Shell } from "./shells.js";

export { SHELLS, type Shell };

/** What the prompt tells the model about the user's machine. */
export interface PromptContext {
  os: string;
  arch: string;
  shell: Shell;
  /** macOS and the BSDs ship BSD sed, find and stat, whose options differ from GNU's. */
  userland: "GNU" | "BSD";
  cwd: string;
  /** The machine's package manager and which common tools it has (grounding/inventory.ts); absent when off. */
  tools?: string;
}

function osName(): string {
  const os = platform();
  if (os === "darwin") {
    try {
      return `macOS ${execFileSync("sw_vers", ["-productVersion"], { encoding: "utf8" }).trim()}`;
    } catch {
      return `macOS (Darwin ${release()})`;
    }
  }
  if (os === "linux") {
    try {
      const pretty = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readFileSync("/etc/os-release", "utf8"));
      if (pretty) return pretty[1];
    } catch {
      // No os-release: fall through to the kernel's name.
    }
    return `Linux ${release()}`;
  }
  return `${os} ${release()}`;
}

let cachedOs: string | undefined;

export function detectContext(shell: Shell, cwd = process.cwd()): PromptContext {
  cachedOs ??= osName();
  const bsd = ["darwin", "freebsd", "openbsd", "netbsd"].includes(platform());
  return { os: cachedOs, arch: arch(), shell, userland: bsd ? "BSD" : "GNU", cwd };
}
