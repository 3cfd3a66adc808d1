// npm run bench, the keystroke rows (issue 13 C): Ctrl-G to the new buffer on screen, from the
// keyboard, in real zsh, bash and fish under tmux, with an Ollama stand-in that answers at once;
// against a key bound to a widget that runs `node -e 0` and then sets the buffer, timed the same way
// in the same shell. Keys are pressed and the screen read through one tmux control-mode client. Targets: zsh and bash
// <= 0.5x node -e 0, fish <= 1x.
// `node scripts/bench-keystroke.mjs` runs these rows alone (after npm run build).

import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { instantOllama } from "./instant-ollama.mjs";

const RUNS = 15;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const quote = (text) => `'${text.replace(/'/g, `'\\''`)}'`;

// Each shell: caro loaded, and Ctrl-N bound to a widget that runs node -e 0 then shows a marker.
function setup(shell, init, node) {
  if (shell === "zsh")
    return `PS1='$ '\neval "$(${init} init zsh)"\n_b_node() { ${node} -e 0; BUFFER="node-done-$1"; }
_b_n() { _b_node $((++_b_count)); }; _b_count=0; zle -N _b_n; bindkey '^N' _b_n\n`;
  if (shell === "bash")
    return `PS1='$ '\neval "$(${init} init bash)"\n_b_count=0
_b_n() { ${node} -e 0; _b_count=$((_b_count + 1)); READLINE_LINE="node-done-$_b_count"; }
bind -x '"\\C-n": _b_n'\n`;
  return `function fish_prompt; echo -n '$ '; end\nfunction fish_greeting; end\n${init} init fish | source
set -g _b_count 0
function _b_n; ${node} -e 0; set -g _b_count (math $_b_count + 1); commandline -r node-done-$_b_count; end
bind \\cn _b_n\n`;
}

const COMMAND = { zsh: "zsh -f", bash: "bash --norc --noprofile", fish: "fish --no-config" };

/**
 * A tmux control-mode client (`tmux -C`): keys go in and screens come back over one pipe, so
 * neither pressing a key nor looking at the screen starts a tmux process, whose few milliseconds
 * would count in every row and blur the ratios. It is told each time the pane writes something,
 * and looks at the screen then.
 */
class TmuxControl {
  constructor(socket, session) {
    this.session = session;
    this.child = spawn("tmux", ["-L", socket, "-C", "attach", "-t", session], { stdio: ["pipe", "pipe", "inherit"] });
    this.replies = [];
    this.block = null;
    this.wrote = null;
    let pending = "";
    this.child.stdout.setEncoding("utf8").on("data", (data) => {
      pending += data;
      for (let newline = pending.indexOf("\n"); newline !== -1; newline = pending.indexOf("\n")) {
        this.line(pending.slice(0, newline));
        pending = pending.slice(newline + 1);
      }
    });
  }

  line(text) {
    // Our commands' replies are the blocks flagged 1; the attach's own is not ours.
    if (this.block === null && /^%begin \d+ \d+ 1$/.test(text)) this.block = [];
    else if (this.block !== null && /^%(end|error) \d+ \d+ 1$/.test(text)) {
      const lines = this.block;
      this.block = null;
      this.replies.shift()?.(lines);
    } else if (this.block !== null) this.block.push(text);
    else if (text.startsWith("%output ")) this.wrote?.();
  }

  command(text) {
    return new Promise((resolve) => {
      this.replies.push(resolve);
      this.child.stdin.write(`${text}\n`);
    });
  }

  keys(...keys) {
    return this.command(`send-keys -t ${this.session} ${keys.join(" ")}`);
  }

  async screen() {
    return (await this.command(`capture-pane -p -t ${this.session}`)).join("\n");
  }

  /** Resolves once `text` is on the screen: looked for at once and after each write to the pane. */
  async until(text, what) {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const wrote = new Promise((resolve) => {
        this.wrote = resolve;
        setTimeout(resolve, 100);
      });
      const screen = await this.screen();
      if (screen.includes(text)) return;
      if (Date.now() > deadline) throw new Error(`bench: ${what} never showed ${text}:\n${screen}`);
      await wrote;
    }
  }

  close() {
    this.child.stdin.end();
  }
}

async function shellRows(shell, env, root) {
  const caroBin = join(root, "bin", "caro.js");
  const socket = `caro-bench-${process.pid}-${shell}`;
  const tmux = (args) => execFileSync("tmux", ["-L", socket, "-f", "/dev/null", ...args], { encoding: "utf8" });
  const file = join(env.HOME, `setup.${shell}`);
  writeFileSync(file, setup(shell, `${quote(process.execPath)} ${quote(caroBin)}`, quote(process.execPath)));
  const exports = Object.entries(env).map(([k, v]) => `${k}=${quote(v)}`);
  tmux(["new-session", "-d", "-s", "b", "-x", "160", "-y", "40", `env -i ${exports.join(" ")} ${COMMAND[shell]}`]);
  const control = new TmuxControl(socket, "b");
  try {
    await sleep(300);
    await control.keys("-l", quote(`source ${file}`));
    await control.keys("Enter");
    await sleep(500);
    const caro = [];
    const node = [];
    // The first Ctrl-G starts the session client (and the daemon): a shell's first keystroke, not timed.
    for (let i = -1; i < RUNS; i++) {
      await control.keys("C-u");
      await control.keys("-l", `req${shell}${i + 1}x`);
      await sleep(100);
      let start = performance.now();
      await control.keys("C-g");
      await control.until(`echo answer-req${shell}${i + 1}x`, shell);
      if (i >= 0) caro.push(performance.now() - start);
      await sleep(200);
      await control.keys("C-u");
      await sleep(100);
      start = performance.now();
      await control.keys("C-n");
      await control.until(`node-done-${i + 2}`, shell);
      if (i >= 0) node.push(performance.now() - start);
    }
    return { caro, node };
  } finally {
    control.close();
    tmux(["kill-server"]);
  }
}

/** Runs the keystroke rows, prints them, and writes bench/keystroke.json. */
export async function keystrokeBench(root) {
  const server = await instantOllama();
  const dir = mkdtempSync(join(tmpdir(), "caro-bench-keys-"));
  mkdirSync(join(dir, ".config", "caro"), { recursive: true });
  mkdirSync(join(dir, "run"), { mode: 0o700 });
  writeFileSync(
    join(dir, ".config", "caro", "config.toml"),
    `backend = "ollama"\n[backends.ollama]\nhost = "http://127.0.0.1:${server.port}"\n`,
  );
  const env = {
    HOME: dir,
    XDG_CONFIG_HOME: join(dir, ".config"),
    XDG_CACHE_HOME: join(dir, ".cache"),
    XDG_RUNTIME_DIR: join(dir, "run"),
    XDG_STATE_HOME: join(dir, "state"),
    PATH: process.env.PATH,
    TERM: "screen",
    LANG: "C.UTF-8",
  };
  const rows = {};
  try {
    for (const shell of (process.env.BENCH_SHELLS ?? "zsh,bash,fish").split(",")) {
      process.stderr.write(`bench: keystroke, ${shell}…\n`);
      const { caro, node } = await shellRows(shell, env, root);
      rows[shell] = {
        ctrl_g_p50_ms: median(caro),
        node_e_0_p50_ms: median(node),
        ratio: median(caro) / median(node),
        target: shell === "fish" ? 1 : 0.5,
        ctrl_g_ms: caro,
        node_e_0_ms: node,
      };
    }
  } finally {
    execFileSync(process.execPath, [join(root, "bin", "caro.js"), "daemon", "stop"], { env, stdio: "ignore" });
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const row = (name, value, target) => console.log(`${name.padEnd(46)}${value.padEnd(26)}${target}`);
  console.log("\nCtrl-G from the keyboard (tmux), instant backend, p50 of", RUNS);
  for (const [shell, r] of Object.entries(rows)) {
    const met = r.ratio <= r.target ? "met" : "MISSED";
    row(
      `${shell}: Ctrl-G / node -e 0 widget`,
      `${r.ctrl_g_p50_ms.toFixed(0)} / ${r.node_e_0_p50_ms.toFixed(0)} ms`,
      "",
    );
    row(`  ratio`, `${r.ratio.toFixed(2)}x`, `<= ${r.target}x    ${met}`);
  }
  mkdirSync(join(root, "bench"), { recursive: true });
  writeFileSync(
    join(root, "bench", "keystroke.json"),
    `${JSON.stringify({ date: new Date().toISOString(), rows }, null, 2)}\n`,
  );
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) await keystrokeBench(new URL("..", import.meta.url).pathname);
