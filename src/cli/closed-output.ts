import { writeSync } from "node:fs";

/** Exit status for output whose reader went away: 128 + SIGPIPE, what a shell reports for ls or git there. */
const CLOSED_OUTPUT_EXIT = 141;

// The command line writes with writeSync on the file descriptors, not through process.stdout and
// process.stderr: the first touch of either loads Node's stream code, about 4 ms of a command that
// prints one line (a quarter of what `caro --version` may add to Node's start). The writes are
// synchronous, as Node's own are to files, pipes and terminals on Linux, so lines keep their order.

const pause = new Int32Array(new SharedArrayBuffer(4));

function writeAll(fd: number, text: string): void {
  let bytes = Buffer.from(text);
  while (bytes.length > 0) {
    try {
      bytes = bytes.subarray(writeSync(fd, bytes));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // A pipe another program set non-blocking, and full: its reader is slow, not gone.
      if (code === "EAGAIN") Atomics.wait(pause, 0, 0, 1);
      else if (code === "EPIPE") process.exit(CLOSED_OUTPUT_EXIT);
      else throw error;
    }
  }
}

/** Writes to stdout, whole; a reader that went away ends caro with 141, as `caro … | head -1` expects. */
export function writeOut(text: string): void {
  writeAll(1, text);
}

/** Writes to stderr, whole, the same way. */
export function writeErr(text: string): void {
  writeAll(2, text);
}

/**
 * `caro models list | head -1`: once head has its line and leaves, caro ends quietly, as ls or git do.
 * They die of SIGPIPE; Node ignores that signal, so the failed write comes as an EPIPE error instead,
 * which would otherwise surface as a stack trace. caro's own writes go through writeOut and writeErr;
 * this covers a stream a library opens, when it first does, so a command that never uses one does
 * not load the stream code for it.
 */
export function endQuietlyWhenOutputCloses(): void {
  for (const name of ["stdout", "stderr"] as const) {
    const open = Object.getOwnPropertyDescriptor(process, name)?.get;
    if (!open) continue;
    Object.defineProperty(process, name, {
      configurable: true,
      enumerable: true,
      get() {
        const stream = open.call(process) as NodeJS.WriteStream;
        Object.defineProperty(process, name, { configurable: true, enumerable: true, value: stream });
        stream.on("error", (error: NodeJS.ErrnoException) => {
          if (error.code === "EPIPE") process.exit(CLOSED_OUTPUT_EXIT);
          throw error;
        });
        return stream;
      },
    });
  }
}
