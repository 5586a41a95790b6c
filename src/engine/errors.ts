/** An error the user can cause (bad option, bad file, bad shape): the CLI prints its message without a stack. */
export class ComboSegError extends Error {
  override name = 'ComboSegError';
}

/** An error raised inside libtorch (shape mismatch, bad dtype...), carrying libtorch's own message. */
export class TorchError extends Error {
  override name = 'TorchError';
}

/** Re-throws libtorch's errors as `TorchError` with the op that raised them; anything else unchanged. */
export function rethrowNative(e: unknown, where: string): never {
  if (e instanceof Error && e.name === 'TorchError') throw new TorchError(`${where}: ${e.message}`);
  throw e;
}
