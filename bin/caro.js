#!/usr/bin/env node
// CommonJS (bin/package.json says so): a process whose first module is an ES module starts Node's
// ES module loader, about 7 ms of every `caro` command's start. The command line's code is in
// CommonJS chunks too (dist/cjs/, see rolldown.config.mjs), the session client's included.
"use strict";

const { join } = require("node:path");
const ROOT = join(__dirname, "..");

/** Built code; a checkout that was never built gets one line that says how, not a stack trace. */
function load(path) {
  const file = join(ROOT, path);
  try {
    return require(file);
  } catch (error) {
    // This file itself, quoted: not a module it requires, which Node's message names too.
    if (error?.code !== "MODULE_NOT_FOUND" || !String(error.message).includes(`'${file}'`)) throw error;
    process.stderr.write(`caro: ${path} is missing: run npm run build in ${ROOT}\n`);
    return process.exit(1);
  }
}

async function run() {
  // The shell widget's client runs on every Ctrl-G: it skips the CLI and loads only the socket client.
  if (process.argv[2] === "widget") {
    const { widget } = load("dist/cjs/widget.cjs");
    process.exitCode = await widget(process.argv.slice(3));
  } else if (process.argv[2] === "session") {
    // The widget's long-lived client for one shell session (src/shell/session.ts).
    const { session } = load("dist/cjs/session.cjs");
    process.exitCode = await session(process.argv.slice(3));
  } else {
    // Wired before the CLI's modules load (a few hundred ms on a busy machine): a Ctrl-C that early
    // would otherwise kill caro by signal instead of ending it like any later one, with exit 130.
    const interrupt = new AbortController();
    const onInterrupt = () => interrupt.abort();
    process.on("SIGINT", onInterrupt);
    const { main } = load("dist/cjs/main.cjs");
    process.exitCode = await main(process.argv.slice(2), interrupt);
    // Done: a Ctrl-C while the process winds down may end it at once.
    process.off("SIGINT", onInterrupt);
  }
}

run();
