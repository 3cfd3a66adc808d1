import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { makeGguf } from "../../scripts/make-gguf.mjs";

export const ROOT = new URL("../../", import.meta.url).pathname;
const CACHE = join(ROOT, ".cache", "test-models");

// Each test model, by the generator options that make it. Regenerated when the generator changes.
export const testModels = {
  /**
   * Tiny, fast, and steered towards the names of harmless programs every system has: its
   * nonsense parses as shell and passes the checks against the machine.
   */
  tiny: { preset: "tiny", steer: "programs" },
  /** Tiny, steered towards ( and ': its nonsense never parses. */
  unparsable: { preset: "tiny", steer: "unparsable" },
  /** Big enough to decode slowly, so a test can interrupt it mid-answer. */
  slow: { preset: "slow", steer: "programs" },
} as const;

export type TestModel = keyof typeof testModels;

function generatorHash(): string {
  return createHash("sha256")
    .update(readFileSync(join(ROOT, "scripts", "make-gguf.mjs")))
    .digest("hex")
    .slice(0, 12);
}

export function testModelPath(name: TestModel): string {
  return join(CACHE, `${name}-${generatorHash()}.gguf`);
}

/** The models every file may use, made once before the tests start. */
export function ensureTestModels(): void {
  for (const name of Object.keys(testModels)) ensureTestModel(name as TestModel);
}

/** Makes one model if it is not there yet (written under another name and renamed). */
export function ensureTestModel(name: TestModel): string {
  const path = testModelPath(name);
  if (!existsSync(path)) makeGguf(path, testModels[name]);
  return path;
}
