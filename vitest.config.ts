import { defineConfig } from "vitest/config";

// Most test files wait on real shells, sockets and servers more than they compute, so they share the
// machine: three at a time. threads.test.ts must have it to itself, after the rest: it judges how
// busy the cores are, so another file's work would change its answer.
const ALONE = ["test/threads.test.ts"];

export default defineConfig({
  test: {
    // Builds dist/ and makes the test models once, before any file runs.
    globalSetup: ["test/helpers/global-setup.ts"],
    setupFiles: ["test/helpers/setup.ts"],
    // Tests spawn real processes that load real models, three files at a time on a 2-core machine: room.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    projects: [
      {
        extends: true,
        test: {
          name: "shared",
          include: ["test/**/*.test.ts"],
          exclude: ALONE,
          maxWorkers: 3,
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
