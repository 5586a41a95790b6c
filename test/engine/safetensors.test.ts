import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  tensor,
  tidy,
  saveSafetensors,
  loadSafetensors,
  decodeSafetensors,
  dispose,
  ComboSegError,
} from '../../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'comboseg-st-'));

/** A file built byte by byte from the format description, independent of our writer. */
function handMade(): Buffer {
  const header = JSON.stringify({
    __metadata__: { comboseg: '{"network":"proposed","epoch":3}' },
    w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
    n: { dtype: 'I64', shape: [1], data_offsets: [8, 16] },
  });
  const data = Buffer.alloc(16);
  data.writeFloatLE(1.5, 0);
  data.writeFloatLE(-2, 4);
  data.writeBigInt64LE(42n, 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(header.length));
  return Buffer.concat([len, Buffer.from(header), data]);
}

test('reads a hand-made safetensors file', () => {
  const st = decodeSafetensors(handMade());
  assert.deepEqual(st.tensors.w.toArray(), [1.5, -2]);
  assert.equal(st.tensors.n.dtype, 'int64');
  assert.deepEqual(st.tensors.n.toArray(), [42]);
  assert.deepEqual(st.metadata, { network: 'proposed', epoch: 3 });
  dispose(st.tensors);
});

test('round-trips every dtype and the metadata block; writes atomically', () =>
  tidy(() => {
    const tensors = {
      f32: tensor(new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]),
      f64: tensor(new Float64Array([Math.PI])),
      i32: tensor(new Int32Array([-7, 7])),
      i64: tensor(new BigInt64Array([2n ** 40n])),
      u8: tensor(new Uint8Array([0, 255])),
      b: tensor(new Uint8Array([1, 0]), [2], { dtype: 'bool' }),
      empty: tensor(new Float32Array(0), [0, 3]),
    };
    const path = join(dir, 'model.safetensors');
    saveSafetensors(path, tensors, { network: 'unet3d', options: { channels: [16, 32] }, epoch: 12 });
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.endsWith('.tmp')),
      [],
      'no temporary file left',
    );
    const raw = readFileSync(path);
    assert.equal((8 + Number(raw.readBigUInt64LE(0))) % 8, 0, 'data section 8-byte aligned');
    const st = loadSafetensors(path);
    for (const [k, t] of Object.entries(tensors)) {
      assert.equal(st.tensors[k].dtype, t.dtype, k);
      assert.deepEqual(st.tensors[k].shape, t.shape, k);
      assert.deepEqual(st.tensors[k].toTypedArray(), t.toTypedArray(), k);
    }
    assert.deepEqual(st.metadata, { network: 'unet3d', options: { channels: [16, 32] }, epoch: 12 });
    assert.equal(st.rawMetadata.format, 'pt');
    return undefined;
  }));

test('corrupt files give one clear error naming the file', () => {
  const good = handMade();
  const cases: [string, Buffer, RegExp][] = [
    ['short.safetensors', good.subarray(0, 5), /shorter than the 8-byte header length/],
    ['truncated.safetensors', good.subarray(0, good.length - 4), /byte range \[8, 16\) does not fit/],
    [
      'huge-header.safetensors',
      Buffer.concat([Buffer.from([255, 255, 255, 255, 0, 0, 0, 0]), good.subarray(8)]),
      /header length \d+ exceeds the file/,
    ],
    [
      'not-json.safetensors',
      Buffer.concat([good.subarray(0, 8), Buffer.from('x'.repeat(good.length - 8))]),
      /header is not JSON/,
    ],
    [
      'bad-dtype.safetensors',
      Buffer.from(good.toString('latin1').replace('"I64"', '"Q64"'), 'latin1'),
      /unsupported dtype 'Q64'/,
    ],
  ];
  for (const [name, bytes, why] of cases) {
    const path = join(dir, name);
    writeFileSync(path, bytes);
    assert.throws(
      () => loadSafetensors(path),
      (e: unknown) => {
        assert.ok(e instanceof ComboSegError, name);
        assert.equal(e.code, 'bad-file', name);
        assert.equal(e.path, path, name);
        assert.ok(e.message.startsWith(path), `${name}: message names the file`);
        assert.match((e as Error).message, why);
        return true;
      },
    );
  }
  assert.throws(
    () => loadSafetensors(join(dir, 'missing.safetensors')),
    (e: unknown) => {
      assert.ok(e instanceof ComboSegError);
      assert.match(e.message, /missing.safetensors: cannot read \(ENOENT\)/);
      assert.equal(e.code, 'not-found');
      assert.equal((e.cause as NodeJS.ErrnoException).code, 'ENOENT', 'the fs error is kept as the cause');
      return true;
    },
  );
  // Not JSON: the parser's error is the cause.
  const notJson = Buffer.concat([handMade().subarray(0, 8), Buffer.from('x'.repeat(handMade().length - 8))]);
  assert.throws(
    () => decodeSafetensors(notJson),
    (e: unknown) => {
      assert.ok(e instanceof ComboSegError);
      assert.equal(e.path, undefined, 'a buffer has no path');
      assert.ok(e.cause instanceof SyntaxError);
      return true;
    },
  );
});
