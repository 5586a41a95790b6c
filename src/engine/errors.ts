// Errors as data: a user-caused error carries a machine-readable `code` (what went wrong),
// an optional `path` (the file, config field or argument it concerns) and, when it wraps
// another error, that error as `cause`. Callers branch on `code`, never on message text.

/** What kind of user-caused error this is. */
export type ErrorCode =
  | 'invalid-option' // an option, flag or config value is out of range, of the wrong type or unknown
  | 'invalid-config' // a configuration file as a whole does not validate
  | 'invalid-input' // data given to a function (shape, dtype, NaN, empty mask) is not usable
  | 'bad-file' // a file is unreadable, corrupt or not of the expected format
  | 'not-found' // a file, folder, case or model named by the user does not exist
  | 'conflict' // the request clashes with what is there (a run folder in use, a name taken)
  | 'diverged' // training produced a non-finite loss
  | 'engine' // libtorch refused an operation (see TorchError)
  | 'unsupported' // valid, but this build or machine cannot do it
  | 'distributed' // a peer process did not come, died or timed out
  | 'interrupted' // stopped on request before the work was done (resumable)
  | 'failed'; // anything else the user can fix, named in the message

export interface ErrorDetails {
  /** Default 'failed'. */
  code?: ErrorCode;
  /** The file, config path (`config.loss.options.beta`) or argument concerned. */
  path?: string;
  /** The error this one wraps. */
  cause?: unknown;
}

/** An error the user can cause (bad option, bad file, bad shape): the CLI prints its message without a stack. */
export class ComboSegError extends Error {
  override name = 'ComboSegError';
  readonly code: ErrorCode;
  readonly path: string | undefined;

  constructor(message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = details.code ?? 'failed';
    this.path = details.path;
  }

  /** This error's data with `message` replaced, keeping code and path and wrapping this error as the cause. */
  rewrap(message: string, details: ErrorDetails = {}): ComboSegError {
    return new ComboSegError(message, { code: this.code, path: this.path, ...details, cause: this });
  }
}

/** An error raised inside libtorch (shape mismatch, bad dtype...), carrying libtorch's own message. */
export class TorchError extends Error {
  override name = 'TorchError';
  readonly code: ErrorCode = 'engine';
}

/** Re-throws libtorch's errors as `TorchError` with the op that raised them; anything else unchanged. */
export function rethrowNative(e: unknown, where: string): never {
  if (e instanceof Error && e.name === 'TorchError') throw new TorchError(`${where}: ${e.message}`, { cause: e });
  throw e;
}

/** Whether the user can act on this error (a ComboSegError, or libtorch refusing an op). */
export function isUserError(e: unknown): e is ComboSegError | TorchError {
  return e instanceof ComboSegError || e instanceof TorchError || (e instanceof Error && e.name === 'TorchError');
}
