// llama.cpp's threads spin-wait for each other, so one that loses its core to another program
// stalls them all: with threads unset, caro leaves the cores other programs keep busy to them;
// a threads setting is kept as it is.

import { availableParallelism } from "node:os";
import { execa, type ResultPromise } from "execa";
import { afterEach, describe, expect, it } from "vitest";
import { caro, makeHome } from "./helpers/caro.js";
import { testModelPath } from "./helpers/models.js";

const loops: ResultPromise[] = [];
afterEach(async () => {
  for (const loop of loops.splice(0)) {
    loop.kill("SIGKILL");
    await loop.catch(() => undefined);
  }
});

/** Other programs keeping every core busy, as a parallel build would. */
function busyEveryCore(): void {
  for (let i = 0; i < availableParallelism(); i++)
    loops.push(execa(process.execPath, ["-e", "for(;;){}"], { reject: false, stdio: "ignore" }));
}

/** The thread count the verbose output reports for a request's evaluation. */
async function threadsUsed(env: Record<string, string>, request: string): Promise<number> {
  const result = await caro(["--verbose", request], { env });
  expect(result.exitCode, result.stderr).toBe(0);
  const match = /reading the prompt on (\d+) threads?/.exec(String(result.stderr));
  expect(match, String(result.stderr)).not.toBeNull();
  return Number(match?.[1]);
}

// Short answers: a few tokens are enough to see the threads, and with a thread per core against
// programs on every core, each token stalls for a long time.
const config = (threads: string) =>
  `max_command_length = 10\n[backends.embedded]\nmodel = "${testModelPath("tiny")}"\n${threads}`;

describe("threads", () => {
  it("unset: one thread while every core is busy elsewhere, every core once that stops", async () => {
    const { env } = makeHome(config(""));
    await threadsUsed(env, "list the files here");
    busyEveryCore();
    await new Promise((resolve) => setTimeout(resolve, 2000));
    expect(await threadsUsed(env, "show the disk usage")).toBe(1);
    for (const loop of loops.splice(0)) {
      loop.kill("SIGKILL");
      await loop.catch(() => undefined);
    }
    // The load is judged over the last second, not the daemon's life: the busy spell is over.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    expect(await threadsUsed(env, "count the lines")).toBe(availableParallelism());
  });

  it("set: the configured count, busy cores or not", async () => {
    const { env } = makeHome(config("threads = 2\n"));
    // Loaded first: a model load with every core busy takes long, and it is the request that counts.
    await threadsUsed(env, "list the files here");
    busyEveryCore();
    await new Promise((resolve) => setTimeout(resolve, 2000));
    expect(await threadsUsed(env, "show the disk usage")).toBe(2);
  });
});
