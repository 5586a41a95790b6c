import { native } from './native.js';

/** Runs fn with gradient recording set to `on`, restoring the previous mode afterwards (also on throw). */
function withGradMode<T>(on: boolean, fn: () => T): T {
  const prev = native.isGradEnabled();
  native.setGradEnabled(on);
  try {
    return fn();
  } finally {
    native.setGradEnabled(prev);
  }
}

/** Runs fn with gradient recording off. Grad mode is per thread. */
export const noGrad = <T>(fn: () => T): T => withGradMode(false, fn);

/** Runs fn with gradient recording on (inside a noGrad, for example). */
export const enableGrad = <T>(fn: () => T): T => withGradMode(true, fn);

export function isGradEnabled(): boolean {
  return native.isGradEnabled();
}
