// stdout carries the command alone, so `$(caro …)` and the shell widgets get exactly that;
// everything meant for the person goes to stderr.

export function say(line: string): void {
  process.stderr.write(`caro: ${line}\n`);
}

export function warn(line: string): void {
  process.stderr.write(`caro: warning: ${line}\n`);
}
