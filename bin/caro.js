#!/usr/bin/env node
/** The built code; a checkout that was never built gets one line that says how, not a stack trace. */
async function load(path) {
  try {
    return await import(path);
  } catch (error) {
    const missing = new URL(path, import.meta.url).pathname;
    if (error?.code !== "ERR_MODULE_NOT_FOUND" || !String(error.message).includes(`'${missing}'`)) throw error;
    const root = new URL("..", import.meta.url).pathname;
    process.stderr.write(`caro: ${root}dist/ is missing: run npm run build in ${root}\n`);
    return process.exit(1);
  }
}

// The shell widget's client runs on every Ctrl-G: it skips the CLI and loads only the socket client.
if (process.argv[2] === "widget") {
  const { widget } = await load("../dist/shell/widget.js");
  process.exitCode = await widget(process.argv.slice(3));
} else if (process.argv[2] === "session") {
  // The widget's long-lived client for one shell session (src/shell/session.ts).
  const { session } = await load("../dist/shell/session.js");
  process.exitCode = await session(process.argv.slice(3));
} else {
  // Wired before the CLI's modules load (a few hundred ms on a busy machine): a Ctrl-C that early
  // would otherwise kill caro by signal instead of ending it like any later one, with exit 130.
  const interrupt = new AbortController();
  const onInterrupt = () => interrupt.abort();
  process.on("SIGINT", onInterrupt);
  const { main } = await load("../dist/cli/main.js");
  process.exitCode = await main(process.argv.slice(2), interrupt);
  // Done: a Ctrl-C while the process winds down may end it at once.
  process.off("SIGINT", onInterrupt);
}
