/** Exit status for output whose reader went away: 128 + SIGPIPE, what a shell reports for ls or git there. */
const CLOSED_OUTPUT_EXIT = 141;

/**
 * `caro models list | head -1`: once head has its line and leaves, caro ends quietly, as ls or git do.
 * They die of SIGPIPE; Node ignores that signal, so the failed write comes as an EPIPE error instead,
 * which would otherwise surface as a stack trace.
 */
export function endQuietlyWhenOutputCloses(): void {
  for (const stream of [process.stdout, process.stderr])
    stream.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "EPIPE") process.exit(CLOSED_OUTPUT_EXIT);
      throw error;
    });
}
