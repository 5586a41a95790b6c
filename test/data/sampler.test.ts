// Samplers: organ patches contain their organ, background patches none; counts,
// padding at the border, and reproducibility by seed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { data } from '../../src/index.js';

function syntheticCase(id: string, size: [number, number, number], boxes: { v: number; lo: number[]; hi: number[] }[]) {
  const [X, Y, Z] = size;
  const labels = new Uint8Array(X * Y * Z);
  const image = new Float32Array(X * Y * Z);
  for (let z = 0, i = 0; z < Z; z++)
    for (let y = 0; y < Y; y++)
      for (let x = 0; x < X; x++, i++) {
        image[i] = (x + y + z) / (X + Y + Z);
        for (const b of boxes)
          if (x >= b.lo[0] && x < b.hi[0] && y >= b.lo[1] && y < b.hi[1] && z >= b.lo[2] && z < b.hi[2])
            labels[i] = b.v;
      }
  return { id, image, labels, size };
}

const cases = [
  syntheticCase(
    'a',
    [40, 32, 24],
    [
      { v: 1, lo: [2, 2, 2], hi: [6, 6, 5] },
      { v: 2, lo: [30, 20, 10], hi: [33, 23, 12] },
    ],
  ),
  syntheticCase('b', [36, 36, 20], [{ v: 2, lo: [0, 0, 0], hi: [3, 3, 3] }]), // organ 2 at the corner; no organ 1
];
const count = (labels: ArrayLike<number>, v: number) => Array.from(labels).filter((l) => l === v).length;

test('paper sampler: per organ present N patches containing it, N background-only patches, per volume', () => {
  const s = new data.PaperSampler(cases, { patchSize: [8, 8, 8], organs: [1, 2], perOrgan: 5, background: 4, seed: 3 });
  assert.equal(s.epochLength, 5 + 5 + 4 + (5 + 4));
  const patches = [...s.epoch(0)];
  assert.equal(patches.length, s.epochLength, 'every background patch found a place');
  for (const p of patches) {
    assert.equal(p.image.length, 512);
    if (p.kind === 'organ') assert.ok(count(p.labels, p.organ!) > 0, `${p.caseId}: patch holds organ ${p.organ}`);
    else assert.equal(count(p.labels, 1) + count(p.labels, 2), 0, `${p.caseId}: background patch holds no organ`);
  }
  const tally = (id: string, kind: string, organ?: number) =>
    patches.filter((p) => p.caseId === id && p.kind === kind && p.organ === organ).length;
  assert.deepEqual(
    [
      tally('a', 'organ', 1),
      tally('a', 'organ', 2),
      tally('a', 'background'),
      tally('b', 'organ', 1),
      tally('b', 'organ', 2),
      tally('b', 'background'),
    ],
    [5, 5, 4, 0, 5, 4],
  );
  // Organ 2 of case b touches the corner: some patches must cross the border, padded with zeros.
  const padded = patches.filter((p) => p.caseId === 'b' && p.kind === 'organ' && p.start.some((v) => v < 0));
  assert.ok(padded.length > 0, 'patches cross the border');
  for (const p of padded) {
    const x = -p.start[0],
      inside = Math.max(0, x);
    if (inside > 0) assert.equal(p.image[0], 0, 'padding value');
  }
});

test('paper sampler is reproducible by seed, resumable at any index, and different for another seed/epoch', () => {
  const mk = (seed: number) =>
    new data.PaperSampler(cases, { patchSize: [8, 8, 8], organs: [1, 2], perOrgan: 3, background: 2, seed });
  const a = [...mk(1).epoch(2)],
    b = [...mk(1).epoch(2)];
  assert.deepEqual(
    a.map((p) => [p.caseId, p.kind, p.start]),
    b.map((p) => [p.caseId, p.kind, p.start]),
  );
  assert.deepEqual(Array.from(a[3].image), Array.from(b[3].image));
  const resumed = [...mk(1).epoch(2, 4)];
  assert.deepEqual(
    resumed.map((p) => p.start),
    a.slice(4).map((p) => p.start),
    'resuming at index 4 gives the rest',
  );
  assert.notDeepEqual(
    [...mk(2).epoch(2)].map((p) => p.start),
    a.map((p) => p.start),
  );
  assert.notDeepEqual(
    [...mk(1).epoch(3)].map((p) => p.start),
    a.map((p) => p.start),
  );
});

test('background patches that cannot exist are skipped and counted', () => {
  const full = syntheticCase('full', [10, 10, 10], [{ v: 1, lo: [0, 0, 0], hi: [10, 10, 10] }]);
  const s = new data.PaperSampler([full], { patchSize: [4, 4, 4], organs: [1], perOrgan: 2, background: 3, seed: 0 });
  assert.equal([...s.epoch(0)].length, 2);
  assert.equal(s.backgroundMisses, 3);
});

test('ratio sampler centres on foreground with probability pos / (pos + neg)', () => {
  const s = new data.RatioSampler(cases, { patchSize: [5, 5, 5], pos: 3, neg: 1, samplesPerCase: 200, seed: 9 });
  let pos = 0;
  for (let i = 0; i < s.epochLength; i++) {
    const p = s.patch(0, i);
    const centre = p.labels[2 * 25 + 2 * 5 + 2];
    if (p.kind === 'positive') {
      pos++;
      assert.ok(centre > 0, 'positive patch centred on an organ voxel');
    } else assert.equal(centre, 0, 'negative patch centred on background');
  }
  assert.ok(Math.abs(pos / s.epochLength - 0.75) < 0.06, `positive share ${pos / s.epochLength}`);
});

test('whole-volume sampler pads up to the divisor; toBatch builds [B, 1, D, H, W] and [B, K, D, H, W]', () => {
  const s = new data.WholeVolumeSampler(cases, 16);
  const p = s.patch(0, 0);
  assert.ok(p.size.every((v) => v % 16 === 0));
  const q = new data.PaperSampler(cases, { patchSize: [8, 6, 4], organs: [1, 2], perOrgan: 1, background: 1, seed: 0 });
  const batch = [...q.epoch(0)].slice(0, 3);
  const { image, target } = data.toBatch(batch, [1, 2]);
  assert.deepEqual(image.shape, [3, 1, 4, 6, 8]);
  assert.deepEqual(target.shape, [3, 2, 4, 6, 8]);
  const img = image.toFloat32Array();
  assert.equal(Math.min(...img.slice(0, 192)), 0);
  assert.equal(Math.max(...img.slice(0, 192)), 1, 'per-patch min–max to [0, 1]');
  assert.equal(
    target.sum().item(),
    batch.reduce((a, p) => a + count(p.labels, 1) + count(p.labels, 2), 0),
  );
  image.dispose();
  target.dispose();
});
