import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { dirname, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { execa } from "execa";
import { caro, makeHome } from "./helpers/caro.js";
import { sendFile, serve, type TestServer } from "./helpers/http.js";
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
  /** Other repositories' tiny-test.gguf, by `user/repo`: same file name, other bytes. */
  repos?: Record<string, Buffer>;
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
  const requested: string[] = [];
  const cdn = async (req: IncomingMessage, res: ServerResponse) => {
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? "");
    const start = range ? Number(range[1]) : 0;
    const end = range?.[2] ? Number(range[2]) : served.length - 1;
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
      return void res
        .writeHead(302, {
          location: "/cdn/tiny-test.gguf",
          "x-linked-etag": `"${sha}"`,
          "x-linked-size": String(bytes.length),
        })
        .end();
    if (path === "/cdn/tiny-test.gguf") return void cdn(req, res);
    const other = /^\/([^/]+\/[^/]+)\/resolve\/main\/tiny-test\.gguf$/.exec(path)?.[1];
    const otherBytes = other ? options.repos?.[other] : undefined;
    if (other && otherBytes) {
      requested.push(other);
      const otherSha = createHash("sha256").update(otherBytes).digest("hex");
      res.writeHead(200, { "x-linked-etag": `"${otherSha}"`, "content-length": otherBytes.length });
      return void res.end(req.method === "HEAD" ? undefined : otherBytes);
    }
    res.writeHead(404).end();
  });
  servers.push(server);
  return { server, ranges, sha, served: served2, requested };
}

const URI = "hf:test-org/test-repo/tiny-test.gguf";
/** Where URI lands: not a catalog model, so in a folder of its repository. */
const IN_REPO = ["test-org", "test-repo", "tiny-test.gguf"];

/** Every file under a folder, as relative paths. */
const filesUnder = (folder: string) =>
  readdirSync(folder, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => e.name);

/** Megabytes behind a GGUF magic: large enough for the downloader's 5 MB chunks, ranges and resume. */
function bigFile(megabytes = 8): Buffer {
  const bytes = Buffer.alloc(megabytes * 1024 * 1024);
  for (let i = 0; i < bytes.length; i += 4) bytes.writeUInt32LE((i * 2654435761) >>> 0, i);
  bytes.write("GGUF", 0, "latin1");
  return bytes;
}

// A pull readies the model for its first answer (it loads it and saves the instructions' state: some
// 2 CPU-s here), which one case tests; the cases about the download itself turn that off.
const NOT_READIED = "[backends.embedded]\nprefix_cache = false\n";

describe("caro models", () => {
  it("lists the catalog with sizes, memory, what is downloaded and the default", async () => {
    const { env, home } = makeHome();
    mkdirSync(join(home, ".cache", "caro", "models"), { recursive: true });
    writeFileSync(join(home, ".cache", "caro", "models", "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"), "GGUF");
    const result = await caro(["models", "list"], { env });
    expect(result.exitCode).toBe(0);
    // "+" marks the model for this machine, whichever it is here.
    expect(result.stdout).toMatch(/^\*[ +] qwen2\.5-coder-1\.5b\s+1\.1 GB\s+1\.6 GB\s+-\s+0\.50\s+~\d+\.\d s\s/m);
    expect(result.stdout).toMatch(/^ [ +] qwen2\.5-coder-0\.5b\s+490 MB\s+800 MB\s+yes\s+0\.36\s/m);
    expect(result.stdout).toMatch(/qwen2\.5-coder-3b/);
    expect(result.stdout).toMatch(/qwen2\.5-coder-7b/);
    expect(result.stdout.match(/^[* ]\+ /gm)).toHaveLength(1);
    expect(result.stdout).toMatch(/^\+ qwen2\.5-coder-[\d.]+b for this machine: .+ an answer \(estimate\)$/m);
    const json = JSON.parse(String((await caro(["models", "list", "--json"], { env })).stdout));
    expect(json.models.find((m: { name: string }) => m.name === "qwen2.5-coder-0.5b").downloaded).toBe(true);
    expect(json.suggestion.machine_source).toBe("this machine");
  });

  it("says which model this machine should run and why, against the configured one, on fake machines", async () => {
    const GB = 1e9;
    const { env, configPath } = makeHome();
    const on = (machine: object, more: Record<string, string> = {}) => ({
      env: { ...env, CARO_TEST_MACHINE: JSON.stringify(machine), ...more },
    });
    const bigGpu = {
      cores: 16,
      ram_total_bytes: 64 * GB,
      gpu: { build: "cuda", name: "NVIDIA H100 80GB HBM3", vram_total_bytes: 80 * GB, vram_free_bytes: 79 * GB },
    };
    const eightCores = { cores: 8, ram_total_bytes: 32 * GB, ram_available_bytes: 20 * GB };
    const small = { cores: 2, ram_total_bytes: 4 * GB, ram_available_bytes: 2.5 * GB };
    const [big, eight, tiny, chosen, badMachine] = await Promise.all([
      caro(["models", "list"], on(bigGpu)),
      caro(["models", "list", "--json"], on(eightCores)),
      // The model set by $CARO_MODEL: switching means changing that.
      caro(["models", "list", "--json"], on(small, { CARO_MODEL: "qwen2.5-coder-1.5b" })),
      caro(["models", "list"], on(eightCores, { CARO_MODEL: "qwen2.5-coder-3b" })),
      caro(["models", "list"], on({ cores: "many" })),
    ]);

    expect(big.stdout).toMatch(/^\* {2}qwen2\.5-coder-1\.5b\s+1\.1 GB\s+1\.6 GB\s+-\s+0\.50\s+~0\.\d s\s/m);
    expect(big.stdout).toMatch(/^ \+ qwen2\.5-coder-7b\s+4\.7 GB\s+5\.6 GB\s+-\s+0\.62\s+~0\.\d s\s/m);
    expect(big.stdout).toMatch(/^ {3}llama3\.2-3b\s+2\.0 GB\s+2\.7 GB\s+-\s+-\s+/m);
    expect(big.stdout).toContain(
      "NL2SH: share of the NL2SH benchmark's requests answered right, Westenfelder et al., \"LLM-Supported Natural " +
        'Language to Bash Translation", NAACL 2025 (https://aclanthology.org/2025.naacl-long.555/)',
    );
    expect(big.stdout).toMatch(/^ANSWER: seconds for a typical answer on this machine, estimated from/m);
    expect(big.stdout).toMatch(
      new RegExp(
        String.raw`^\+ qwen2\.5-coder-7b for this machine \(a machine described by \$CARO_TEST_MACHINE\): ` +
          String.raw`llama\.cpp's cuda build loads for NVIDIA H100 80GB HBM3, whose 80 GB hold its 5\.6 GB with ` +
          String.raw`room; NL2SH accuracy 0\.62, the catalog's best; ~0\.\d s an answer \(estimate\)$`,
        "m",
      ),
    );
    expect(big.stdout).toMatch(
      /^ {2}against the configured qwen2\.5-coder-1\.5b, switching to qwen2\.5-coder-7b gains 12 points/m,
    );
    expect(big.stdout).toContain(
      `  to switch: caro models pull qwen2.5-coder-7b (4.7 GB), then set [backends.embedded] model = ` +
        `"qwen2.5-coder-7b" in ${configPath}`,
    );

    const eightJson = JSON.parse(String(eight.stdout));
    const row = (json: { models: { name: string }[] }, name: string) => json.models.find((m) => m.name === name);
    expect(eightJson.suggestion).toMatchObject({ model: "qwen2.5-coder-3b", configured: "qwen2.5-coder-1.5b" });
    expect(eightJson.suggestion.machine).toEqual({ ...eightCores, gpu: null, unused_gpus: [] });
    expect(row(eightJson, "qwen2.5-coder-3b")).toMatchObject({
      suggested: true,
      default: false,
      nl2sh: 0.58,
      on: "cpu",
      problem: null,
    });
    expect(row(eightJson, "qwen2.5-coder-7b")).toMatchObject({ suggested: false, nl2sh: 0.62 });
    expect(row(eightJson, "qwen2.5-coder-7b").problem).toMatch(/^takes ~2\.\d s an answer on 8 CPU cores \(estimate\)/);
    expect(eightJson.nl2sh_source.url).toBe("https://aclanthology.org/2025.naacl-long.555/");

    const tinyJson = JSON.parse(String(tiny.stdout));
    expect(tinyJson.suggestion).toMatchObject({
      model: "qwen2.5-coder-0.5b",
      switch: { nl2sh_points: -14, download_bytes: 0.49 * GB },
      how: "caro models pull qwen2.5-coder-0.5b (490 MB), then set CARO_MODEL=qwen2.5-coder-0.5b",
    });

    // Configured as suggested: nothing to switch.
    expect(chosen.stdout).toMatch(/^\*\+ qwen2\.5-coder-3b\s/m);
    expect(chosen.stdout).toMatch(/^ {2}it is the configured model$/m);
    expect(chosen.stdout).not.toContain("to switch");

    expect(badMachine.exitCode).toBe(2);
    expect(badMachine.stderr).toMatch(
      /\$CARO_TEST_MACHINE does not describe a machine \(cores must be a whole number\): unset it/,
    );
  });

  it("prints the models folder", async () => {
    const { env, home } = makeHome();
    expect((await caro(["models", "path"], { env })).stdout).toBe(join(home, ".cache", "caro", "models"));
  });

  it("pulls a model, checking its SHA-256 against the hub's", async () => {
    const bytes = readFileSync(testModelPath("tiny"));
    const { server } = await hub(bytes);
    const { env, home } = makeHome(NOT_READIED);
    const result = await caro(["models", "pull", URI], { env: { ...env, HF_ENDPOINT: server.url } });
    expect(result.exitCode).toBe(0);
    const path = join(home, ".cache", "caro", "models", ...IN_REPO);
    expect(result.stdout).toBe(path);
    expect(readFileSync(path).equals(bytes)).toBe(true);
    // Not a terminal: a plain progress line, with size, speed and ETA.
    expect(result.stderr).toMatch(
      /caro: downloading tiny-test\.gguf 100% [\d.]+ (kB|MB) of [\d.]+ (kB|MB), [\d.]+ (kB|MB)\/s, ETA/,
    );
    const again = await caro(["models", "pull", URI], { env: { ...env, HF_ENDPOINT: server.url } });
    expect(again.stderr).toContain("is already downloaded");
  });

  it("readies a pulled model for its first answer: a saved prefix state the first request loads", async () => {
    const bytes = readFileSync(testModelPath("tiny"));
    const { server } = await hub(bytes);
    const { env, home } = makeHome(`[backends.embedded]\nmodel = "${URI}"\nthreads = 1\n`);
    const hubEnv = { ...env, HF_ENDPOINT: server.url };
    const prefixDir = join(home, ".cache", "caro", "prefix");
    expect(existsSync(prefixDir)).toBe(false);
    const pulled = await caro(["models", "pull", URI], { env: hubEnv });
    expect(pulled.exitCode, pulled.stderr).toBe(0);
    expect(pulled.stderr).not.toMatch(/warning/);
    expect(readdirSync(prefixDir).filter((f) => f.endsWith(".state"))).toHaveLength(1);
    const asked = await caro(["--verbose", "list the files here"], { env: hubEnv });
    expect(asked.exitCode, asked.stderr).toBe(0);
    expect(asked.stderr).toMatch(/fixed prompt from disk/);
  });

  it("pulls from an https URL too", async () => {
    const bytes = readFileSync(testModelPath("tiny"));
    const { server } = await hub(bytes);
    const { env, home } = makeHome(NOT_READIED);
    const result = await caro(["models", "pull", `${server.url}/test-org/test-repo/resolve/main/tiny-test.gguf`], {
      env,
    });
    expect(result.exitCode).toBe(0);
    // A folder per host and path: another server's tiny-test.gguf is another file.
    const host = new URL(server.url).host;
    const path = join(home, ".cache", "caro", "models", host, "test-org", "test-repo", "resolve", "main", IN_REPO[2]);
    expect(result.stdout).toBe(path);
    expect(readFileSync(path).equals(bytes)).toBe(true);
  });

  it("refuses a corrupted download and keeps nothing of it", async () => {
    const bytes = readFileSync(testModelPath("tiny"));
    const { server } = await hub(bytes, { corrupt: true });
    const { env, home } = makeHome();
    const result = await caro(["models", "pull", URI], { env: { ...env, HF_ENDPOINT: server.url } });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(
      new RegExp(
        String.raw`tiny-test\.gguf arrived corrupted \(SHA-256 [0-9a-f]{12}…, the hub publishes [0-9a-f]{12}…\) ` +
          `and was deleted: download it again`,
      ),
    );
    expect(filesUnder(join(home, ".cache", "caro", "models"))).toEqual([]);
  });

  it("survives a dropped connection: the part is fetched again and the file verifies", async () => {
    const bytes = bigFile();
    const { server, ranges } = await hub(bytes, { dropAfter: 2_000_000 });
    const { env, home } = makeHome(NOT_READIED);
    const result = await caro(["models", "pull", URI], { env: { ...env, HF_ENDPOINT: server.url } });
    expect(result.exitCode).toBe(0);
    expect(readFileSync(join(home, ".cache", "caro", "models", ...IN_REPO)).equals(bytes)).toBe(true);
    const firstRange = ranges.find((r) => r !== "none")!;
    expect(ranges.filter((r) => r === firstRange).length).toBeGreaterThanOrEqual(2);
  });

  it("stops on Ctrl-C, keeps nothing under the model's name, and resumes on the next pull", async () => {
    const bytes = bigFile(24);
    const { server, served } = await hub(bytes, { throttle: 65536 });
    const { env, home } = makeHome(NOT_READIED);
    const models = join(home, ".cache", "caro", "models");
    const child = caro(["models", "pull", URI], { env: { ...env, HF_ENDPOINT: server.url } });
    // The downloader keeps whole 5 MB chunks in its progress file; stop once some are through. What
    // the hub has sent may still sit in buffers on a busy machine: at 12 MB, none was kept once.
    while (served.bytes < 17 * 1024 * 1024 && child.exitCode === null)
      await new Promise((resolve) => setTimeout(resolve, 20));
    child.kill("SIGINT");
    const stopped = await child;
    expect(stopped.exitCode).toBe(130);
    expect(existsSync(join(models, ...IN_REPO))).toBe(false);
    const before = served.bytes;
    expect(before).toBeGreaterThan(0);
    const resumed = await caro(["models", "pull", URI], { env: { ...env, HF_ENDPOINT: server.url } });
    expect(resumed.exitCode).toBe(0);
    expect(readFileSync(join(models, ...IN_REPO)).equals(bytes)).toBe(true);
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
    const { env, home } = makeHome(
      'backend = "embedded"\n[backends.embedded]\nmodel = "qwen2.5-coder-0.5b"\nthreads = 1\n',
    );
    const models = join(home, ".cache", "caro", "models");
    mkdirSync(models, { recursive: true });
    writeFileSync(join(models, "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"), readFileSync(testModelPath("tiny")));
    const result = await caro(["--json", "list", "files"], { env });
    expect(result.exitCode).toBe(0);
    expect(JSON.parse(String(result.stdout)).model).toBe("qwen2.5-coder-0.5b-instruct-q4_k_m.gguf");
  });

  it("keeps two repositories' files of the same name apart: each is its own model", async () => {
    const tiny = readFileSync(testModelPath("tiny"));
    const other = readFileSync(testModelPath("unparsable"));
    const { server, requested } = await hub(tiny, { repos: { "other-org/test-repo": other } });
    const { env, home, configPath } = makeHome(NOT_READIED);
    const hubEnv = { ...env, HF_ENDPOINT: server.url };
    const models = join(home, ".cache", "caro", "models");
    expect((await caro(["models", "pull", URI], { env: hubEnv })).exitCode).toBe(0);

    // The same file name from another repository is fetched, not taken from the cache.
    const pulled = await caro(["models", "pull", "hf:other-org/test-repo/tiny-test.gguf"], { env: hubEnv });
    expect(pulled.exitCode).toBe(0);
    expect(pulled.stderr).not.toContain("already downloaded");
    expect(pulled.stdout).toBe(join(models, "other-org", "test-repo", "tiny-test.gguf"));
    expect(readFileSync(join(models, "other-org", "test-repo", "tiny-test.gguf")).equals(other)).toBe(true);
    expect(readFileSync(join(models, ...IN_REPO)).equals(tiny)).toBe(true);

    // list shows both by their place in the cache; rm takes that place, or the name when it is unique.
    const listed = String((await caro(["models", "list"], { env })).stdout);
    expect(listed).toContain("other-org/test-repo/tiny-test.gguf");
    expect(listed).toContain("test-org/test-repo/tiny-test.gguf");
    const ambiguous = await caro(["models", "rm", "tiny-test.gguf"], { env });
    expect(ambiguous.exitCode).toBe(2);
    expect(ambiguous.stderr).toMatch(/tiny-test\.gguf names 2 downloaded files: name one of /);
    expect((await caro(["models", "rm", "other-org/test-repo/tiny-test.gguf"], { env })).exitCode).toBe(0);
    expect(existsSync(join(models, "other-org"))).toBe(false);
    expect((await caro(["models", "rm", "tiny-test.gguf"], { env })).exitCode).toBe(0);
    expect(filesUnder(models)).toEqual([]);

    // As the configured model: the other repository's file is downloaded on first use.
    requested.length = 0;
    expect((await caro(["models", "pull", URI], { env: hubEnv })).exitCode).toBe(0);
    const model = "hf:other-org/test-repo/tiny-test.gguf";
    writeFileSync(configPath, `backend = "embedded"\n[backends.embedded]\nmodel = "${model}"\nthreads = 1\n`);
    const used = await caro(["list", "files"], { env: hubEnv });
    expect(used.stderr).toMatch(/downloading tiny-test\.gguf/);
    expect(requested).toContain("other-org/test-repo");
    expect(readFileSync(join(models, "other-org", "test-repo", "tiny-test.gguf")).equals(other)).toBe(true);
  });
});

describe("the manual download caro prints when it cannot download", () => {
  /** A hub that is down, then up on a connection that drops the first transfer halfway. */
  async function flakyHub(bytes: Buffer) {
    const state = { up: false, ranges: [] as string[], dropped: false };
    const server = await serve((req, res) => {
      const path = req.url?.split("?")[0] ?? "";
      if (!state.up) return void res.writeHead(503).end("<html>down for maintenance</html>");
      if (path !== "/test-org/test-repo/resolve/main/tiny-test.gguf")
        return void res.writeHead(404, { "content-type": "text/html" }).end("<html>Entry not found</html>");
      state.ranges.push(req.headers.range ?? "none");
      if (state.dropped) return sendFile(req, res, bytes);
      state.dropped = true;
      res.writeHead(200, { "content-length": bytes.length });
      res.write(bytes.subarray(0, bytes.length >> 1), () => res.destroy());
    });
    servers.push(server);
    return { server, state };
  }

  const byHand = (stderr: unknown) => /fetch it by hand: (.+)$/m.exec(String(stderr))?.[1] ?? "";

  it("never saves an error page as the model, and resumes an interrupted download", async () => {
    const bytes = bigFile(2);
    const { server, state } = await flakyHub(bytes);
    const { env, home } = makeHome();
    const hubEnv = { ...env, HF_ENDPOINT: server.url };
    const failed = await caro(["models", "pull", URI], { env: hubEnv });
    expect(failed.exitCode).toBe(1);
    const command = byHand(failed.stderr);
    expect(command).toMatch(/curl -fL -C - -o /);
    const model = join(home, ".cache", "caro", "models", ...IN_REPO);
    expect(command).toContain(model);

    state.up = true;
    // A file the hub does not have: curl fails and leaves nothing under the model's name.
    const missing = join(dirname(model), "missing.gguf");
    const absent = await execa("bash", ["-c", command.replaceAll("tiny-test.gguf", "missing.gguf")], { reject: false });
    expect(absent.exitCode).not.toBe(0);
    expect(existsSync(missing)).toBe(false);

    // The connection drops halfway: no model yet; the same command again fetches only the rest.
    const cut = await execa("bash", ["-c", command], { reject: false });
    expect(cut.exitCode).not.toBe(0);
    expect(existsSync(model)).toBe(false);
    const resumed = await execa("bash", ["-c", command], { reject: false });
    expect(resumed.exitCode).toBe(0);
    expect(readFileSync(model).equals(bytes)).toBe(true);
    expect(state.ranges).toEqual(["none", `bytes=${bytes.length >> 1}-`]);
    expect((await caro(["models", "pull", URI], { env: hubEnv })).stderr).toContain("is already downloaded");
  });
});
