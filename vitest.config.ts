import { BaseSequencer, type TestSpecification } from "vitest/node";
import { defineConfig } from "vitest/config";

// Test files wait on real shells, sockets and servers between their bursts of work, so they share
// the machine: four at a time keep its 2 cores busier than three (a full run took 339 s against 369,
// with the same CPU). threads.test.ts must have it to itself, after the rest: it judges how busy
// the cores are, so another file's work would change its answer.
const ALONE = ["test/threads.test.ts"];

// The files that take longest, longest first (a clean-clone CI run here): they start first, and the
// short ones fill in around them to the end. Without this, on a clean clone (no timings from an
// earlier run) vitest starts the largest files first, and package.test.ts (70 s, small) came last,
// running nearly alone for a minute. Once vitest has timings of its own, it orders the rest by them.
const LONGEST = [
  "session",
  "widget",
  "model-copies",
  "package",
  "remote-backends",
  "widget-recovery",
  "models-command",
  "trust",
  "cli",
  "daemon",
  "shell-files",
  "daemon-resilience",
  "doctor",
  "init-start",
].map((name) => `/test/${name}.test.ts`);

class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (file: TestSpecification) => {
      const index = LONGEST.findIndex((end) => file.moduleId.endsWith(end));
      return index === -1 ? LONGEST.length : index;
    };
    // A stable sort: within a rank, and across projects (groupOrder), vitest's own order stands.
    const sorted = await super.sort(files);
    return sorted.sort(
      (a, b) => a.project.config.sequence.groupOrder - b.project.config.sequence.groupOrder || rank(a) - rank(b),
    );
  }
}

export default defineConfig({
  test: {
    // Builds dist/ and makes the test models once, before any file runs.
    globalSetup: ["test/helpers/global-setup.ts"],
    setupFiles: ["test/helpers/setup.ts"],
    // Tests spawn real processes that load real models, four files at a time on a 2-core machine: room.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    sequence: { sequencer: LongestFirst },
    projects: [
      {
        extends: true,
        test: {
          name: "shared",
          include: ["test/**/*.test.ts"],
          exclude: ALONE,
          maxWorkers: 4,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: { name: "alone", include: ALONE, fileParallelism: false, sequence: { groupOrder: 1 } },
      },
    ],
  },
});
