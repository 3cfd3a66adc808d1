// Loaded with `node --import` before caro: says on stderr, as the process exits, how long it lived
// after main() returned and what was still keeping it alive then (timers, sockets), so a test can
// compare the daemon's path with --no-daemon's without timing the whole run.
// main() ends by taking its SIGINT listener off: that first removal marks its return.
let returnedAt = null;
let interruptedAt = null;
let resources = null;
process.on("SIGINT", () => {
  interruptedAt ??= performance.now();
});
const removeListener = process.removeListener;
process.removeListener = process.off = function (event, listener) {
  if (event === "SIGINT" && interruptedAt !== null && returnedAt === null) {
    returnedAt = performance.now();
    // Once main's caller has settled: what is left then holds the exit.
    setImmediate(() => {
      resources = process.getActiveResourcesInfo();
    });
  }
  return removeListener.call(this, event, listener);
};
process.on("exit", () => {
  const now = performance.now();
  const ms = (since) => (since === null ? null : Math.round(now - since));
  const report = { lingered_ms: ms(returnedAt), after_interrupt_ms: ms(interruptedAt), resources };
  process.stderr.write(`exit-probe ${JSON.stringify(report)}\n`);
});
