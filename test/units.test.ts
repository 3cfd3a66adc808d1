// The small pieces the end-to-end tests pass through, each driven directly: the socket's frame
// reader, the config's value parsers and the safety rater's path classes.

import { homedir } from "node:os";
import { describe, expect, it } from "vitest";
import { parseSetting } from "../src/config/schema.js";
import { encodeFrame, FrameError, FrameReader, FrameTooLargeError, MAX_FRAME_BYTES } from "../src/wire/protocol.js";
import { classifyPath, type PathKind } from "../src/safety/paths.js";
import { literal } from "../src/safety/words.js";
import { formatBytes } from "../src/text/bytes.js";
import { type Sample, sustainedLoad } from "../src/worker/cpu-load.js";
import { inert, inertExcerpt } from "../src/text/inert.js";

describe("FrameReader", () => {
  const frames = [encodeFrame({ t: "status" }), encodeFrame({ t: "cancel", id: 7 }), encodeFrame({ t: "stop" })];
  const bytes = Buffer.concat(frames);

  it("hands out whole messages however the bytes are split", () => {
    for (const size of [1, 2, 3, 5, 7, bytes.length]) {
      const reader = new FrameReader();
      const messages: unknown[] = [];
      for (let i = 0; i < bytes.length; i += size) messages.push(...reader.push(bytes.subarray(i, i + size)));
      expect(messages).toEqual([{ t: "status" }, { t: "cancel", id: 7 }, { t: "stop" }]);
    }
  });

  it("refuses a frame over the limit from its length alone, and one that does not decode", () => {
    const huge = Buffer.alloc(4);
    huge.writeUInt32BE(MAX_FRAME_BYTES + 1);
    expect(() => new FrameReader().push(huge)).toThrow(FrameTooLargeError);
    const garbage = Buffer.from([0, 0, 0, 2, 0xc1, 0xc1]);
    expect(() => new FrameReader().push(garbage)).toThrow(FrameError);
  });

  it("will not encode a message the other side would refuse", () => {
    expect(() => encodeFrame({ t: "hello", v: "x".repeat(MAX_FRAME_BYTES) })).toThrow(FrameTooLargeError);
  });
});

describe("config values", () => {
  it("reads each kind of value and names the key, the place and the value when it is wrong", () => {
    expect(parseSetting("backend", "ollama", "f")).toBe("ollama");
    expect(parseSetting("max_command_length", 100, "f")).toBe(100);
    expect(parseSetting("backends.embedded.prefix_cache", false, "f")).toBe(false);
    expect(parseSetting("backends.embedded.gpu_layers", "max", "f")).toBe("max");
    expect(parseSetting("backends.embedded.gpu_layers", 12, "f")).toBe(12);
    expect(() => parseSetting("backend", "nope", "$CARO_BACKEND")).toThrow(
      '$CARO_BACKEND: backend must be one of auto, embedded, ollama, vllm (got "nope")',
    );
    expect(() => parseSetting("max_command_length", 5000, "config.toml")).toThrow(
      /config\.toml: max_command_length must be at most 4000/,
    );
    expect(() => parseSetting("max_command_length", 2.5, "config.toml")).toThrow(/max_command_length/);
    expect(() => parseSetting("safety.level", "lax", "--level")).toThrow(/strict, moderate, permissive/);
  });
});

describe("path classes", () => {
  const kind = (path: string, cwd?: string): PathKind => classifyPath(literal(path), cwd).kind;

  it("tells the places whose loss is a disaster from the ones that are not", () => {
    expect(kind("/")).toBe("root");
    expect(kind("/*")).toBe("root");
    expect(kind("~")).toBe("home");
    expect(kind(homedir())).toBe("home");
    expect(kind("/etc")).toBe("system");
    expect(kind("/etc/passwd")).toBe("critical-file");
    expect(kind("/dev/sda")).toBe("device");
    expect(kind("/etc/nginx/nginx.conf")).toBe("in-system");
    expect(kind("~/notes.txt")).toBe("in-home");
    expect(kind("/tmp/build")).toBe("temporary");
    expect(kind(".")).toBe("cwd");
    expect(kind("..")).toBe("parent");
    expect(kind("$DIR/")).toBe("unknown-prefix");
    expect(kind("node_modules")).toBe("local");
  });
});

describe("text shown to a person", () => {
  it("drops escape sequences, shows other controls, and keeps lines", () => {
    expect(inert("a\x1b]0;title\x07b\x1b[2Jc\x9b31md\u202ee\nf")).toBe("abcd?e\nf");
    expect(inertExcerpt(`x${"y".repeat(300)}`, 10)).toBe("xyyyyyyyy…");
    expect(inertExcerpt("crashed\x00\x01see log")).toBe("crashed see log");
  });

  it("writes sizes as people read them", () => {
    expect([
      formatBytes(1_104_000_000),
      formatBytes(12_000_000_000),
      formatBytes(398_400_000),
      formatBytes(12_345),
    ]).toEqual(["1.1 GB", "12 GB", "398 MB", "12 kB"]);
  });
});

describe("the load other programs keep up", () => {
  /** Samples every 250 ms; `others[i]` and `own[i]` are the core-ms used in stretch i. */
  function samples(others: number[], own: number[] = others.map(() => 0)): Sample[] {
    const list: Sample[] = [{ at: 0, busyMs: 0, ownMs: 0 }];
    others.forEach((used, i) => {
      const last = list[i];
      list.push({ at: last.at + 250, busyMs: last.busyMs + used + own[i], ownMs: last.ownMs + own[i] });
    });
    return list;
  }

  it("a program on one core throughout counts as a core", () => {
    expect(sustainedLoad(samples([250, 250, 250, 250]))).toBeCloseTo(1);
  });

  it("a client starting just before its request does not count, in one stretch or across two", () => {
    expect(sustainedLoad(samples([0, 0, 0, 200]))).toBe(0);
    expect(sustainedLoad(samples([0, 0, 100, 100]))).toBeLessThan(0.25);
  });

  it("a program busy half the time counts", () => {
    expect(sustainedLoad(samples([250, 0, 250, 0]))).toBeGreaterThan(0.25);
  });

  it("this process's own work never counts", () => {
    expect(sustainedLoad(samples([0, 0, 0, 0], [500, 500, 500, 500]))).toBe(0);
  });

  it("nothing known yet is no load", () => {
    expect(sustainedLoad(samples([]))).toBe(0);
  });
});
