// Builds native/ with node-gyp unless the addon is newer than its sources.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const nativeDir = join(root, 'native');
const addon = join(nativeDir, 'build/Release/comboseg.node');
const sources = [join(nativeDir, 'binding.gyp'), ...readdirSync(join(nativeDir, 'src')).map((f) => join(nativeDir, 'src', f))];
const force = process.argv.includes('--force');

if (!force && existsSync(addon)) {
  const built = statSync(addon).mtimeMs;
  if (sources.every((s) => statSync(s).mtimeMs <= built)) process.exit(0);
}

// Build against the headers of the node that runs us (Debian's node keeps them in /usr/include/node).
const nodedir = resolve(dirname(process.execPath), '..');
const args = [join(root, 'node_modules/node-gyp/bin/node-gyp.js'), 'rebuild', `--directory=${nativeDir}`, '-j', '2'];
if (existsSync(join(nodedir, 'include/node/node_api.h'))) args.push(`--nodedir=${nodedir}`);
console.log('[setup] building the native addon (about a minute)');
execFileSync(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'] });
