// Largest-connected-component post-processing (nnU-Net's "remove all but the largest component"):
// 26-connected components per listed organ, on hand-made label maps, against a union-find reference,
// and as the `largestComponent` inference setting (organ names → values; only the label map changes).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ComboSegError } from '../../src/engine/errors.js';
import type { Vec3, Volume } from '../../src/data/volume.js';
import { largestComponentOrgans, largestComponents } from '../../src/inference/postprocess.js';
import { predictionFrom } from '../../src/inference/predict.js';
import { randomArray } from '../helpers.js';

/** A uint8 label map of `size` (x, y, z) with `voxels` set: [x, y, z, value]. */
function labelMap(size: Vec3, voxels: [number, number, number, number][]): Volume {
  const data = new Uint8Array(size[0] * size[1] * size[2]);
  for (const [x, y, z, v] of voxels) data[x + size[0] * (y + size[1] * z)] = v;
  return {
    size,
    spacing: [1, 1, 2],
    origin: [0, 0, 0],
    direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
    data,
    pixelType: 'uint8',
  };
}

/** The voxels of a map as [x, y, z, value], value ≠ 0. */
function voxelsOf(v: Volume): number[][] {
  const [X, Y] = v.size;
  const out: number[][] = [];
  v.data.forEach((value, i) => {
    if (value !== 0) out.push([i % X, Math.floor(i / X) % Y, Math.floor(i / (X * Y)), value]);
  });
  return out;
}

test('two blobs of one organ: the larger stays, the smaller becomes background', () => {
  const big: [number, number, number, number][] = [
    [5, 5, 3, 1],
    [6, 5, 3, 1],
    [6, 6, 3, 1],
    [6, 6, 4, 1],
  ];
  const small: [number, number, number, number][] = [
    [0, 0, 0, 1],
    [1, 0, 0, 1],
  ];
  const before = labelMap([8, 8, 6], [...small, ...big]);
  const after = largestComponents(before, [1]);
  assert.deepEqual(voxelsOf(after), voxelsOf(labelMap([8, 8, 6], big)));
  assert.ok(after.data instanceof Uint8Array && after.data !== before.data, 'a copy of the same type');
  assert.deepEqual([after.size, after.spacing, after.pixelType], [before.size, before.spacing, before.pixelType]);
  assert.equal(voxelsOf(before).length, 6, 'the input is left as it was');
});

test('voxels touching only at a corner or along an edge are one component (26-connectivity)', () => {
  // A corner chain of 3 voxels and an edge pair + 1: under 6-connectivity each voxel would be alone
  // and the face-connected pair (2 voxels) would win; under 26-connectivity the chain (3) wins.
  const chain: [number, number, number, number][] = [
    [0, 0, 0, 1],
    [1, 1, 1, 1],
    [2, 2, 2, 1],
  ];
  const pair: [number, number, number, number][] = [
    [6, 6, 4, 1],
    [7, 6, 4, 1],
  ];
  assert.deepEqual(voxelsOf(largestComponents(labelMap([8, 8, 6], [...chain, ...pair]), [1])), chain);
  const edges: [number, number, number, number][] = [
    [0, 5, 0, 1],
    [1, 6, 0, 1],
    [2, 7, 0, 1],
    [3, 7, 1, 1],
  ];
  assert.deepEqual(voxelsOf(largestComponents(labelMap([8, 8, 6], [...edges, ...pair]), [1])), edges);
  // Two voxels two apart (a gap of one voxel) are not connected: the first of equal components stays.
  const apart = labelMap(
    [8, 8, 6],
    [
      [0, 0, 0, 1],
      [2, 0, 0, 1],
    ],
  );
  assert.deepEqual(voxelsOf(largestComponents(apart, [1])), [[0, 0, 0, 1]]);
});

test('another organ touching it is not part of its component; organs not listed are untouched', () => {
  const voxels: [number, number, number, number][] = [
    [0, 0, 0, 1], // organ 1, alone (its organ-2 neighbour does not join it to the big blob)
    [1, 0, 0, 2],
    [2, 0, 0, 1],
    [3, 0, 0, 1],
    [0, 4, 4, 2], // organ 2: two blobs
    [3, 4, 4, 2],
    [4, 4, 4, 2],
  ];
  const before = labelMap([6, 6, 6], voxels);
  assert.deepEqual(voxelsOf(largestComponents(before, [1])), voxelsOf(labelMap([6, 6, 6], voxels.slice(1))));
  const keep = (...at: number[]) =>
    voxelsOf(
      labelMap(
        [6, 6, 6],
        at.map((i) => voxels[i]),
      ),
    );
  assert.deepEqual(voxelsOf(largestComponents(before, [2])), keep(0, 2, 3, 5, 6));
  assert.deepEqual(voxelsOf(largestComponents(before, [1, 2])), keep(2, 3, 5, 6));
  assert.deepEqual(voxelsOf(largestComponents(before, [])), voxelsOf(before), 'no organs: unchanged');
});

test('an organ with no voxels stays empty; an empty map stays empty', () => {
  const before = labelMap([4, 4, 4], [[1, 1, 1, 2]]);
  assert.deepEqual(voxelsOf(largestComponents(before, [1, 3])), [[1, 1, 1, 2]]);
  assert.deepEqual(voxelsOf(largestComponents(labelMap([4, 4, 4], []), [1, 2])), []);
});

/** The reference: union-find over the 26 neighbours; ties go to the component seen first in scan order. */
function reference(v: Volume, organs: number[]): number[] {
  const [X, Y, Z] = v.size;
  const d = Array.from(v.data);
  const parent = d.map((_, i) => i);
  const find = (i: number): number => (parent[i] === i ? i : (parent[i] = find(parent[i])));
  const at = (x: number, y: number, z: number) => x + X * (y + Y * z);
  for (let z = 0; z < Z; z++)
    for (let y = 0; y < Y; y++)
      for (let x = 0; x < X; x++)
        for (const [dx, dy, dz] of [-1, 0, 1].flatMap((a) =>
          [-1, 0, 1].flatMap((b) => [-1, 0, 1].map((c) => [a, b, c])),
        )) {
          const [u, w, s] = [x + dx, y + dy, z + dz];
          if (u < 0 || w < 0 || s < 0 || u >= X || w >= Y || s >= Z) continue;
          if (d[at(x, y, z)] === d[at(u, w, s)]) parent[find(at(x, y, z))] = find(at(u, w, s));
        }
  const size = new Map<number, number>();
  const firstSeen = new Map<number, number>();
  d.forEach((_, i) => {
    size.set(find(i), (size.get(find(i)) ?? 0) + 1);
    if (!firstSeen.has(find(i))) firstSeen.set(find(i), i);
  });
  const keep = new Map<number, number>();
  for (const [root, n] of size) {
    const organ = d[root];
    const best = keep.get(organ);
    const better =
      best === undefined ||
      n > size.get(best)! ||
      (n === size.get(best) && firstSeen.get(root)! < firstSeen.get(best)!);
    if (better) keep.set(organ, root);
  }
  return d.map((value, i) => (organs.includes(value) && keep.get(value) !== find(i) ? 0 : value));
}

test('random label maps: the same result as a union-find reference', () => {
  for (let seed = 1; seed <= 6; seed++) {
    const size: Vec3 = [7, 6, 5];
    const r = randomArray(7 * 6 * 5, seed, 0, 1);
    const v = labelMap(size, []);
    // Sparse organs (many small components) and a denser one.
    r.forEach((u, i) => (v.data[i] = u < 0.15 ? 1 : u < 0.25 ? 2 : u < 0.6 ? 3 : 0));
    assert.notDeepEqual(reference(v, [1]), Array.from(v.data), 'organ 1 has several components');
    for (const organs of [[1], [1, 2, 3], [2, 3]])
      assert.deepEqual(Array.from(largestComponents(v, organs).data), reference(v, organs), `seed ${seed}, ${organs}`);
  }
});

const LABELS = { values: [1, 2, 5], names: ['liver', 'spleen', 'kidney'] };

test('the largestComponent setting: every organ, the organs named, none; an unknown name lists the known', () => {
  assert.deepEqual(largestComponentOrgans(LABELS, true), [1, 2, 5]);
  assert.deepEqual(largestComponentOrgans(LABELS, ['kidney', 'liver']), [5, 1]);
  assert.deepEqual(largestComponentOrgans(LABELS, false), []);
  assert.deepEqual(largestComponentOrgans(LABELS, undefined), []);
  assert.throws(
    () => largestComponentOrgans(LABELS, ['liver', 'lung']),
    (e: unknown) =>
      e instanceof ComboSegError &&
      e.code === 'invalid-option' &&
      e.message === "largestComponent: no organ 'lung' in the model; its organs are 'liver', 'spleen', 'kidney'",
  );
});

test('with largestComponent, a prediction keeps the largest blob in its labels; probabilities untouched', () => {
  // 6 voxels in a row (x), sigmoid, 3 organs: liver on 0, 1 and 4 (two blobs), spleen on 3 and 5 (two single voxels).
  const like = labelMap([6, 1, 1], []);
  const organ = (hot: number[]) => Array.from({ length: 6 }, (_, i) => (hot.includes(i) ? 0.9 : 0.1));
  const probs = Float32Array.from([...organ([0, 1, 4]), ...organ([3, 5]), ...organ([])]);
  const copy = probs.slice();
  const meta = { layout: 'sigmoid' as const, labels: LABELS };
  const plain = predictionFrom(like, meta, probs, { threshold: 0.5 }, 'whole');
  assert.deepEqual(Array.from(plain.labels.data), [1, 1, 0, 2, 1, 2]);
  const liver = predictionFrom(like, meta, probs, { threshold: 0.5, largestComponent: ['liver'] }, 'whole');
  assert.deepEqual(Array.from(liver.labels.data), [1, 1, 0, 2, 0, 2]);
  const all = predictionFrom(like, meta, probs, { threshold: 0.5, largestComponent: true }, 'whole');
  assert.deepEqual(Array.from(all.labels.data), [1, 1, 0, 2, 0, 0]);
  assert.deepEqual(probs, copy);
  assert.deepEqual(
    all.probabilities.map((p) => Array.from(p.data)),
    plain.probabilities.map((p) => Array.from(p.data)),
  );
});
