// DICOM series in: the IBSI PET series read from their slices equal the NIfTI files MIRP made from them
// (geometry and values), an unsorted CT series named by UID comes out in slice order, and broken series
// built here each give one clear error naming the folder.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { data, training, ComboSegError } from '../../src/index.js';
import { dcmjs } from '../../src/data/dcmjs.js';
import { listDicomSeries } from '../../src/data/dicom.js';

const shared = fileURLToPath(new URL('../../../shared/data/', import.meta.url));
const skip = existsSync(join(shared, 'dicom')) ? false : `no ${shared}dicom (the shared data folder is absent)`;
const ibsi = (c: string, what = 'PET') => join(shared, 'dicom', 'ibsi-sts', c, what, 'image');
const root = mkdtempSync(join(tmpdir(), 'comboseg-dicom-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** A folder of some of a series' slices (copies), with `edit` applied to the tags of chosen files. */
function folder(
  name: string,
  files: string[],
  edit?: (i: number, tags: Record<string, { Value?: unknown[] }>) => void,
) {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  files.forEach((f, i) => {
    const out = join(dir, `${String(i).padStart(4, '0')}-${f.split('/').pop()}`);
    if (!edit) {
      copyFileSync(f, out);
      return;
    }
    const bytes = readFileSync(f);
    const message = dcmjs.data.DicomMessage.readFile(
      bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length),
    );
    edit(i, message.dict as Record<string, { Value?: unknown[] }>);
    writeFileSync(out, Buffer.from((message as unknown as { write(): ArrayBuffer }).write()));
  });
  return dir;
}
const slicesOf = (dir: string) =>
  readdirSync(dir)
    .sort()
    .map((f) => join(dir, f));

test('IBSI PET series equal the NIfTI made from them: size, spacing, origin, direction, values', { skip }, async () => {
  for (const c of ['STS_001', 'STS_002', 'STS_003', 'STS_004']) {
    const a = await data.readVolume(ibsi(c));
    const b = await data.readVolume(join(shared, 'pet-sts', c, 'PET_image.nii.gz'));
    assert.deepEqual(a.size, b.size, c);
    assert.equal(b.units, undefined, 'a NIfTI cannot say it holds SUV');
    for (const k of ['spacing', 'origin', 'direction'] as const) {
      a[k].forEach((v, i) => assert.ok(Math.abs(v - b[k][i]) < 1e-3, `${c} ${k}: ${a[k].join()} vs ${b[k].join()}`));
    }
    let worst = 0;
    for (let i = 0; i < a.data.length; i++)
      worst = Math.max(worst, Math.abs(a.data[i] - b.data[i]) / (1 + Math.abs(b.data[i])));
    assert.ok(worst < 1e-5, `${c}: values differ by up to ${worst} (relative)`);
  }
});

test(
  'an unsorted CT series named by UID comes out in slice order; info says what the series is',
  { skip },
  async () => {
    const dir = join(shared, 'dicom', 'totalsegmentator-ct');
    const v = await data.readVolume(dir);
    assert.deepEqual(v.size, [512, 512, 20]);
    assert.equal(v.units, undefined, 'CT is not SUV');
    assert.ok(Math.abs(v.spacing[2] - 2) < 1e-3);
    const [series] = listDicomSeries(dir);
    assert.equal(series.modality, 'CT');
    const z = series.files.map((f) => {
      const bytes = readFileSync(f);
      const m = dcmjs.data.DicomMessage.readFile(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
      return Number(
        dcmjs.data.DicomMetaDictionary.naturalizeDataset(m.dict).ImagePositionPatient?.toString().split(',')[2],
      );
    });
    assert.deepEqual(
      z,
      [...z].sort((p, q) => p - q),
      'files in position order',
    );
    const bin = fileURLToPath(new URL('../../bin/comboseg.js', import.meta.url));
    const info = spawnSync(process.execPath, [bin, 'info', ibsi('STS_001')], { encoding: 'utf8' });
    assert.equal(info.status, 0, info.stderr);
    assert.match(info.stdout, /DICOM +PT .*59 slices/);
    assert.match(info.stdout, /PET units +SUV \(body weight\) as stored \(Units GML\)/);
    assert.equal(info.stderr, '', 'nothing printed by the DICOM parser');
  },
);

/** readVolume(dir) rejects with a ComboSegError naming `dir` whose message matches `why`. */
async function refuses(dir: string, why: RegExp, series?: string): Promise<void> {
  await assert.rejects(data.readVolume(dir, { series }), (e: unknown) => {
    assert.ok(e instanceof ComboSegError, String(e));
    assert.ok(e.message.startsWith(`${dir}: `), e.message);
    assert.match(e.message, why);
    return true;
  });
}

test(
  'broken series: a missing slice, two series, a non-DICOM file, mixed orientations, a gantry tilt',
  { skip },
  async () => {
    const pet = slicesOf(ibsi('STS_002'));
    await refuses(
      folder(
        'missing',
        pet.filter((_, i) => i !== 20),
      ),
      /a slice is missing between .* \(gap 6\.54 mm, others 3\.27\)/,
    );
    const both = folder('two', [...pet, ...slicesOf(ibsi('STS_002', 'CT'))]);
    await refuses(both, /holds 2 series; choose one with --series UID:\n {2}[\d.]+: (PT|CT) .*48 slice/);
    const uid = listDicomSeries(both).find((s) => s.modality === 'PT')?.uid as string;
    assert.deepEqual((await data.readVolume(both, { series: uid })).size, [30, 27, 48], 'the chosen series reads');
    await refuses(both, /no series 1\.2\.3; the folder holds/, '1.2.3');
    const stray = folder('stray', pet);
    writeFileSync(join(stray, 'notes.txt'), 'not a slice');
    await refuses(stray, /notes\.txt is not a DICOM file/);
    const mixed = folder('mixed', pet, (i, t) => {
      if (i === 5) t['00200037'].Value = [1, 0, 0, 0, 0.9998, 0.02];
    });
    await refuses(mixed, /mixed orientations \(0005-.* differs from the others\)/);
    const tilted = folder('tilted', pet, (i, t) => {
      const p = t['00200032'].Value as number[];
      t['00200032'].Value = [p[0], p[1] + 0.5 * i, p[2]]; // each slice shifted further along y: sheared
    });
    await refuses(tilted, /not stacked along their normal \(a gantry tilt or a sheared series\)/);
  },
);

test('a DICOM-only data set (PET series + RTSTRUCT per case) trains directly', { skip }, async () => {
  const r = await training.train({
    data: {
      cases: join(shared, 'dicom', 'ibsi-sts'),
      image: 'PET/image',
      label: 'PET/mask/RS.dcm',
      labelNames: { '1': 'tumour' },
    },
    split: { validation: 0.25, seed: 0 },
    sampler: { kind: 'whole', patchSize: 32 },
    network: { name: 'proposed', options: { channels: [4, 8] } },
    loss: { name: 'combo', options: {} },
    inference: { mode: 'whole' },
    epochs: 1,
    out: join(root, 'dicom-run'),
  });
  assert.equal(r.records.length, 1);
  assert.equal(typeof r.records[0].meanDice, 'number', 'the validation case (a series + RTSTRUCT) was scored');
  // predict -i SERIES_FOLDER: the series is one scan, the label map on its grid.
  const bin = fileURLToPath(new URL('../../bin/comboseg.js', import.meta.url));
  const out = join(root, 'pred.nii.gz');
  const args = ['predict', '--model', join(root, 'dicom-run', 'best'), '-i', ibsi('STS_003'), '-o', out];
  const p = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
  assert.equal(p.status, 0, p.stderr);
  const [pred, scan] = [await data.readVolume(out), await data.readVolume(ibsi('STS_003'))];
  assert.deepEqual(pred.size, scan.size);
  // Two series in one folder: --series picks one; without it, one error listing them.
  const both = folder('predict-two', [...slicesOf(ibsi('STS_003')), ...slicesOf(ibsi('STS_003', 'CT'))]);
  const uid = listDicomSeries(both).find((x) => x.modality === 'PT')?.uid as string;
  const out2 = join(root, 'pred-two.nii.gz');
  const model = ['--model', join(root, 'dicom-run', 'best')];
  const ok = spawnSync(process.execPath, [bin, 'predict', ...model, '-i', both, '-o', out2, '--series', uid], {
    encoding: 'utf8',
  });
  assert.equal(ok.status, 0, ok.stderr);
  assert.deepEqual((await data.readVolume(out2)).size, scan.size);
  const refused = spawnSync(process.execPath, [bin, 'predict', ...model, '-i', both, '-o', out2], { encoding: 'utf8' });
  assert.notEqual(refused.status, 0);
  assert.match(refused.stderr, /holds 2 series; choose one with --series UID/);
});

test('an RTSTRUCT drawn on another series than the case image is refused, naming both', { skip }, async () => {
  const c = {
    id: 'STS_001',
    image: ibsi('STS_001', 'CT'),
    label: join(shared, 'dicom', 'ibsi-sts', 'STS_001', 'PET', 'mask', 'RS.dcm'),
  };
  await assert.rejects(
    data.loadCase(c),
    /case 'STS_001': .*RS\.dcm was drawn on series [\d.]+, not on the image's series/,
  );
});

test('PET in Bq/mL becomes SUV (body weight), decay-corrected to injection: checked by hand', { skip }, async () => {
  // STS_002's PET (stored as SUV, Units GML) relabelled as activity concentration: reading it must multiply
  // every voxel by weight / (dose · 2^(−t / half-life)), t from injection (13:51:00) to the series (14:57:59).
  const bq = folder('bqml', slicesOf(ibsi('STS_002')), (_i, t) => {
    t['00541001'].Value = ['BQML'];
    t['00541102'].Value = ['START'];
    const rp = (t['00540016'].Value as Record<string, { Value?: unknown[] }>[])[0];
    rp['00181078'].Value = ['20060128135100'];
  });
  const factor = 99_000 / (433_344_096 * 2 ** (-(3600 + 6 * 60 + 59) / 6588));
  const [suv, stored] = [await data.readVolume(bq), await data.readVolume(ibsi('STS_002'))];
  assert.equal(suv.units, 'SUV', 'computed SUV is marked as SUV (shown in the SUV window)');
  assert.equal(stored.units, 'SUV', 'so is PET stored in SUV (Units GML)');
  for (let i = 0; i < stored.data.length; i += 97) {
    assert.ok(
      Math.abs(suv.data[i] - stored.data[i] * factor) <= 1e-6 * (1 + Math.abs(stored.data[i] * factor)),
      `${i}`,
    );
  }
  const bin = fileURLToPath(new URL('../../bin/comboseg.js', import.meta.url));
  const info = spawnSync(process.execPath, [bin, 'info', bq], { encoding: 'utf8' });
  assert.match(info.stdout, /PET units +SUV \(body weight\), computed from BQML/);
});
