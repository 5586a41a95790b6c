import { native } from './native.js';

/** Runs fn with gradient recording off (restored afterwards, also on throw). Grad mode is per thread. */
export function noGrad<T>(fn: () => T): T {
  const prev = native.isGradEnabled();
  native.setGradEnabled(false);
  try {
    return fn();
  } finally {
    native.setGradEnabled(prev);
  }
}

/** Runs fn with gradient recording on (inside a noGrad, for example). */
export function enableGrad<T>(fn: () => T): T {
  const prev = native.isGradEnabled();
  native.setGradEnabled(true);
  try {
    return fn();
  } finally {
    native.setGradEnabled(prev);
  }
}

export function isGradEnabled(): boolean {
  return native.isGradEnabled();
}
