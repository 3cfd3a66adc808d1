// Every failure the user can cause or fix is one of these: the CLI prints the message as one line
// and exits with the code, and only --verbose shows a stack trace.

export class CaroError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.exitCode = exitCode;
  }
}

/** Bad flags, a missing request, an unknown subcommand: exit 2. */
export class UsageError extends CaroError {
  constructor(message: string) {
    super(message, 2);
  }
}

/** A config file that does not parse or holds a wrong value: exit 2. */
export class ConfigError extends CaroError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 2, options);
  }
}

/** A model that is missing, unreadable or not a GGUF: exit 1. */
export class ModelError extends CaroError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 1, options);
  }
}

/** A model that would not fit in the memory caro may use (the [daemon] budget, or what the machine has): exit 1. */
export class MemoryBudgetError extends CaroError {
  constructor(message: string) {
    super(message, 1);
  }
}

/** A backend that could not answer, or answered with something unusable: exit 1. */
export class BackendError extends CaroError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 1, options);
  }
}

/** The user pressed Ctrl-C: exit 130, as shells do for SIGINT. */
export class InterruptedError extends CaroError {
  constructor() {
    super("interrupted", 130);
  }
}

/**
 * A folder or socket caro must trust (the daemon's runtime folder) is not safe: another user could
 * stand behind it. Nothing is sent or started: exit 1.
 */
export class UnsafePathError extends CaroError {
  constructor(message: string) {
    super(message, 1);
  }
}

/** No daemon answers on the socket, and none was to be started: exit 3 from `caro daemon status`. */
export class DaemonNotRunningError extends CaroError {
  constructor() {
    super("the caro daemon is not running", 3);
  }
}

/** A daemon accepted the connection but did not say hello in time: stopped (SIGSTOP) or stuck. Exit 1. */
export class DaemonUnresponsiveError extends CaroError {
  constructor(message: string) {
    super(message, 1);
  }
}

/** A request longer than the model's context can hold: exit 2, like other input the user must change. */
export class RequestTooLongError extends CaroError {
  constructor(message: string) {
    super(message, 2);
  }
}

/** `caro -x` did not run the command: blocked by policy, declined, or nobody was there to say yes. Exit 1. */
export class NotRunError extends CaroError {
  constructor(message: string) {
    super(message, 1);
  }
}
