// libtorch's errors arrive as JS errors with libtorch's message; the process survives.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor, tidy, matmul, call, reshape, TorchError, ComboSegError } from '../../src/index.js';

test('a shape mismatch inside libtorch becomes a TorchError with its message', () => tidy(() => {
  const a = tensor([1, 2, 3, 4], [2, 2]);
  const b = tensor([1, 2, 3], [3, 1]);
  assert.throws(() => matmul(a, b), (e: unknown) => {
    assert.ok(e instanceof TorchError);
    assert.match((e as Error).message, /aten::matmul: mat1 and mat2 shapes cannot be multiplied \(2x2 and 3x1\)/);
    assert.doesNotMatch((e as Error).message, /Exception raised from|frame #/, 'no C++ backtrace in the message');
    return true;
  });
  assert.throws(() => reshape(a, [3, 2]), { name: 'TorchError', message: /shape '\[3, 2\]' is invalid for input of size 4/ });
  // Still alive and computing after the errors.
  assert.deepEqual(matmul(a, tensor([1, 1], [2, 1])).toArray(), [3, 7]);
}));

test('wrong argument types name the op, the argument and the schema', () => tidy(() => {
  const a = tensor([1, 2], [2]);
  assert.throws(() => call('aten::add.Tensor', a, 'x'), { name: 'TypeError', message: /aten::add: argument 'other' expects a Tensor, got a string \(schema: aten::add.Tensor/ });
  assert.throws(() => call('aten::no_such_op'), { message: /no libtorch op 'aten::no_such_op'/ });
  assert.throws(() => call('aten::add.Tensor', a), { message: /missing argument 'other'/ });
}));

test('using a disposed tensor, bad data and bad shapes give ComboSegErrors', () => {
  const a = tensor([1, 2], [2]);
  a.dispose();
  a.dispose(); // idempotent
  assert.equal(a.isDisposed, true);
  assert.throws(() => a.add(1), (e: unknown) => e instanceof ComboSegError && /after dispose/.test((e as Error).message));
  assert.throws(() => tensor([1, 2, 3], [2, 2]), { name: 'ComboSegError', message: /3 values do not fill shape \[2,2\]/ });
  assert.throws(() => tensor([1], [-1]), { name: 'ComboSegError', message: /bad shape/ });
  const b = tensor([1, 2, 3], [3]);
  assert.throws(() => b.item(), { name: 'ComboSegError', message: /3 elements/ });
  b.dispose();
});

test('backward on a non-scalar without a gradient, and in-place on a leaf that requires grad', () => tidy(() => {
  const a = tensor([1, 2], [2], { requiresGrad: true });
  assert.throws(() => a.mul(2).backward(), { name: 'TorchError', message: /grad can be implicitly created only for scalar outputs/ });
  assert.throws(() => a.add_(1), { name: 'TorchError', message: /leaf Variable that requires grad/ });
}));
