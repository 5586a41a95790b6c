import { existsSync, readFileSync } from 'node:fs';
import { ComboSegError } from '../engine/errors.js';

/** Reads a JSON file given on the command line, with one clear error for a missing or malformed file. */
export function readJsonFile(path: string): unknown {
  if (!existsSync(path)) throw new ComboSegError(`${path}: no such file`, { code: 'not-found', path });
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new ComboSegError(`${path}: not valid JSON (${(e as Error).message})`, { code: 'bad-file', path, cause: e });
  }
}
