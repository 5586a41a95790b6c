// Synthetic sets: voxel shares on target (±30 % averaged over cases), reproducible
// by seed, varied anatomy; written in the MSD layout and read back; splits and folds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { data, ComboSegError } from '../../src/index.js';

const kinds: [data.PhantomKind, [number, number, number]][] = [
  ['pet', [64, 64, 150]],
  ['mri-prostate', [128, 128, 24]],
  ['echo-lv', [64, 64, 64]],
];

for (const [kind, size] of kinds) {
  test(`${kind}: organ voxel shares within ±30 % of the target over 6 cases; reproducible; cases differ`, () => {
    const shares = data.PHANTOM_KINDS[kind].shares;
    const sums = new Array<number>(shares.length).fill(0),
      present = new Array<number>(shares.length).fill(0);
    const first: Uint8Array[] = [];
    for (let i = 0; i < 6; i++) {
      const p = data.phantomCase(kind, 11, i, size);
      assert.deepEqual(p.size, size);
      first.push(p.labels);
      const counts = new Array<number>(shares.length + 1).fill(0);
      for (const l of p.labels) counts[l]++;
      counts.slice(1).forEach((c, k) => {
        if (c > 0) {
          sums[k] += c / p.labels.length;
          present[k]++;
        }
      });
    }
    shares.forEach((target, k) => {
      const mean = sums[k] / present[k];
      assert.ok(
        Math.abs(mean - target) / target <= 0.3,
        `${kind} organ ${k + 1}: mean share ${(100 * mean).toFixed(3)} % vs ${(100 * target).toFixed(2)} %`,
      );
    });
    const again = data.phantomCase(kind, 11, 0, size);
    assert.deepEqual(again.labels, first[0], 'same seed and index, same case');
    assert.notDeepEqual(first[1], first[0], 'another index, another anatomy');
  });
}

test('PET phantoms: unlabelled look-alikes as bright as organs, and organs missing from some scans', () => {
  let missing = 0,
    brightUnlabelled = 0;
  for (let i = 0; i < 12; i++) {
    const p = data.phantomCase('pet', 5, i, [48, 48, 100]);
    const present = new Set(p.labels);
    missing += [1, 2, 3, 4, 5].filter((k) => !present.has(k)).length;
    let organMean = 0,
      n = 0;
    for (let v = 0; v < p.labels.length; v++)
      if (p.labels[v] === 3) {
        organMean += p.image[v];
        n++;
      }
    organMean /= n || 1;
    for (let v = 0; v < p.labels.length; v++)
      if (p.labels[v] === 0 && p.image[v] > organMean && organMean > 0) {
        brightUnlabelled++;
        break;
      }
  }
  assert.ok(missing > 0, 'some organs absent');
  assert.ok(brightUnlabelled >= 6, `background brighter than a kidney in ${brightUnlabelled}/12 scans`);
});

test('comboseg synth writes an MSD data set that readMsd, loadCase and info read back', async () => {
  const out = join(mkdtempSync(join(tmpdir(), 'comboseg-synth-')), 'set');
  const bin = fileURLToPath(new URL('../../bin/comboseg.js', import.meta.url));
  const log = execFileSync(
    process.execPath,
    [bin, 'synth', 'echo-lv', '--out', out, '--cases', '3', '--seed', '4', '--size', '32x32x32'],
    { encoding: 'utf8' },
  );
  assert.match(log, /wrote 3 echo-lv case\(s\)/);
  const ds = data.readMsd(out);
  assert.equal(ds.training.length, 3);
  assert.deepEqual(ds.labels, { values: [1], names: ['myocardium'] });
  const c = await data.loadCase(ds.training[0]);
  assert.deepEqual(c.image.size, [32, 32, 32]);
  assertSame(c.labels!.data, data.phantomCase('echo-lv', 4, 0, [32, 32, 32]).labels);
  const info = JSON.parse(
    execFileSync(process.execPath, [bin, 'info', ds.training[0].label!, '--json'], { encoding: 'utf8' }),
  );
  assert.deepEqual(Object.keys(info), [
    'size',
    'spacing',
    'origin',
    'direction',
    'pixelType',
    'min',
    'max',
    'mean',
    'labels',
  ]);
  assert.deepEqual(info.size, [32, 32, 32]);
  assert.equal(Object.keys(info.labels).join(), '0,1');
  const again = (() => {
    try {
      execFileSync(process.execPath, [bin, 'synth', 'echo-lv', '--out', out], { encoding: 'utf8', stdio: 'pipe' });
      return '';
    } catch (e) {
      return (e as { stderr: string }).stderr;
    }
  })();
  assert.match(again, /already holds a data set/);
  assert.doesNotMatch(again, /at .*\.ts:\d+/, 'no stack trace for a user error');
  assert.ok(readFileSync(join(out, 'dataset.json'), 'utf8').includes('"numTraining": 3'));
});

function assertSame(a: ArrayLike<number>, b: ArrayLike<number>): void {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) assert.fail(`differ at ${i}: ${a[i]} vs ${b[i]}`);
}

test('splits and folds: deterministic by seed, disjoint, covering', () => {
  const ids = Array.from({ length: 20 }, (_, i) => `c${i}`);
  const s1 = data.split(ids, { validation: 0.2, test: 0.1, seed: 1 });
  assert.deepEqual([s1.train.length, s1.validation.length, s1.test.length], [14, 4, 2]);
  assert.deepEqual(new Set([...s1.train, ...s1.validation, ...s1.test]).size, 20);
  assert.deepEqual(data.split(ids, { validation: 0.2, test: 0.1, seed: 1 }), s1);
  assert.notDeepEqual(data.split(ids, { validation: 0.2, test: 0.1, seed: 2 }).validation, s1.validation);
  const folds = [0, 1, 2, 3, 4].map((f) => data.kFold(ids, 5, f, 7));
  assert.deepEqual(folds.flatMap((f) => f.validation).sort(), [...ids].sort(), 'validation folds partition the cases');
  for (const f of folds) assert.equal(f.train.length + f.validation.length, 20);
  assert.throws(() => data.kFold(ids, 5, 5, 0), ComboSegError);
  assert.throws(() => data.split(ids.slice(0, 2), { validation: 0.5, test: 0.5, seed: 0 }), /fractions must be/);
});

test('folder pairs are matched by name; unmatched images and bad MSD folders get clear errors', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'comboseg-pairs-'));
  const { mkdirSync, writeFileSync } = await import('node:fs');
  mkdirSync(join(dir, 'img'));
  mkdirSync(join(dir, 'lab'));
  const p = data.phantomCase('echo-lv', 1, 0, [16, 16, 16]);
  const g = {
    size: p.size,
    spacing: p.spacing,
    origin: [0, 0, 0] as [number, number, number],
    direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
  };
  await data.writeVolume(join(dir, 'img', 'case1.nii.gz'), { ...g, data: p.image, pixelType: 'float32' });
  await data.writeVolume(join(dir, 'lab', 'case1_seg.nii.gz'), { ...g, data: p.labels, pixelType: 'uint8' });
  const ds = data.readPairs(join(dir, 'img'), join(dir, 'lab'), { '1': 'myocardium' });
  assert.deepEqual(
    ds.training.map((c) => c.id),
    ['case1'],
  );
  await data.writeVolume(join(dir, 'img', 'case2.nii.gz'), { ...g, data: p.image, pixelType: 'float32' });
  assert.throws(() => data.readPairs(join(dir, 'img'), join(dir, 'lab'), { '1': 'x' }), /no label for case2.nii.gz/);
  writeFileSync(join(dir, 'dataset.json'), '{ not json');
  assert.throws(() => data.readMsd(dir), /dataset.json: not valid JSON/);
  writeFileSync(
    join(dir, 'dataset.json'),
    JSON.stringify({
      labels: { 0: 'bg', 1: 'x' },
      training: [{ image: './img/case1.nii.gz', label: './lab/nope.nii.gz' }],
    }),
  );
  assert.throws(() => data.readMsd(dir), /training\[0\].label .*nope.nii.gz does not exist/);
});
