// libtorch's errors arrive as JS errors with libtorch's message; the process survives.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor, tidy, matmul, call, reshape, TorchError, ComboSegError } from '../../src/index.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isUserError } from '../../src/engine/errors.js';
import { readLabels, readVolume, writeVolume } from '../../src/data/io.js';
import { readJsonFile } from '../../src/cli/read-json.js';
import { fromWorkerError, toWorkerError } from '../../src/util/worker.js';
import { HttpError, statusOf } from '../../src/server/http.js';

test('a shape mismatch inside libtorch becomes a TorchError with its message', () =>
  tidy(() => {
    const a = tensor([1, 2, 3, 4], [2, 2]);
    const b = tensor([1, 2, 3], [3, 1]);
    assert.throws(
      () => matmul(a, b),
      (e: unknown) => {
        assert.ok(e instanceof TorchError);
        assert.match((e as Error).message, /aten::matmul: mat1 and mat2 shapes cannot be multiplied \(2x2 and 3x1\)/);
        assert.doesNotMatch((e as Error).message, /Exception raised from|frame #/, 'no C++ backtrace in the message');
        return true;
      },
    );
    assert.throws(() => reshape(a, [3, 2]), {
      name: 'TorchError',
      message: /shape '\[3, 2\]' is invalid for input of size 4/,
    });
    // Still alive and computing after the errors.
    assert.deepEqual(matmul(a, tensor([1, 1], [2, 1])).toArray(), [3, 7]);
  }));

test('wrong argument types name the op, the argument and the schema', () =>
  tidy(() => {
    const a = tensor([1, 2], [2]);
    assert.throws(() => call('aten::add.Tensor', a, 'x'), {
      name: 'TypeError',
      message: /aten::add: argument 'other' expects a Tensor, got a string \(schema: aten::add.Tensor/,
    });
    assert.throws(() => call('aten::no_such_op'), { message: /no libtorch op 'aten::no_such_op'/ });
    assert.throws(() => call('aten::add.Tensor', a), { message: /missing argument 'other'/ });
  }));

test('using a disposed tensor, bad data and bad shapes give ComboSegErrors', () => {
  const a = tensor([1, 2], [2]);
  a.dispose();
  a.dispose(); // idempotent
  assert.equal(a.isDisposed, true);
  assert.throws(
    () => a.add(1),
    (e: unknown) => e instanceof ComboSegError && /after dispose/.test((e as Error).message),
  );
  assert.throws(() => tensor([1, 2, 3], [2, 2]), {
    name: 'ComboSegError',
    code: 'invalid-input',
    message: /3 values do not fill shape \[2,2\]/,
  });
  assert.throws(() => tensor([1], [-1]), {
    name: 'ComboSegError',
    code: 'invalid-input',
    path: 'shape',
    message: /bad shape/,
  });
  const b = tensor([1, 2, 3], [3]);
  assert.throws(() => b.item(), { name: 'ComboSegError', message: /3 elements/ });
  b.dispose();
});

test('backward on a non-scalar without a gradient, and in-place on a leaf that requires grad', () =>
  tidy(() => {
    const a = tensor([1, 2], [2], { requiresGrad: true });
    assert.throws(() => a.mul(2).backward(), {
      name: 'TorchError',
      message: /grad can be implicitly created only for scalar outputs/,
    });
    assert.throws(() => a.add_(1), { name: 'TorchError', message: /leaf Variable that requires grad/ });
  }));

test('errors as data: code defaults to failed; rewrap keeps code, path and the original as cause', () => {
  const plain = new ComboSegError('something the user can fix');
  assert.equal(plain.code, 'failed');
  assert.equal(plain.path, undefined);
  assert.equal(plain.cause, undefined);
  const inner = new ComboSegError('x.nii: empty file', { code: 'bad-file', path: 'x.nii' });
  const outer = inner.rewrap('case 7: x.nii: empty file');
  assert.deepEqual([outer.code, outer.path, outer.cause], ['bad-file', 'x.nii', inner]);
  assert.equal(outer.message, 'case 7: x.nii: empty file');
  const moved = inner.rewrap('upload.nii: empty file', { path: 'upload.nii' });
  assert.deepEqual([moved.code, moved.path, moved.cause], ['bad-file', 'upload.nii', inner]);
  const cause = new SyntaxError('Unexpected token');
  assert.equal(new ComboSegError('wrapped', { cause }).cause, cause);
  assert.equal(isUserError(plain), true);
  assert.equal(isUserError(new TorchError('aten::add: bad')), true);
  assert.equal(isUserError(new Error('a bug')), false);
});

test('real failures carry a code and the file as path: missing, corrupt, unsupported, bad JSON, labels', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'comboseg-errors-'));
  const expectError = async (p: Promise<unknown>, code: string, path: string, message: RegExp) => {
    await assert.rejects(p, (e: unknown) => {
      assert.ok(e instanceof ComboSegError, String(e));
      assert.deepEqual([e.code, e.path], [code, path]);
      assert.match(e.message, message);
      return true;
    });
  };
  await expectError(readVolume(join(dir, 'missing.nii.gz')), 'not-found', join(dir, 'missing.nii.gz'), /no such file/);
  writeFileSync(join(dir, 'garbage.nii'), Buffer.alloc(400, 7));
  const garbage = join(dir, 'garbage.nii');
  await expectError(readVolume(garbage), 'bad-file', garbage, /garbage\.nii: no NIfTI/);
  // Data cut short is refused before ITK sees it; the message names the file as the caller calls it.
  const mha = 'ObjectType = Image\nNDims = 3\nDimSize = 2 2 2\nElementType = MET_FLOAT\nElementDataFile = LOCAL\n';
  writeFileSync(join(dir, 'short.mha'), `${mha}xx`);
  await assert.rejects(readVolume(join(dir, 'short.mha'), { name: 'upload.mha' }), (e: unknown) => {
    assert.ok(e instanceof ComboSegError);
    const why = 'path: the file, whatever the message calls it';
    assert.deepEqual([e.code, e.path], ['bad-file', join(dir, 'short.mha')], why);
    assert.match(e.message, /^upload\.mha: header promises 32 bytes of voxel data .* but the file holds 2/);
    return true;
  });
  // ITK itself refuses this one (ASCII data one value short): its failure is kept as the cause.
  const ascii = 'ObjectType = Image\nNDims = 3\nDimSize = 2 2 2\nElementType = MET_FLOAT\nBinaryData = False\n';
  writeFileSync(join(dir, 'ascii.mha'), `${ascii}ElementDataFile = LOCAL\n1 2 3 4 5 6 7     `);
  await assert.rejects(readVolume(join(dir, 'ascii.mha')), (e: unknown) => {
    assert.ok(e instanceof ComboSegError && e.code === 'bad-file');
    assert.match(e.message, /ascii\.mha: ITK raised an exception/);
    assert.ok(e.cause instanceof Error, "ITK's failure kept as the cause");
    return true;
  });
  writeFileSync(join(dir, 'scan.png'), 'x');
  await expectError(readVolume(join(dir, 'scan.png')), 'unsupported', join(dir, 'scan.png'), /unsupported file type/);
  writeFileSync(join(dir, 'config.json'), '{"epochs": ');
  assert.throws(
    () => readJsonFile(join(dir, 'config.json')),
    (e: unknown) => {
      assert.ok(e instanceof ComboSegError);
      assert.deepEqual([e.code, e.path], ['bad-file', join(dir, 'config.json')]);
      assert.ok(e.cause instanceof SyntaxError, "the parser's error kept as the cause");
      return true;
    },
  );
  // A label map with a negative value: unusable data, named by the file.
  await writeVolume(join(dir, 'neg.nii'), {
    size: [2, 1, 1],
    spacing: [1, 1, 1],
    origin: [0, 0, 0],
    direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
    data: Int16Array.from([1, -1]),
    pixelType: 'int16',
  });
  await expectError(readLabels(join(dir, 'neg.nii')), 'invalid-input', join(dir, 'neg.nii'), /holds -1 at voxel 1/);
});

test('a ComboSegError crosses a worker boundary with its code and path; a bug keeps its stack', () => {
  const error = new ComboSegError('a.nii: empty file', { code: 'bad-file', path: 'a.nii' });
  const sent = structuredClone(toWorkerError(error));
  const back = fromWorkerError(sent);
  assert.ok(back instanceof ComboSegError);
  assert.deepEqual([back.code, back.path, back.message], ['bad-file', 'a.nii', 'a.nii: empty file']);
  const torch = fromWorkerError(structuredClone(toWorkerError(new TorchError('aten::mm: shapes'))));
  assert.ok(torch instanceof TorchError && isUserError(torch));
  const bug = new TypeError('x is undefined');
  const internal = fromWorkerError(structuredClone(toWorkerError(bug)));
  assert.equal(isUserError(internal), false);
  assert.equal(internal.name, 'TypeError');
  assert.equal(internal.stack, bug.stack, "the worker's stack, not the parent's");
});

test("the server's status comes from the error's code, never from its message", () => {
  assert.equal(statusOf(new ComboSegError("case 'x' is not in the data set", { code: 'not-found' })), 404);
  assert.equal(statusOf(new ComboSegError('anything at all, worded any way', { code: 'not-found', path: 'x' })), 404);
  assert.equal(statusOf(new ComboSegError('not found (but the code says otherwise)', { code: 'bad-file' })), 400);
  assert.equal(statusOf(new ComboSegError('port taken', { code: 'conflict' })), 409);
  assert.equal(statusOf(new ComboSegError('no code')), 400);
  assert.equal(statusOf(new HttpError(415, 'not a NIfTI file')), 415);
  assert.equal(statusOf(new SyntaxError('bad JSON')), 400);
  assert.equal(statusOf(new TypeError('a bug')), 500);
});
