// npm run bench, the keystroke rows (issue 13 C): Ctrl-G to the new buffer on screen, from the
// keyboard, in real zsh, bash and fish under tmux, with an Ollama stand-in that answers at once;
// against a key bound to a widget that runs `node -e 0` and then sets the buffer, timed the same way
// in the same shell. Targets: zsh and bash <= 0.5x node -e 0, fish <= 1x.
// `node scripts/bench-keystroke.mjs` runs these rows alone (after npm run build).

import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";

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

async function shellRows(shell, env, root) {
  const caroBin = join(root, "bin", "caro.js");
  const socket = `caro-bench-${process.pid}-${shell}`;
  const tmux = (args) => execFileSync("tmux", ["-L", socket, "-f", "/dev/null", ...args], { encoding: "utf8" });
  const screen = () => tmux(["capture-pane", "-p", "-t", "b"]);
  const until = async (text) => {
    const deadline = Date.now() + 30_000;
    while (!screen().includes(text)) {
      if (Date.now() > deadline) throw new Error(`bench: ${shell} never showed ${text}:\n${screen()}`);
      await sleep(1);
    }
  };
  const file = join(env.HOME, `setup.${shell}`);
  writeFileSync(file, setup(shell, `${quote(process.execPath)} ${quote(caroBin)}`, quote(process.execPath)));
  const exports = Object.entries(env).map(([k, v]) => `${k}=${quote(v)}`);
  tmux(["new-session", "-d", "-s", "b", "-x", "160", "-y", "40", `env -i ${exports.join(" ")} ${COMMAND[shell]}`]);
  try {
    await sleep(300);
    tmux(["send-keys", "-t", "b", "-l", `source ${file}`]);
    tmux(["send-keys", "-t", "b", "Enter"]);
    await sleep(500);
    const caro = [];
    const node = [];
    // The first Ctrl-G starts the session client (and the daemon): a shell's first keystroke, not timed.
    for (let i = -1; i < RUNS; i++) {
      tmux(["send-keys", "-t", "b", "C-u"]);
      tmux(["send-keys", "-t", "b", "-l", `req${shell}${i + 1}x`]);
      await sleep(100);
      let start = performance.now();
      tmux(["send-keys", "-t", "b", "C-g"]);
      await until(`echo answer-req${shell}${i + 1}x`);
      if (i >= 0) caro.push(performance.now() - start);
      await sleep(200);
      tmux(["send-keys", "-t", "b", "C-u"]);
      await sleep(100);
      start = performance.now();
      tmux(["send-keys", "-t", "b", "C-n"]);
      await until(`node-done-${i + 2}`);
      if (i >= 0) node.push(performance.now() - start);
    }
    return { caro, node };
  } finally {
    tmux(["kill-server"]);
  }
}

/**
 * An Ollama stand-in on 127.0.0.1 that answers at once, `echo answer-<request>`: what is left of
 * a request's time is caro's own.
 */
export async function instantOllama() {
  const server = createServer(async (req, res) => {
    if (req.url === "/api/version") return res.end('{"version":"0.5.7"}');
    let body = "";
    for await (const chunk of req) body += chunk;
    const text = JSON.parse(body)
      .messages.at(-1)
      .content.replace(/^[\s\S]*request: /, "");
    res.end(
      `${JSON.stringify({ message: { content: JSON.stringify({ command: `echo answer-${text}` }) }, done: true })}\n`,
    );
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return server;
}

/** Runs the keystroke rows, prints them, and writes bench/keystroke.json. */
export async function keystrokeBench(root) {
  const server = await instantOllama();
  const dir = mkdtempSync(join(tmpdir(), "caro-bench-keys-"));
  mkdirSync(join(dir, ".config", "caro"), { recursive: true });
  mkdirSync(join(dir, "run"), { mode: 0o700 });
  writeFileSync(
    join(dir, ".config", "caro", "config.toml"),
    `backend = "ollama"\n[backends.ollama]\nhost = "http://127.0.0.1:${server.address().port}"\n`,
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
    for (const shell of ["zsh", "bash", "fish"]) {
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
