import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { caro, makeHome } from "./helpers/caro.js";
import { serve, type TestServer } from "./helpers/http.js";
import { testModelPath } from "./helpers/models.js";

const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

interface HubOptions {
  /** Serve this instead of the real bytes (same size): what a broken mirror or disk gives. */
  corrupt?: boolean;
  /** Cut the first download's connection after this many bytes. */
  dropAfter?: number;
  /** Bytes per 10 ms, to make a download slow enough to interrupt. */
  throttle?: number;
}

/**
 * A stand-in for the Hugging Face hub in the layout HF_ENDPOINT points at: resolve/ answers with a
 * 302 to a CDN and the file's SHA-256 in X-Linked-Etag, the CDN serves byte ranges.
 */
async function hub(bytes: Buffer, options: HubOptions = {}) {
  const sha = createHash("sha256").update(bytes).digest("hex");
  const served = options.corrupt ? Buffer.from(bytes.map((b, i) => (i % 4096 === 100 ? b ^ 0xff : b))) : bytes;
  const ranges: string[] = [];
  const served2 = { bytes: 0 };
  let dropped = false;
  const cdn = async (req: IncomingMessage, res: ServerResponse) => {
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? "");
    const start = range ? Number(range[1]) : 0;
    const end = range && range[2] ? Number(range[2]) : served.length - 1;
    if (req.method === "GET") ranges.push(req.headers.range ?? "none");
    res.writeHead(range ? 206 : 200, {
      "content-length": end - start + 1,
      "accept-ranges": "bytes",
      ...(range ? { "content-range": `bytes ${start}-${end}/${served.length}` } : {}),
    });
    if (req.method === "HEAD") return void res.end();
    // The downloader probes with a plain GET, then fetches ranges in parallel: drop the first range.
    const drop = range !== null && !dropped && options.dropAfter !== undefined;
    if (drop) dropped = true;
    for (let at = start; at <= end; ) {
      const step = options.throttle ?? 65536;
      const chunk = served.subarray(at, Math.min(at + step, end + 1));
      if (drop && at - start + chunk.length > options.dropAfter!) {
        res.destroy();
        return;
      }
      if (!res.write(chunk)) await new Promise((resolve) => res.once("drain", resolve));
      // Only ranged reads count: the downloader's first plain GET is a probe it drops at once.
      if (range) served2.bytes += chunk.length;
      at += chunk.length;
      if (options.throttle) await new Promise((resolve) => setTimeout(resolve, 10));
      if (res.destroyed) return;
    }
    res.end();
  };
  const server = await serve((req, res) => {
    const path = req.url?.split("?")[0] ?? "";
    if (path === "/test-org/test-repo/resolve/main/tiny-test.gguf")
      return void res.writeHead(302, { location: "/cdn/tiny-test.gguf", "x-linked-etag": `"${sha}"`, "x-linked-size": String(bytes.length) }).end();
    if (path === "/cdn/tiny-test.gguf") return void cdn(req, res);
    res.writeHead(404).end();
  });
  servers.push(server);
  return { server, ranges, sha, served: served2 };
}

const URI = "hf:test-org/test-repo/tiny-test.gguf";

/** Megabytes behind a GGUF magic: large enough for the downloader's 5 MB chunks, ranges and resume. */
function bigFile(megabytes = 8): Buffer {
  const bytes = Buffer.alloc(megabytes * 1024 * 1024);
  for (let i = 0; i < bytes.length; i += 4) bytes.writeUInt32LE((i * 2654435761) >>> 0, i);
  bytes.write("GGUF", 0, "latin1");
  return bytes;
}

describe("caro models", () => {
  it("lists the catalog with sizes, memory, what is downloaded and the default", async () => {
    const { env, home } = makeHome();
    mkdirSync(join(home, ".cache", "caro", "models"), { recursive: true });
    writeFileSync(join(home, ".cache", "caro", "models", "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"), "GGUF");
    const result = await caro(["models", "list"], { env });
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(/^\* qwen2\.5-coder-1\.5b\s+1\.1 GB\s+1\.6 GB\s+-/m);
    expect(result.stdout).toMatch(/^ {2}qwen2\.5-coder-0\.5b\s+0\.49 GB\s+0\.80 GB\s+yes/m);
    expect(result.stdout).toMatch(/qwen2\.5-coder-3b/);
    expect(result.stdout).toMatch(/qwen2\.5-coder-7b/);
    const json = JSON.parse(String((await caro(["models", "list", "--json"], { env })).stdout));
    expect(json.models.find((m: { name: string }) => m.name === "qwen2.5-coder-0.5b").downloaded).toBe(true);
  });

  it("prints the models folder", async () => {
    const { env, home } = makeHome();
    expect((await caro(["models", "path"], { env })).stdout).toBe(join(home, ".cache", "caro", "models"));
  });

  it("pulls a model, checking its SHA-256 against the hub's", async () => {
    const bytes = readFileSync(testModelPath("tiny"));
    const { server } = await hub(bytes);
    const { env, home } = makeHome();
    const result = await caro(["models", "pull", URI], { env: { ...env, HF_ENDPOINT: server.url } });
    expect(result.exitCode).toBe(0);
    const path = join(home, ".cache", "caro", "models", "tiny-test.gguf");
    expect(result.stdout).toBe(path);
    expect(readFileSync(path).equals(bytes)).toBe(true);
    // Not a terminal: a plain progress line, with size, speed and ETA.
    expect(result.stderr).toMatch(/caro: downloading tiny-test\.gguf 100% [\d.]+ (kB|MB) of [\d.]+ (kB|MB), [\d.]+ (kB|MB)\/s, ETA/);
    const again = await caro(["models", "pull", URI], { env: { ...env, HF_ENDPOINT: server.url } });
    expect(again.stderr).toContain("is already downloaded");
  });

  it("pulls from an https URL too", async () => {
    const bytes = readFileSync(testModelPath("tiny"));
    const { server } = await hub(bytes);
    const { env, home } = makeHome();
    const result = await caro(["models", "pull", `${server.url}/test-org/test-repo/resolve/main/tiny-test.gguf`], { env });
    expect(result.exitCode).toBe(0);
    expect(readFileSync(join(home, ".cache", "caro", "models", "tiny-test.gguf")).equals(bytes)).toBe(true);
  });

  it("refuses a corrupted download and keeps nothing of it", async () => {
    const bytes = readFileSync(testModelPath("tiny"));
    const { server } = await hub(bytes, { corrupt: true });
    const { env, home } = makeHome();
    const result = await caro(["models", "pull", URI], { env: { ...env, HF_ENDPOINT: server.url } });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/tiny-test\.gguf arrived corrupted \(SHA-256 [0-9a-f]{12}…, the hub publishes [0-9a-f]{12}…\) and was deleted: download it again/);
    expect(readdirSync(join(home, ".cache", "caro", "models"))).toEqual([]);
  });

  it("survives a dropped connection: the part is fetched again and the file verifies", async () => {
    const bytes = bigFile();
    const { server, ranges } = await hub(bytes, { dropAfter: 2_000_000 });
    const { env, home } = makeHome();
    const result = await caro(["models", "pull", URI], { env: { ...env, HF_ENDPOINT: server.url } });
    expect(result.exitCode).toBe(0);
    expect(readFileSync(join(home, ".cache", "caro", "models", "tiny-test.gguf")).equals(bytes)).toBe(true);
    const firstRange = ranges.find((r) => r !== "none")!;
    expect(ranges.filter((r) => r === firstRange).length).toBeGreaterThanOrEqual(2);
  });

  it("stops on Ctrl-C, keeps nothing under the model's name, and resumes on the next pull", async () => {
    const bytes = bigFile(24);
    const { server, served } = await hub(bytes, { throttle: 65536 });
    const { env, home } = makeHome();
    const models = join(home, ".cache", "caro", "models");
    const child = caro(["models", "pull", URI], { env: { ...env, HF_ENDPOINT: server.url } });
    // The downloader keeps whole 5 MB chunks in its progress file; stop once some are through.
    while (served.bytes < 12 * 1024 * 1024 && child.exitCode === null) await new Promise((resolve) => setTimeout(resolve, 20));
    child.kill("SIGINT");
    const stopped = await child;
    expect(stopped.exitCode).toBe(130);
    expect(existsSync(join(models, "tiny-test.gguf"))).toBe(false);
    const before = served.bytes;
    expect(before).toBeGreaterThan(0);
    const resumed = await caro(["models", "pull", URI], { env: { ...env, HF_ENDPOINT: server.url } });
    expect(resumed.exitCode).toBe(0);
    expect(readFileSync(join(models, "tiny-test.gguf")).equals(bytes)).toBe(true);
    // What was fetched before Ctrl-C is not fetched again.
    expect(served.bytes - before).toBeLessThan(bytes.length);
  });

  it("removes a model by catalog name or file, and says when there is none", async () => {
    const { env, home } = makeHome();
    const models = join(home, ".cache", "caro", "models");
    mkdirSync(models, { recursive: true });
    writeFileSync(join(models, "qwen2.5-coder-3b-instruct-q4_k_m.gguf"), "x");
    writeFileSync(join(models, "mine.gguf"), "x");
    expect((await caro(["models", "rm", "qwen2.5-coder-3b"], { env })).exitCode).toBe(0);
    expect((await caro(["models", "rm", "mine.gguf"], { env })).exitCode).toBe(0);
    expect(readdirSync(models)).toEqual([]);
    const none = await caro(["models", "rm", "qwen2.5-coder-7b"], { env });
    expect(none.exitCode).toBe(2);
    expect(none.stderr).toMatch(/is not downloaded/);
  });

  it("an unknown name: a usage error naming the fix", async () => {
    const result = await caro(["models", "pull", "gpt-5"]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/unknown model "gpt-5": use a name from caro models list/);
  });

  it("takes a catalog name as the configured model", async () => {
    const { env, home } = makeHome('backend = "embedded"\n[backends.embedded]\nmodel = "qwen2.5-coder-0.5b"\nthreads = 1\n');
    const models = join(home, ".cache", "caro", "models");
    mkdirSync(models, { recursive: true });
    writeFileSync(join(models, "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"), readFileSync(testModelPath("tiny")));
    const result = await caro(["--json", "list", "files"], { env });
    expect(result.exitCode).toBe(0);
    expect(JSON.parse(String(result.stdout)).model).toBe("qwen2.5-coder-0.5b-instruct-q4_k_m.gguf");
  });
});
