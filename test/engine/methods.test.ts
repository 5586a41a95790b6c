// The chaining methods are the free functions seen from the tensor: same results, and no
// op exists only as a method. Imports the engine alone, which must install the methods itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as engine from '../../src/engine/index.js';
import { Tensor, tensor, tidy, liveTensors, noGrad } from '../../src/engine/index.js';

// Members of the class core (./tensor-core.ts); everything else on the prototype is an op.
const CORE = new Set([
  'constructor',
  'dispose',
  'adopt',
  'zeroGrad',
  'backward',
  'item',
  'toTypedArray',
  'toFloat32Array',
  'toArray',
  'toString',
]);

test('every method is an exported free function of the same name', () => {
  const methods = Object.getOwnPropertyNames(Tensor.prototype).filter((name) => {
    const d = Object.getOwnPropertyDescriptor(Tensor.prototype, name);
    return typeof d?.value === 'function' && !CORE.has(name);
  });
  assert.ok(methods.length > 40, `expected the op table on the prototype, found ${methods.length} methods`);
  const exported = new Map<string, unknown>(Object.entries(engine));
  const methodOnly = methods.filter((name) => typeof exported.get(name) !== 'function');
  assert.deepEqual(methodOnly, [], 'ops that exist only as methods');
});

test('a method gives what its free function gives', () =>
  tidy(() => {
    const a = tensor([1, -2, 3, -4, 5, -6], [2, 3]);
    const b = tensor([2, 2, 2], [3]);
    const same = (m: Tensor, f: Tensor, what: string): void => {
      assert.deepEqual(m.shape, f.shape, what);
      assert.deepEqual(m.toArray(), f.toArray(), what);
    };
    same(a.add(b).mul(2), engine.mul(engine.add(a, b), 2), 'add, mul');
    same(a.square(), engine.square(a), 'square');
    same(a.square(), engine.mul(a, a), 'square = a · a');
    same(a.sum([1], true), engine.sum(a, [1], true), 'sum with dims');
    same(a.flatten(), engine.reshape(a, [-1]), 'flatten');
    same(a.clamp(null, 0), engine.clamp(a, null, 0), 'clamp');
    same(a.gt(0).logicalNot(), engine.logicalNot(engine.gt(a, 0)), 'comparison, logical');
    same(a.slice(1, 0, 3, 2), engine.slice(a, 1, 0, 3, 2), 'slice with step');
    assert.deepEqual(
      a.chunk(2, 1).map((c) => c.shape),
      [
        [2, 2],
        [2, 1],
      ],
    );
    assert.equal(a.cast('float64').dtype, 'float64');
    return undefined;
  }));

test('in-place functions and methods write into the tensor and return it', () => {
  const before = liveTensors();
  tidy(() => {
    const p = tensor([1, 2, 3]);
    const g = tensor([1, 1, 1]);
    noGrad(() => {
      assert.equal(engine.add_(p, g, 2), p);
      assert.deepEqual(p.toArray(), [3, 4, 5]);
      assert.equal(p.mul_(2).add_(1).addcmul_(g, g, 0.5), p);
      assert.deepEqual(p.toArray(), [7.5, 9.5, 11.5]);
      assert.deepEqual(engine.fill_(p, 4).toArray(), [4, 4, 4]);
      assert.deepEqual(p.zero_().toArray(), [0, 0, 0]);
      assert.deepEqual(p.copy_(g).toArray(), [1, 1, 1]);
    });
  });
  assert.equal(liveTensors(), before, 'the aliases libtorch returns are freed');
});

test('toFloat32Array converts other dtypes without leaking', () => {
  const before = liveTensors();
  const d = tensor(new Float64Array([0.5, -1.25]));
  const i = tensor(new Int32Array([3, -7]));
  const b = tensor(new Uint8Array([1, 0]), [2], { dtype: 'bool' });
  assert.deepEqual(d.toFloat32Array(), new Float32Array([0.5, -1.25]));
  assert.deepEqual(i.toFloat32Array(), new Float32Array([3, -7]));
  assert.deepEqual(b.toFloat32Array(), new Float32Array([1, 0]));
  for (const t of [d, i, b]) t.dispose();
  assert.equal(liveTensors(), before);
});
