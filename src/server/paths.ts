// Every path a client names is relative to the served folder and must stay
// inside it: no absolute paths, no `..`, no symbolic link that leads out.
import { existsSync, realpathSync } from 'node:fs';
import { isAbsolute, join, normalize, relative, sep } from 'node:path';
import { HttpError } from './http.js';

/** The absolute path of `rel` inside `root` (itself a real path); 403 if it would leave root, 404 if absent. */
export function resolveInside(root: string, rel: string): string {
  if (typeof rel !== 'string' || rel.includes('\0')) throw new HttpError(400, 'bad path');
  const clean = normalize(rel.replace(/\\/g, '/'));
  if (isAbsolute(rel) || clean === '..' || clean.startsWith(`..${sep}`) || clean.split(sep).includes('..')) {
    throw new HttpError(403, `path '${rel}' leaves the served folder`);
  }
  const abs = join(root, clean);
  if (!existsSync(abs)) throw new HttpError(404, `no such file or folder: '${rel}'`);
  const real = realpathSync(abs);
  if (real !== root && !real.startsWith(root + sep)) throw new HttpError(403, `path '${rel}' leaves the served folder`);
  return real;
}

/** `abs` as a path relative to root, with forward slashes (how the client names it). */
export const relativeTo = (root: string, abs: string): string => relative(root, abs).split(sep).join('/');
