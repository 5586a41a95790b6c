// Patch augmentation: each transform against a truth computed here by other means (voxel
// indices, hand-made grids, linear images), determinism by seed, and the option schema.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AugmentationSchema,
  applyAugmentation,
  augmentPatch,
  drawAugmentation,
  isIdentity,
  type AugmentationDraw,
} from '../../src/data/augment.js';
import type { Patch } from '../../src/data/patch.js';
import type { Vec3 } from '../../src/data/volume.js';
import { parseOptions } from '../../src/util/options.js';
import { ComboSegError } from '../../src/engine/errors.js';

/** A patch whose image value tells where it came from and whose labels take a few values. */
function patchOf(
  size: Vec3,
  channels = 1,
  value = (x: number, y: number, z: number, c: number) => x + 10 * y + 100 * z + 1000 * c,
): Patch {
  const [X, Y, Z] = size,
    n = X * Y * Z;
  const image = new Float32Array(channels * n),
    labels = new Uint8Array(n);
  for (let c = 0; c < channels; c++)
    for (let z = 0, i = 0; z < Z; z++)
      for (let y = 0; y < Y; y++)
        for (let x = 0; x < X; x++, i++) {
          image[c * n + i] = value(x, y, z, c);
          labels[i] = [0, 3, 7, 250][(x + 2 * y + 3 * z) % 4];
        }
  return { caseId: 't', image, channels, labels, size: [...size], start: [1, 2, 3], kind: 'organ', organ: 3 };
}

const at = (size: Vec3, x: number, y: number, z: number) => (z * size[1] + y) * size[0] + x;
const opts = (o: unknown) => AugmentationSchema.parse(o);
const none: AugmentationDraw = {
  flip: [false, false, false],
  rotate90: 0,
  affine: null,
  noise: null,
  intensity: null,
  gamma: null,
};
const same = (a: Patch, b: Patch) => {
  assert.deepEqual(Array.from(a.image), Array.from(b.image));
  assert.deepEqual(Array.from(a.labels), Array.from(b.labels));
};

test('defaults: everything off; all-off output equals the input, in new arrays', () => {
  const o = opts({});
  assert.ok(isIdentity(o));
  assert.deepEqual(o.flip, { p: 0, axes: ['x', 'y', 'z'] });
  assert.deepEqual(o.affine, { p: 0, scale: [0.85, 1.25], rotateDegrees: [15, 15, 15] });
  assert.deepEqual(o.intensity, { p: 0, scale: [0.75, 1.25], shift: [-0.1, 0.1] });
  assert.deepEqual(o.gamma, { p: 0, range: [0.7, 1.5] });
  assert.deepEqual(o.noise, { p: 0, std: [0, 0.1] });
  assert.equal(isIdentity(opts({ noise: { p: 0.1 } })), false);
  const p = patchOf([5, 4, 3], 2);
  const q = augmentPatch(p, o, 123);
  same(q, p);
  assert.notEqual(q.image, p.image);
  assert.notEqual(q.labels, p.labels);
  assert.ok(q.labels instanceof Uint8Array);
  assert.deepEqual(
    [q.caseId, q.kind, q.organ, q.start, q.size, q.channels],
    ['t', 'organ', 3, [1, 2, 3], [5, 4, 3], 2],
  );
});

test('flips reverse one axis exactly and are self-inverse', () => {
  const size: Vec3 = [5, 4, 3];
  const p = patchOf(size, 2);
  const n = 60;
  for (const [axis, i] of [
    ['x', 0],
    ['y', 1],
    ['z', 2],
  ] as const) {
    const q = augmentPatch(p, opts({ flip: { p: 1, axes: [axis] } }), 7);
    const src = (x: number, y: number, z: number) => {
      const v = [x, y, z];
      v[i] = size[i] - 1 - v[i];
      return at(size, v[0], v[1], v[2]);
    };
    for (const [x, y, z] of [
      [0, 0, 0],
      [4, 3, 2],
      [1, 2, 0],
      [3, 1, 1],
    ]) {
      assert.equal(q.image[at(size, x, y, z)], p.image[src(x, y, z)], `${axis} flip at (${x}, ${y}, ${z})`);
      assert.equal(q.image[n + at(size, x, y, z)], p.image[n + src(x, y, z)], 'channel 1 too');
      assert.equal(q.labels[at(size, x, y, z)], p.labels[src(x, y, z)]);
    }
  }
  // Mirroring x: voxel (0, 1, 2) holds what (4, 1, 2) held: 4 + 10 + 200.
  assert.equal(augmentPatch(p, opts({ flip: { p: 1, axes: ['x'] } }), 1).image[at(size, 0, 1, 2)], 214);
  const all = opts({ flip: { p: 1 } });
  const q = augmentPatch(p, all, 1);
  assert.equal(q.image[0], p.image[59], 'all three axes: the first voxel is the last');
  same(augmentPatch(q, all, 99), p);
});

test('rotate90: a hand-made 3×3 turn, 2×3 (not square: 180° only), four turns give the input back', () => {
  // Rows y = 0, 1, 2 of [a b c / d e f / g h i] (1..9); one turn sends (x, y) to (2 − y, x).
  const sq = patchOf([3, 3, 1], 1, (x, y) => 1 + x + 3 * y);
  const once = applyAugmentation(sq, { ...none, rotate90: 1 });
  assert.deepEqual(Array.from(once.image), [7, 4, 1, 8, 5, 2, 9, 6, 3]);
  let r = sq;
  for (let k = 0; k < 4; k++) r = applyAugmentation(r, { ...none, rotate90: 1 });
  same(r, sq);
  same(applyAugmentation(applyAugmentation(sq, { ...none, rotate90: 3 }), { ...none, rotate90: 1 }), sq);
  // [a b / c d / e f] turned by 180°: [f e / d c / b a], whatever the seed.
  const rect = patchOf([2, 3, 1], 1, (x, y) => 1 + x + 2 * y);
  for (const seed of [1, 2, 3, 4, 5])
    assert.deepEqual(Array.from(augmentPatch(rect, opts({ rotate90: { p: 1 } }), seed).image), [6, 5, 4, 3, 2, 1]);
  // A square patch gets all three turns across seeds.
  const ks = new Set<number>();
  for (let seed = 0; seed < 40; seed++)
    ks.add(drawAugmentation(opts({ rotate90: { p: 1 } }), [3, 3, 1], 1, seed).rotate90);
  assert.deepEqual([...ks].sort(), [1, 2, 3]);
});

test('affine: scale 1 and angle 0 is the identity; 90° matches rotate90 and a hand-computed turn about x', () => {
  const p = patchOf([6, 6, 5], 2);
  same(augmentPatch(p, opts({ affine: { p: 1, scale: [1, 1], rotateDegrees: 0 } }), 5), p);
  const turned = applyAugmentation(p, { ...none, affine: { scale: 1, radians: [0, 0, Math.PI / 2] } });
  same(turned, applyAugmentation(p, { ...none, rotate90: 1 }));
  // 90° about x in a cube: (x, y, z) goes to (x, c − (z − c), c + (y − c)), so out(x, y, z) = in(x, z, n − 1 − y).
  const cube = patchOf([4, 4, 4], 1);
  const q = applyAugmentation(cube, { ...none, affine: { scale: 1, radians: [Math.PI / 2, 0, 0] } });
  for (let z = 0; z < 4; z++)
    for (let y = 0; y < 4; y++)
      for (let x = 0; x < 4; x++) {
        assert.equal(q.image[at([4, 4, 4], x, y, z)], x + 10 * z + 100 * (3 - y));
        assert.equal(q.labels[at([4, 4, 4], x, y, z)], cube.labels[at([4, 4, 4], x, z, 3 - y)]);
      }
  // Not square (4 × 6): the interpolating pass; centres (1.5, 2.5) put grid points on grid points,
  // out(x, y) = in(y − 1, 4 − x), exactly, and the minimum (0) / label 0 where that is outside.
  const rect = patchOf([4, 6, 2], 1);
  const r = applyAugmentation(rect, { ...none, affine: { scale: 1, radians: [0, 0, Math.PI / 2] } });
  for (let z = 0; z < 2; z++)
    for (let y = 0; y < 6; y++)
      for (let x = 0; x < 4; x++) {
        const [sx, sy] = [y - 1, 4 - x],
          inside = sx >= 0 && sx < 4 && sy >= 0 && sy < 6;
        assert.equal(r.image[at([4, 6, 2], x, y, z)], inside ? sx + 10 * sy + 100 * z : 0, `(${x}, ${y}, ${z})`);
        assert.equal(r.labels[at([4, 6, 2], x, y, z)], inside ? rect.labels[at([4, 6, 2], sx, sy, z)] : 0);
      }
});

test('affine: trilinear reproduces a linear image, the outside takes the minimum, channels move together', () => {
  // image = 2x + 3 and channel 1 = 5·(channel 0) − 1; scale s samples x at c + s(x − c), c = 4.5.
  const size: Vec3 = [10, 6, 4];
  const p = patchOf(size, 2, (x, _y, _z, c) => (c === 0 ? 2 * x + 3 : 5 * (2 * x + 3) - 1));
  const n = 240;
  for (const s of [0.8, 1.3]) {
    const q = applyAugmentation(p, { ...none, affine: { scale: s, radians: [0, 0, 0] } });
    for (let x = 0; x < 10; x++) {
      const src = 4.5 + s * (x - 4.5);
      const i = at(size, x, 2, 1);
      if (src >= 0 && src <= 9) assert.ok(Math.abs(q.image[i] - (2 * src + 3)) < 1e-4, `s ${s}, x ${x}: ${q.image[i]}`);
      if (src <= -1 || src >= 10) assert.equal(q.image[i], 3, 'outside: the channel minimum');
      assert.ok(Math.abs(q.image[n + i] - (5 * q.image[i] - 1)) < 1e-3, 'channel 1 = 5·channel 0 − 1');
      const near = src < -0.5 || src >= 9.5 ? null : Math.round(src);
      assert.equal(q.labels[i], near === null ? 0 : p.labels[at(size, near, 2, 1)], `nearest label at x ${x}`);
    }
  }
});

test('labels after any spatial transform hold only values present before (plus 0)', () => {
  const p = patchOf([9, 8, 7], 1);
  const before = new Set([...p.labels, 0]);
  const o = opts({ flip: { p: 0.5 }, rotate90: { p: 0.5 }, affine: { p: 1, scale: [0.6, 1.6], rotateDegrees: 45 } });
  for (let seed = 0; seed < 30; seed++) {
    const q = augmentPatch(p, o, seed);
    for (const v of q.labels) assert.ok(before.has(v), `seed ${seed}: label ${v}`);
  }
});

test('same seed, same output; another seed, another; the input is untouched; transforms draw independently', () => {
  const p = patchOf([8, 8, 6], 2);
  const copy = { image: p.image.slice(), labels: p.labels.slice() };
  const all = opts({
    flip: { p: 0.5 },
    rotate90: { p: 0.5 },
    affine: { p: 1 },
    intensity: { p: 1 },
    gamma: { p: 1 },
    noise: { p: 1, std: [0.05, 0.1] },
  });
  const a = augmentPatch(p, all, 42);
  same(a, augmentPatch(p, all, 42));
  assert.notDeepEqual(Array.from(augmentPatch(p, all, 43).image), Array.from(a.image));
  same(p, { ...p, ...copy });
  // Switching the intensity transforms off leaves the spatial draw (hence the labels) as it was.
  const spatial = opts({ flip: { p: 0.5 }, rotate90: { p: 0.5 }, affine: { p: 1 } });
  assert.deepEqual(Array.from(augmentPatch(p, spatial, 42).labels), Array.from(a.labels));
});

test('intensity and gamma: identity at (1, 0) and γ = 1; x·s + t and x^γ on [0, 1] otherwise', () => {
  const p = patchOf([5, 4, 3], 2, (x, y, z, c) => (x + 5 * y + 20 * z) / 59 + c);
  same(augmentPatch(p, opts({ intensity: { p: 1, scale: [1, 1], shift: [0, 0] } }), 3), p);
  same(augmentPatch(p, opts({ gamma: { p: 1, range: [1, 1] } }), 3), p);
  const q = augmentPatch(p, opts({ intensity: { p: 1, scale: [2, 2], shift: [0.5, 0.5] } }), 3);
  for (let i = 0; i < p.image.length; i++) assert.ok(Math.abs(q.image[i] - (2 * p.image[i] + 0.5)) < 1e-6);
  // Channel 0 spans [0, 1], channel 1 spans [1, 2]: x² and (x − 1)² + 1.
  const g = augmentPatch(p, opts({ gamma: { p: 1, range: [2, 2] } }), 3);
  for (let i = 0; i < 60; i++) {
    assert.ok(Math.abs(g.image[i] - p.image[i] ** 2) < 1e-6);
    assert.ok(Math.abs(g.image[60 + i] - ((p.image[60 + i] - 1) ** 2 + 1)) < 1e-6);
  }
  same({ ...g, image: g.image.subarray(0, 0) }, { ...p, image: p.image.subarray(0, 0) }); // labels untouched
});

test('noise: the measured standard deviation is the drawn one (within 5%) and the mean 0', () => {
  const p = patchOf([48, 48, 48], 1, () => 0.5);
  const q = augmentPatch(p, opts({ noise: { p: 1, std: [0.3, 0.3] } }), 11);
  let s = 0,
    s2 = 0;
  for (const v of q.image) {
    s += v - 0.5;
    s2 += (v - 0.5) ** 2;
  }
  const mean = s / q.image.length,
    std = Math.sqrt(s2 / q.image.length - mean * mean);
  assert.ok(Math.abs(std - 0.3) < 0.015, `std ${std}`);
  assert.ok(Math.abs(mean) < 0.005, `mean ${mean}`);
  same({ ...q, image: new Float32Array(0) }, { ...p, image: new Float32Array(0) });
});

test('probabilities: p = 0.3 fires about 30% of the time', () => {
  let fired = 0;
  for (let seed = 0; seed < 2000; seed++)
    if (drawAugmentation(opts({ noise: { p: 0.3 } }), [4, 4, 4], 1, seed).noise) fired++;
  assert.ok(Math.abs(fired / 2000 - 0.3) < 0.04, `${fired} of 2000`);
});

test('schema errors name the field', () => {
  const fails = (o: unknown, ...words: string[]) =>
    assert.throws(
      () => parseOptions(AugmentationSchema, o, 'augmentation'),
      (e: unknown) =>
        e instanceof ComboSegError && e.code === 'invalid-option' && words.every((w) => e.message.includes(w)),
      JSON.stringify(o),
    );
  fails({ noise: { std: [0.2, 0.1] } }, "'noise.std'", 'lo ≤ hi');
  fails({ flip: { p: 2 } }, "'flip.p'", '[0, 1]', 'got 2');
  fails({ flip: { axes: ['w'] } }, "'flip.axes.0'");
  fails({ affine: { scal: [1, 2] } }, "'scal'", "Did you mean 'scale'");
  fails({ gamma: { range: [0, 1] } }, "'gamma.range.0'");
  fails({ rotate: { p: 1 } }, "'rotate'");
  assert.deepEqual(
    parseOptions(AugmentationSchema, { affine: { rotateDegrees: [0, 0, 30] } }, 'a').affine.rotateDegrees,
    [0, 0, 30],
  );
});

test('a patch whose arrays do not match its size is refused', () => {
  const p = patchOf([3, 3, 3], 1);
  assert.throws(() => augmentPatch({ ...p, channels: 2 }, opts({ flip: { p: 1 } }), 0), /54|27 image values/);
});
