#!/usr/bin/env node
// V8 would compile tree-sitter's WASM parser twice, the second time optimised in the background,
// and hold the exit until that finished: about 2 s of CPU for a rating that takes a millisecond.
// The baseline compiler alone parses a command line just as fast for our purposes.
import { setFlagsFromString } from "node:v8";
setFlagsFromString("--liftoff-only");

// The shell widget's client runs on every Ctrl-G: it skips the CLI and loads only the socket client.
if (process.argv[2] === "widget") {
  const { widget } = await import("../dist/client/widget.js");
  process.exitCode = await widget(process.argv.slice(3));
} else {
  const { main } = await import("../dist/cli/main.js");
  process.exitCode = await main(process.argv.slice(2));
}
