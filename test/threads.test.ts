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

const config = (threads: string) => `[backends.embedded]\nmodel = "${testModelPath("tiny")}"\n${threads}`;

describe("threads", () => {
  it("unset: with every core busy elsewhere, a request runs on one thread", async () => {
    const { env } = makeHome(config(""));
    // Loads the model, so the daemon has measured the machine for a while before the busy spell.
    await threadsUsed(env, "list the files here");
    busyEveryCore();
    // The daemon judges the load over its last second.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    expect(await threadsUsed(env, "show the disk usage")).toBe(1);
  });

  it("unset: once the other programs stop, the next request runs on every core again", async () => {
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
    busyEveryCore();
    await new Promise((resolve) => setTimeout(resolve, 2000));
    expect(await threadsUsed(env, "list the files here")).toBe(2);
  });
});
