"use strict";
// Floors for npm run bench -- --start: the least a `caro` process could cost for two of its rows,
// with caro's own chunks (dist/cjs/) but none of its command line, config or rater.
//   node scripts/start-floor.cjs ask <words>     connect to the daemon, ask, print the command
//   node scripts/start-floor.cjs parse <command> parse with caro's parser module, print the root's first type
// A `caro` row within 1.2x `node -e 0` needs its floor well under that.

const { readdirSync, writeSync } = require("node:fs");
const { join } = require("node:path");

const CHUNKS = join(__dirname, "..", "dist", "cjs");
function chunk(name) {
  const file = readdirSync(CHUNKS).find((entry) => entry.startsWith(`${name}-`));
  return require(join(CHUNKS, file));
}

async function ask(words) {
  const { connectToDaemon } = chunk("connection");
  const connection = await connectToDaemon({});
  const env = {};
  for (const name of ["PATH", "HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_RUNTIME_DIR", "XDG_STATE_HOME"])
    if (process.env[name] !== undefined) env[name] = process.env[name];
  connection.send({ t: "ask", id: 1, words, shell: "bash", cwd: process.cwd(), env, flags: {} });
  for (;;) {
    const message = await connection.next();
    if (message === null || message.t === "error") throw new Error(message?.message ?? "the daemon closed");
    if (message.t === "answer") {
      writeSync(1, `${message.answer.command}\n`);
      break;
    }
  }
  connection.close();
}

async function parse(command) {
  const { bashParser } = chunk("parser").parser_exports;
  const tree = (await bashParser()).parse(command);
  writeSync(1, `${tree.rootNode.child(0).type}\n`);
}

const [mode, text] = process.argv.slice(2);
(mode === "ask" ? ask(text) : parse(text)).catch((error) => {
  writeSync(2, `start-floor: ${error.message}\n`);
  process.exitCode = 1;
});
