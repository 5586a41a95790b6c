// A reader that closes the pipe early ends the CLI quietly with status 0, as `cat` does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../bin/comboseg.js', import.meta.url));

test('EPIPE on stdout: exit 0, nothing on stderr (comboseg engine | head -0)', async () => {
  const p = spawn(process.execPath, [bin, 'engine'], { stdio: ['ignore', 'pipe', 'pipe'] });
  p.stdout.destroy(); // the reader is gone before the first line
  let err = '';
  p.stderr.on('data', (b: Buffer) => (err += b.toString()));
  const code = await new Promise<number | null>((r) => p.once('exit', (c) => r(c)));
  assert.equal(err, '');
  assert.equal(code, 0);
});
