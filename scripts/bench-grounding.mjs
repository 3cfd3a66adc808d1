// npm run bench -- --grounding: what grounding (issue 18) costs a warm Ctrl-G with the 1.5B shape.
// Grounding off (no tool lines, no folder, no git, no checks) and on (the default [context]) each
// have a daemon of their own, and answer each request in turn, the order swapped every request, so
// whatever else the machine does falls on both alike. Rows:
//   - warm, the same folder as the request before: target on <= 1.15x off at p50;
//   - the first request in a folder the daemon has not seen (its folder lines are new tokens), for
//     the default entries and for each count in --entries (the budget's choice);
//   - the prefix cache with grounding on: the same requests with `prefix_cache = false`, >= 3x;
//   - the checks' retries: how often one happened above, and, in a row of their own, what one
//     costs, forced by a PATH without the programs the bench model writes.
// The bench model is steered towards programs every system has (scripts/make-gguf.mjs, --steer
// programs), so its answers pass the checks and the overhead rows measure caro, not its luck.

import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { openSession } from "./bench-session.mjs";

const ROOT = new URL("..", import.meta.url).pathname;
const CARO = join(ROOT, "bin", "caro.js");
const MAX_COMMAND_LENGTH = 24;
/** The programs of make-gguf.mjs's steering that are not shell builtins: hidden, every answer fails a check. */
const STEERED_PROGRAMS = ["ls", "date", "uname", "whoami", "id", "basename", "dirname", "realpath"];
const OFF = "[context]\ntools = false\nentries = 0\ngit = false\nchecks = false\n";

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

function option(name, fallback) {
  const at = process.argv.indexOf(`--${name}`);
  return at === -1 ? fallback : process.argv[at + 1];
}

/** A folder as a project looks: project files, folders, files, hidden ones, in a git repository. */
function project(dir, branch) {
  mkdirSync(dir, { recursive: true });
  for (const name of ["package.json", "Makefile", "README.md", "LICENSE", "index.js", "tsconfig.json", ".gitignore"])
    writeFileSync(join(dir, name), "");
  for (const name of ["src", "test", "docs", "scripts", "node_modules", ".git"]) mkdirSync(join(dir, name));
  writeFileSync(join(dir, ".git", "HEAD"), `ref: refs/heads/${branch}\n`);
  return dir;
}

/** A PATH of one folder holding every program of `path` but `hidden`: the tool lines stay the same. */
function pathWithout(path, hidden, into) {
  mkdirSync(into);
  for (const dir of path.split(delimiter)) {
    let names;
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names) {
      if (hidden.includes(name)) continue;
      try {
        symlinkSync(join(dir, name), join(into, name));
      } catch {
        // An earlier folder of PATH had it: that one wins, as in a shell.
      }
    }
  }
  return into;
}

/** The daemon's last answer from its log: prompt tokens evaluated, a check's retry. */
function lastAnswer(h) {
  const last = readFileSync(join(h.dir, "state", "caro", "daemon.log"), "utf8")
    .trim()
    .split("\n")
    .at(-1);
  const m = /\(\w+, (\d+) prompt \+ (\d+) generated tokens(?:, \d+ threads)?(?:, (\d+) check retry)?\)$/.exec(last);
  if (!m) throw new Error(`no token counts in the daemon log: ${last}`);
  return { prompt_tokens: Number(m[1]), generated_tokens: Number(m[2]), check_retries: Number(m[3] ?? 0) };
}

export async function groundingBench({ modelPath, home, timed, requests, log }) {
  const threads = availableParallelism();
  const runs = Number(option("runs", 10));
  const folders = Number(option("folders", 6));
  const uncachedRuns = Number(option("uncached", 2));
  const forcedRuns = Number(option("forced", 4));
  // The folder's budget: the default's first request in a new folder against these counts'.
  const sweep = String(option("entries", "0,4")).split(",").filter(Boolean).map(Number);
  const list = requests();
  const loadAtStart = loadavg();
  const work = mkdtempSync(join(tmpdir(), "caro-bench-grounding-"));
  // One cache for every daemon: those whose fixed prompt is the same share its saved evaluation.
  const cache = join(work, "cache");
  const base =
    `backend = "embedded"\nmax_command_length = ${MAX_COMMAND_LENGTH}\n[backends.embedded]\nmodel = ` +
    `"${modelPath}"\nthreads = ${threads}\n`;
  const here = project(join(work, "project"), "main");
  const daemons = [];
  const shells = [];
  /** A session client of its own for `env`, beside the others. */
  const session = (env) => {
    const shell = spawn("sleep", ["infinity"], { stdio: "ignore" });
    shells.push(shell);
    return openSession(CARO, env, "bash", shell.pid);
  };
  const daemon = async (label, extra) => {
    const h = home(base + extra);
    h.env.XDG_CACHE_HOME = cache;
    log(`starting the ${label} daemon…`);
    await timed(["--json", "warm up the model and its prefix"], h.env);
    const d = { label, h, session: await session(h.env) };
    daemons.push(d);
    // The session client's first request, and the daemon's first in this folder: not what is measured.
    await ask(d, "warm up the session client", here);
    return d;
  };
  const ask = async (d, request, cwd) => {
    const reply = await d.session.ask(["--", request], cwd);
    if (reply.status !== 0) throw new Error(`bench: the widget failed (${reply.status}): ${reply.output}`);
    return { request, ms: reply.ms, ...lastAnswer(d.h) };
  };
  /** Each daemon answers `request` in `cwd`, the order turned by `turn` so that none always goes first. */
  const eachInTurn = async (group, request, cwd, turn) => {
    const results = new Map();
    for (let i = 0; i < group.length; i++) {
      const d = group[(i + turn) % group.length];
      results.set(d, await ask(d, request, cwd));
    }
    return group.map((d) => results.get(d));
  };
  try {
    const off = await daemon("grounding off", OFF);
    const on = await daemon("grounding on", "");
    const swept = [];
    for (const entries of sweep) swept.push(await daemon(`entries = ${entries}`, `[context]\nentries = ${entries}\n`));

    log(`1/4 ${runs} warm requests in one folder, off and on in turn…`);
    const warm = { off: [], on: [] };
    for (let i = 0; i < runs; i++) {
      const [a, b] = await eachInTurn([off, on], list[i % list.length], here, i);
      warm.off.push(a);
      warm.on.push(b);
    }

    log(`2/4 the first request in each of ${folders} new folders…`);
    const first = new Map([off, on, ...swept].map((d) => [d, []]));
    for (let i = 0; i < folders; i++) {
      // Every folder's path is as long as the others': only its lines differ between daemons.
      const dir = project(join(work, `folder-${String(i).padStart(2, "0")}`), `feature-${i}`);
      const group = [off, on, ...swept];
      const answers = await eachInTurn(group, list[(runs + i) % list.length], dir, i);
      for (const [j, d] of group.entries()) first.get(d).push(answers[j]);
    }

    log(`3/4 the checks' retry: ${forcedRuns} requests from a PATH without the programs the model writes…`);
    const forcedEnv = { ...on.h.env, PATH: pathWithout(process.env.PATH, STEERED_PROGRAMS, join(work, "bin")) };
    const forcedSession = await session(forcedEnv);
    const forced = { on: [], retried: [] };
    try {
      const forcer = { ...on, session: forcedSession };
      await ask(on, "back to the project folder", here);
      for (let i = 0; i < forcedRuns; i++) {
        // The same request, unforced then forced: what the retry adds, side by side.
        const request = `${list[i % list.length]} again`;
        const [plain, retried] = await eachInTurn([on, forcer], request, here, i);
        forced.on.push(plain);
        forced.retried.push(retried);
      }
    } finally {
      forcedSession.close();
    }

    log(`4/4 the prefix cache with grounding on: ${uncachedRuns} requests with prefix_cache = false…`);
    const uncached = await daemon("grounding on, prefix cache off", "prefix_cache = false\n");
    const noCache = [];
    for (let i = 0; i < uncachedRuns; i++) noCache.push(await ask(uncached, `${list[i % list.length]} uncached`, here));

    const p50 = (rows) => median(rows.map((r) => r.ms));
    const tokens = (rows) => median(rows.map((r) => r.prompt_tokens));
    const retries = (rows) => rows.reduce((n, r) => n + r.check_retries, 0);
    const results = {
      date: new Date().toISOString(),
      machine: { cores: threads, node: process.version, load_average_at_start: loadAtStart },
      model: modelPath,
      runs: { warm: runs, folders, uncached: uncachedRuns, forced: forcedRuns },
      warm: { off: warm.off, on: warm.on },
      first_in_folder: Object.fromEntries([...first].map(([d, rows]) => [d.label, rows])),
      forced_retry: forced,
      prefix_cache_off: noCache,
    };
    const ratios = {
      warm_on_vs_off: p50(warm.on) / p50(warm.off),
      first_in_folder_on_vs_off: p50(first.get(on)) / p50(first.get(off)),
      first_in_folder_swept_vs_off: Object.fromEntries(
        swept.map((d) => [d.label, p50(first.get(d)) / p50(first.get(off))]),
      ),
      // Against every warm request's p50: a couple of uncached requests take the better part of a minute.
      prefix_cache_speedup_on: p50(noCache) / p50(warm.on),
      forced_retry_vs_none: p50(forced.retried) / p50(forced.on),
    };
    const counted = [...warm.on, ...first.get(on)];
    results.retries = {
      overhead_rows: { retried: retries(counted), answers: counted.length },
      forced_row: { retried: retries(forced.retried), answers: forced.retried.length },
    };
    results.ratios = ratios;
    results.targets = {
      warm_on_within_1_15x_off: ratios.warm_on_vs_off <= 1.15,
      prefix_cache_at_least_3x: ratios.prefix_cache_speedup_on >= 3,
    };
    results.machine.load_average_at_end = loadavg();
    mkdirSync(join(ROOT, "bench"), { recursive: true });
    writeFileSync(join(ROOT, "bench", "grounding-results.json"), `${JSON.stringify(results, null, 2)}\n`);

    const ms = (x) => `${x.toFixed(0)} ms`;
    const row = (a, b, c = "") => console.log(`${a.padEnd(58)}${b.padEnd(30)}${c}`);
    const verdict = (met) => (met ? "met" : "MISSED");
    console.log(`\ncaro grounding benchmark · 1.5B shape · ${threads} threads · ${results.date}\n`);
    row("measure (p50; prompt tokens evaluated, p50)", "on / off", "target");
    row(
      `warm, same folder (${runs} requests)`,
      `${ms(p50(warm.on))} / ${ms(p50(warm.off))} (${tokens(warm.on)} / ${tokens(warm.off)} tok)`,
    );
    row(
      "  on / off",
      `${ratios.warm_on_vs_off.toFixed(2)}x`,
      `<= 1.15x  ${verdict(results.targets.warm_on_within_1_15x_off)}`,
    );
    const firstRow = (d) =>
      row(
        `first request in a new folder, ${d.label} (${folders})`,
        `${ms(p50(first.get(d)))} / ${ms(p50(first.get(off)))} (${tokens(first.get(d))} / ` +
          `${tokens(first.get(off))} tok)`,
        `${(p50(first.get(d)) / p50(first.get(off))).toFixed(2)}x`,
      );
    firstRow(on);
    for (const d of swept) firstRow(d);
    row(
      `prefix cache off, grounding on (${uncachedRuns}) / warm on`,
      `${ms(p50(noCache))} / ${ms(p50(warm.on))}`,
      `${ratios.prefix_cache_speedup_on.toFixed(1)}x  >= 3x ${verdict(results.targets.prefix_cache_at_least_3x)}`,
    );
    row(
      "check retries in the rows above (on)",
      `${results.retries.overhead_rows.retried} of ${results.retries.overhead_rows.answers} answers`,
    );
    row(
      `a retry forced (PATH without the model's programs) / none`,
      `${ms(p50(forced.retried))} / ${ms(p50(forced.on))} (${results.retries.forced_row.retried} of ` +
        `${forced.retried.length} retried)`,
      `${ratios.forced_retry_vs_none.toFixed(2)}x`,
    );
    console.log("\nwritten to bench/grounding-results.json");
  } finally {
    for (const d of daemons) {
      d.session.close();
      await timed(["daemon", "stop"], d.h.env).catch(() => undefined);
      rmSync(d.h.dir, { recursive: true, force: true });
    }
    for (const shell of shells) shell.kill();
    rmSync(work, { recursive: true, force: true });
  }
}
