#!/usr/bin/env node
// The shell widget's client runs on every Ctrl-G: it skips the CLI and loads only the socket client.
if (process.argv[2] === "widget") {
  const { widget } = await import("../dist/client/widget.js");
  process.exitCode = await widget(process.argv.slice(3));
} else {
  // Wired before the CLI's modules load (a few hundred ms on a busy machine): a Ctrl-C that early
  // would otherwise kill caro by signal instead of ending it like any later one, with exit 130.
  const interrupt = new AbortController();
  const onInterrupt = () => interrupt.abort();
  process.on("SIGINT", onInterrupt);
  const { main } = await import("../dist/cli/main.js");
  process.exitCode = await main(process.argv.slice(2), interrupt);
  // Done: a Ctrl-C while the process winds down may end it at once.
  process.off("SIGINT", onInterrupt);
}
