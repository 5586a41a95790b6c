// Metrics against hand-computed cases and a brute-force surface-distance
// reference, on synthetic masks and on real spinal-cord segmentations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { metrics, data } from '../../src/index.js';
import { assertClose, randomArray } from '../helpers.js';
import { SHARED_DATA, skipWithoutData } from '../data/shared-data.js';

type V3 = [number, number, number];

function bruteSurface(mask: Uint8Array, size: V3): V3[] {
  const [X, Y, Z] = size;
  const at = (x: number, y: number, z: number) =>
    x < 0 || y < 0 || z < 0 || x >= X || y >= Y || z >= Z ? 0 : mask[(z * Y + y) * X + x];
  const out: V3[] = [];
  for (let z = 0; z < Z; z++)
    for (let y = 0; y < Y; y++)
      for (let x = 0; x < X; x++) {
        if (
          at(x, y, z) &&
          (!at(x - 1, y, z) ||
            !at(x + 1, y, z) ||
            !at(x, y - 1, z) ||
            !at(x, y + 1, z) ||
            !at(x, y, z - 1) ||
            !at(x, y, z + 1))
        )
          out.push([x, y, z]);
      }
  return out;
}

/** O(|A|·|B|) surface distances, the definition written out directly. */
function bruteDistances(a: Uint8Array, b: Uint8Array, size: V3, sp: V3) {
  const sa = bruteSurface(a, size),
    sb = bruteSurface(b, size);
  const directed = (from: V3[], to: V3[]) =>
    from
      .map((p) =>
        Math.sqrt(
          Math.min(
            ...to.map(
              (q) => ((p[0] - q[0]) * sp[0]) ** 2 + ((p[1] - q[1]) * sp[1]) ** 2 + ((p[2] - q[2]) * sp[2]) ** 2,
            ),
          ),
        ),
      )
      .sort((x, y) => x - y);
  const ab = directed(sa, sb),
    ba = directed(sb, sa);
  const p95 = (xs: number[]) => {
    const pos = 0.95 * (xs.length - 1),
      i = Math.floor(pos),
      f = pos - i;
    return i + 1 < xs.length ? xs[i] * (1 - f) + xs[i + 1] * f : xs[i];
  };
  return {
    hd: Math.max(ab[ab.length - 1], ba[ba.length - 1]),
    hd95: Math.max(p95(ab), p95(ba)),
    assd: (ab.reduce((s, x) => s + x, 0) + ba.reduce((s, x) => s + x, 0)) / (ab.length + ba.length),
  };
}

test('exact EDT equals brute force with anisotropic spacing', () => {
  const size: V3 = [9, 7, 5],
    sp: V3 = [0.7, 1.3, 2.9];
  const feature = Uint8Array.from(randomArray(315, 3, 0, 1), (u) => (u < 0.04 ? 1 : 0));
  const d2 = metrics.squaredEdt(feature, size, sp);
  const pts: V3[] = [];
  for (let z = 0, i = 0; z < 5; z++)
    for (let y = 0; y < 7; y++) for (let x = 0; x < 9; x++, i++) if (feature[i]) pts.push([x, y, z]);
  for (let z = 0, i = 0; z < 5; z++)
    for (let y = 0; y < 7; y++)
      for (let x = 0; x < 9; x++, i++) {
        const want = Math.min(
          ...pts.map((q) => ((x - q[0]) * sp[0]) ** 2 + ((y - q[1]) * sp[1]) ** 2 + ((z - q[2]) * sp[2]) ** 2),
        );
        assertClose([d2[i]], [want], 1e-9, `voxel ${x},${y},${z}`);
      }
});

test('overlap metrics by hand', () => {
  const m = metrics.organMetrics([1, 1, 0, 0], [1, 0, 1, 0], 1, [4, 1, 1], [1, 1, 1]);
  assert.deepEqual([m.tp, m.fp, m.fn, m.tn], [1, 1, 1, 1]);
  assertClose([m.dice, m.jaccard, m.fpr, m.fdr, m.fnr], [0.5, 1 / 3, 0.5, 0.5, 0.5]);
  // Surfaces: voxel 0 is in both; pred's voxel 1 is 1 from truth's voxel 0; truth's voxel 2 is 1 from pred's voxel 1.
  assertClose([m.hd!, m.assd!], [1, 2 / 4]);
});

test('single voxels and shifted cubes: known distances, anisotropic spacing', () => {
  const size: V3 = [12, 10, 8];
  const vox = (x: number, y: number, z: number) => (z * 10 + y) * 12 + x;
  const a = new Uint8Array(960),
    b = new Uint8Array(960);
  a[vox(2, 2, 2)] = 1;
  b[vox(5, 2, 2)] = 1;
  assert.deepEqual(metrics.surfaceDistances(a, b, size, [1, 1, 1]), { hd: 3, hd95: 3, assd: 3 });
  assert.deepEqual(metrics.surfaceDistances(a, b, size, [2, 1, 1]), { hd: 6, hd95: 6, assd: 6 });
  // Cubes 4³ shifted by 2 voxels along z with 2.5 mm slices: HD = 5 mm.
  const c = new Uint8Array(960),
    d = new Uint8Array(960);
  for (let z = 0; z < 4; z++)
    for (let y = 3; y < 7; y++)
      for (let x = 3; x < 7; x++) {
        c[vox(x, y, z)] = 1;
        d[vox(x, y, z + 2)] = 1;
      }
  const got = metrics.surfaceDistances(c, d, size, [1, 1, 2.5]);
  assertClose([got.hd], [5]);
  const ref = bruteDistances(c, d, size, [1, 1, 2.5]);
  assertClose([got.hd, got.hd95, got.assd], [ref.hd, ref.hd95, ref.assd], 1e-9);
});

test('random blobs: surface distances equal the brute-force reference', () => {
  const size: V3 = [14, 12, 9];
  for (const seed of [1, 2, 3]) {
    const u = randomArray(14 * 12 * 9, seed, 0, 1),
      w = randomArray(14 * 12 * 9, seed + 50, 0, 1);
    const a = new Uint8Array(u.length),
      b = new Uint8Array(u.length);
    for (let z = 0, i = 0; z < 9; z++)
      for (let y = 0; y < 12; y++)
        for (let x = 0; x < 14; x++, i++) {
          a[i] = (x - 6) ** 2 + (y - 5) ** 2 + (z - 4) ** 2 < 16 + 8 * u[i] ? 1 : 0;
          b[i] = (x - 8) ** 2 + (y - 6) ** 2 + ((z - 4) * 1.5) ** 2 < 12 + 8 * w[i] ? 1 : 0;
        }
    const sp: V3 = [0.8, 1.1, 3];
    const got = metrics.surfaceDistances(a, b, size, sp),
      ref = bruteDistances(a, b, size, sp);
    assertClose([got.hd, got.hd95, got.assd], [ref.hd, ref.hd95, ref.assd], 1e-9, `seed ${seed}`);
  }
});

test('empty masks: defined results, and missing values counted in the summary', () => {
  const g = {
    size: [3, 1, 1] as V3,
    spacing: [1, 1, 1] as V3,
    origin: [0, 0, 0] as V3,
    direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
  };
  const both = metrics.organMetrics([0, 0, 0], [0, 0, 0], 1, g.size, g.spacing);
  assert.deepEqual([both.dice, both.jaccard, both.hd, both.hd95, both.assd, both.fnr, both.fdr], [1, 1, 0, 0, 0, 0, 0]);
  const one = metrics.organMetrics([0, 1, 0], [0, 0, 0], 1, g.size, g.spacing);
  assert.deepEqual(
    [one.dice, one.jaccard, one.hd, one.hd95, one.assd, one.fdr, one.fnr],
    [0, 0, null, null, null, 1, 0],
  );
  const acc = new metrics.MetricsAccumulator();
  const labels = { values: [1], names: ['organ'] };
  acc.add(
    metrics.evaluateCase(
      'a',
      { ...g, data: Uint8Array.from([1, 1, 0]), pixelType: 'uint8' },
      { ...g, data: Uint8Array.from([1, 0, 0]), pixelType: 'uint8' },
      labels,
    ),
  );
  acc.add(
    metrics.evaluateCase(
      'b',
      { ...g, data: Uint8Array.from([0, 1, 0]), pixelType: 'uint8' },
      { ...g, data: Uint8Array.from([0, 0, 0]), pixelType: 'uint8' },
      labels,
    ),
  );
  const s = acc.summary();
  assert.equal(s.perOrgan.organ.hd.missing, 1);
  assert.equal(s.perOrgan.organ.hd.n, 1);
  assertClose([s.perOrgan.organ.dice.mean!, s.perOrgan.organ.dice.std!], [(2 / 3 + 0) / 2, 1 / 3]);
  assert.match(metrics.summaryTable(s), /organ .*0\.333 ± 0\.333.*\(1 missing\)/);
  assert.match(metrics.casesCsv(acc.cases), /^case,organ,tp,fp,fn,tn,dice/);
  assert.throws(
    () =>
      metrics.evaluateCase(
        'c',
        { ...g, data: Uint8Array.from([0, 0, 0]), pixelType: 'uint8' },
        { ...g, spacing: [2, 1, 1], data: Uint8Array.from([0, 0, 0]), pixelType: 'uint8' },
        labels,
      ),
    /not on the same grid; use --resample/,
  );
});

test(
  'real masks: spinal cord manual vs automatic segmentation against brute force',
  { skip: skipWithoutData },
  async () => {
    const truth = await data.readLabels(join(SHARED_DATA, 'spinal-cord-sct/t2/t2_seg-manual.nii.gz'));
    const pred = await data.readLabels(join(SHARED_DATA, 'spinal-cord-sct/t2/t2_seg-deepseg_sc-3d.nii.gz'));
    const m = metrics.organMetrics(pred.data, truth.data, 1, pred.size, pred.spacing);
    const a = Uint8Array.from(pred.data, (v) => (v === 1 ? 1 : 0)),
      b = Uint8Array.from(truth.data, (v) => (v === 1 ? 1 : 0));
    const ref = bruteDistances(a, b, pred.size, pred.spacing);
    assertClose([m.hd!, m.hd95!, m.assd!], [ref.hd, ref.hd95, ref.assd], 1e-9);
    assert.ok(m.dice > 0.7 && m.dice < 1, `manual vs automatic Dice ${m.dice}`);
  },
);
