#!/usr/bin/env node
// The shell widget's client runs on every Ctrl-G: it skips the CLI and loads only the socket client.
if (process.argv[2] === "widget") {
  const { widget } = await import("../dist/client/widget.js");
  process.exitCode = await widget(process.argv.slice(3));
} else {
  const { main } = await import("../dist/cli/main.js");
  process.exitCode = await main(process.argv.slice(2));
}
