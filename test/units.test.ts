// The small pieces the end-to-end tests pass through, each driven directly: the socket's frame
// reader, the config's value parsers, the safety rater's path classes, the disarmed form of a
// blocked command, the session client's reading of a request and the daemon's log.

import { execFileSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, statSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { lastLogLine } from "../src/client/connection.js";
import { commandOf, disarm } from "../src/shell/disarm.js";
import { parseRequest } from "../src/shell/contract.js";
import { DaemonLog, logExcerpt } from "../src/daemon/log.js";
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
    expect(parseSetting("daemon.memory_budget_mb", "auto", "f")).toBe("auto");
    expect(parseSetting("daemon.memory_budget_mb", 4096, "f")).toBe(4096);
    expect(() => parseSetting("daemon.memory_budget_mb", "lots", "f")).toThrow(
      /memory_budget_mb must be a whole number/,
    );
  });
});

describe("path classes", () => {
  const kind = (path: string, cwd?: string): PathKind => classifyPath(literal(path), cwd).kind;

  it("tells the places whose loss is a disaster from the ones that are not", () => {
    expect(kind("/")).toBe("root");
    expect(kind("/*")).toBe("root");
    expect(kind("~")).toBe("home");
    expect(kind(homedir())).toBe("home");
    expect(kind("/home/ada")).toBe("home");
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

  // Set here, not taken from the machine: CI images and containers put HOME under /tmp.
  it.each(["/tmp/u", "/var/tmp/u", "/home/ada", "/srv/users/ada"])("a home at %s is the home", (home) => {
    const saved = process.env.HOME;
    process.env.HOME = `${home}/`;
    try {
      expect(kind(home)).toBe("home");
      expect(kind(`${home}/`)).toBe("home");
      expect(kind(`${home}/*`)).toBe("home");
      expect(kind(`${home}/projects`)).toBe("in-home");
      expect(kind(`${home}/.ssh`)).toBe("in-home");
      expect(kind(`${home}/.cache/pip`)).toBe("temporary");
      expect(kind("/tmp/build")).toBe("temporary");
      expect(kind("/var/tmp/build")).toBe("temporary");
      expect(kind("projects", home)).toBe("local");
      expect(kind("./*", home)).toBe("home");
      // The folder that holds it takes it along, unless it is a system folder with rules of its own.
      if (home.startsWith("/tmp/")) expect(kind("/tmp")).toBe("home");
      if (home === "/home/ada") expect(kind("/home")).toBe("system");
    } finally {
      if (saved === undefined) delete process.env.HOME;
      else process.env.HOME = saved;
    }
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

describe("a blocked command in the buffer", () => {
  const commands = [
    "sudo rm -rf /",
    "rm -rf ~ $(touch x) > y; echo 'it''s' && a | b & c",
    'for f in *; do\n  rm -rf "$f" \\\n    --verbose\ndone',
    "printf '\\x41\\n' \"$HOME\"\tx",
    "echo ünïcödé ✓",
  ];

  it("comes back whole from either form, for another candidate", () => {
    for (const command of commands) {
      for (const comments of [true, false]) expect(commandOf(disarm(command, comments))).toBe(command);
    }
    expect(disarm("a\nb", true)).toBe("# a\n# b");
    expect(disarm("sudo rm -rf /", false)).toBe("_caro_blocked='sudo rm -rf /'");
    expect(disarm("echo 'x'\ny", false)).toBe("_caro_blocked=$'echo \\'x\\'\\ny'");
    expect(commandOf("ls -la")).toBe("ls -la");
  });

  it("is an assignment of exactly the command in zsh and bash, on one line, whatever their quoting options", () => {
    for (const command of commands) {
      const buffer = disarm(command, false);
      expect(buffer).not.toContain("\n");
      const zsh = (options: string) =>
        execFileSync("zsh", ["-f", "-c", `setopt ${options}; ${buffer}; print -rn -- "$_caro_blocked"`], {
          encoding: "utf8",
        });
      for (const options of ["no_rc_quotes", "rc_quotes csh_junkie_quotes"]) expect(zsh(options)).toBe(command);
      const bash = execFileSync("bash", ["--norc", "-c", `${buffer}; printf %s "$_caro_blocked"`], {
        encoding: "utf8",
      });
      expect(bash).toBe(command);
    }
  });
});

describe("a session request", () => {
  /** The fields after the folder: no history, no names (pure.test.ts reads those), then these. */
  const request = (cwd: string, ...fields: string[]) => `${[cwd, "0", "0", ...fields].join("\0")}\0`;

  it("is read when it is exactly one whole request of forwarded variables", () => {
    expect(
      parseRequest(request("/w", "2", "--", "list files", "2", "CARO_BACKEND=ollama", "PATH=/bin:/usr/bin")),
    ).toEqual({
      cwd: "/w",
      argv: ["--", "list files"],
      env: { CARO_BACKEND: "ollama", PATH: "/bin:/usr/bin" },
      history: [],
      names: [],
    });
    expect(parseRequest(request("/", "0", "0"))).toEqual({ cwd: "/", argv: [], env: {}, history: [], names: [] });
  });

  it("is refused when anything is off: a field more or less, a variable not forwarded or given twice", () => {
    // A NUL in the buffer would shift every field after it: each such shift is refused.
    const shifted = request("/w", "2", "--", "delete it", "CARO_CONFIG=/tmp/evil.toml", "1", "HOME=/h");
    const crafted = request("/w", "2", "--", "delete it", "1", "CARO_CONFIG=/tmp/evil.toml", "1", "HOME=/h");
    for (const bad of [
      shifted,
      crafted,
      request("/w", "2", "--", "x", "1", "HOME=/h", "CARO_CONFIG=/tmp/evil.toml"),
      request("/w", "2", "--", "x", "2", "HOME=/h"),
      request("/w", "2", "--", "x", "1", "LD_PRELOAD=/tmp/evil.so"),
      request("/w", "2", "--", "x", "2", "HOME=/a", "HOME=/b"),
      request("/w", "2", "--", "x", "1", "=x"),
      request("/w", "2", "--", "x", "1", "HOME"),
      request("/w", "3", "--", "x"),
      request("relative", "1", "x", "0"),
      request("/w", "-1", "0"),
      request("/w", "1", "x", "0", "stray"),
      `${request("/w", "1", "x", "0")}trailing`,
      "",
    ])
      expect(parseRequest(bad)).toBeNull();
  });
});

describe("the daemon's log", () => {
  it("keeps no secret a model or an error quoted", () => {
    // The log masks through the one redaction caro has (src/privacy/redact.ts), inside its excerpt.
    const leaks: [string, string][] = [
      [
        "curl -H 'Authorization: Bearer abc.DEF-123_xyz' https://api",
        "curl -H 'Authorization: Bearer [redacted]' https://api",
      ],
      ["git clone https://ada:hunter2@git.example.com/r.git", "git clone https://ada:[redacted]@git.example.com/r.git"],
      ["https://ghp_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@github.com/x", "https://ghp_[redacted]@github.com/x"],
      ["export OPENAI_API_KEY=sk-proj-abcdefghijklmnopqrstuv", "export OPENAI_API_KEY=sk-proj-[redacted]"],
      ['{"api_key": "k3y-v4lue", "password":"pw"}', '{"api_key": "[redacted]", "password":"[redacted]"}'],
      ["aws AKIAABCDEFGHIJKLMNOP x", "aws AKIA[redacted] x"],
    ];
    for (const [text, masked] of leaks) expect(logExcerpt(text, 200)).toBe(masked);
    // Words, paths and numbers stay.
    const plain = "answered request 12 in 340 ms (/home/ada/.cache/caro/models/qwen2.5-coder-1.5b.gguf)";
    expect(logExcerpt(plain, 200)).toBe(plain);
    expect([...logExcerpt(`the model said: ${"x ".repeat(500)}`)].length).toBeLessThanOrEqual(160);
  });

  it("stays under its bound through a soak, the older part kept in daemon.log.1", () => {
    const dir = mkdtempSync(join(tmpdir(), "caro-log-"));
    const path = join(dir, "daemon.log");
    const fd = openSync(path, "a", 0o600);
    const max = 4096;
    const log = new DaemonLog(fd, path, max);
    let rotations = 0;
    let last = 0;
    for (let i = 0; i < 2000; i++) {
      log.write(`answered request ${i} in ${i % 97} ms (${"y".repeat(i % 150)})`);
      const size = statSync(path).size;
      if (size < last) rotations++;
      last = size;
      expect(size).toBeLessThanOrEqual(max);
    }
    closeSync(fd);
    expect(rotations).toBeGreaterThan(50);
    expect(statSync(`${path}.1`).size).toBeLessThanOrEqual(max);
    expect(statSync(`${path}.1`).mode & 0o777).toBe(0o600);
    expect(lastLogLine(path)).toMatch(/answered request 1999 in/);
  });

  it("is read from its end for the last line, however long it grew", () => {
    const path = join(mkdtempSync(join(tmpdir(), "caro-log-")), "daemon.log");
    writeFileSync(
      path,
      `${"an old line\n".repeat(500_000)}caro: cannot load the config\ncaro: run again with --verbose\n`,
    );
    expect(lastLogLine(path)).toBe("caro: cannot load the config");
    expect(lastLogLine(join(path, "missing"))).toBe("");
  });
});
