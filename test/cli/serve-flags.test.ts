// `comboseg serve` flags are checked by one schema; a bad value names its flag.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serveFlags } from '../../src/cli/serve.js';
import { ComboSegError } from '../../src/index.js';

const ok = { port: '8765', host: '127.0.0.1', maxUploadMib: '512', jobs: '1', device: 'cpu', precision: 'auto' };

test('serve flags: numbers parsed, bad values named by flag', () => {
  assert.deepEqual(serveFlags(ok), {
    port: 8765,
    host: '127.0.0.1',
    maxUploadMib: 512,
    jobs: 1,
    device: 'cpu',
    precision: 'auto',
  });
  assert.equal(serveFlags({ ...ok, precision: 'bf16' }).precision, 'bf16');
  assert.throws(
    () => serveFlags({ ...ok, port: '70000', jobs: 'x', device: 'gpu', precision: 'fp16' }),
    (e: unknown) =>
      e instanceof ComboSegError &&
      e.code === 'invalid-option' &&
      e.message ===
        '--port must be an integer in [0, 65535], got "70000"; --jobs must be an integer in [1, 64], got "x"; ' +
          `--device must be 'cpu', 'cuda' or 'cuda:N', got "gpu"; ` +
          `--precision must be one of 'auto', 'fp32', 'bf16', got "fp16". Did you mean 'fp32'?`,
  );
});
