// Where the real volumes live, and a skip message when they are absent.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const SHARED_DATA = fileURLToPath(new URL('../../../shared/data/', import.meta.url));
export const hasSharedData = existsSync(SHARED_DATA);
export const skipWithoutData = hasSharedData
  ? false
  : `../shared/data is absent (expected at ${SHARED_DATA}); real-data tests skipped`;
