/**
 * Errors the user can fix (bad input files, bad options). The CLI prints `message` alone (no stack)
 * and exits with code 2. Everything else is a bug and keeps its stack.
 */
export class InputError extends Error {
  override readonly name = "InputError";
  /** Path of the offending field, e.g. `real.transitions[1][0]`; empty when the whole input is at fault. */
  readonly field: string;
  constructor(message: string, field = "") {
    super(message);
    this.field = field;
  }
}

/** Exit code for bad input (documented in the README). */
export const EXIT_BAD_INPUT = 2;
/** Exit code after SIGINT/SIGTERM. */
export const EXIT_INTERRUPTED = 130;
