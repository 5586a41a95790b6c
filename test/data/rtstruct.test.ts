// DICOM RTSTRUCT → label map: the IBSI soft-tissue-sarcoma structure sets rasterised onto their PET
// grids agree with the NIfTI masks; hand-made contours (written as DICOM with dcmjs) give exactly the
// voxels the centre rule says, holes by even-odd; bad files and oblique contours give clear errors;
// case folders and `evaluate --truth` take an RTSTRUCT.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ComboSegError } from '../../src/engine/errors.js';
import { readLabels, readVolume } from '../../src/data/io.js';
import { loadCase, readCaseFolders } from '../../src/data/datasets.js';
import {
  isRtstruct,
  rasteriseRtstruct,
  readRtstruct,
  RTSTRUCT_SOP_CLASS,
  type Rtstruct,
} from '../../src/data/rtstruct.js';
import type { Geometry, Vec3, Volume } from '../../src/data/volume.js';
import { evaluateCommand } from '../../src/cli/evaluate.js';
import { SHARED_DATA, skipWithoutData } from './shared-data.js';

const dcmjs = createRequire(import.meta.url)('dcmjs');
const IBSI = join(SHARED_DATA, 'dicom', 'ibsi-sts');
const PET_STS = join(SHARED_DATA, 'pet-sts');
const rsOf = (n: number) => join(IBSI, `STS_00${n}`, 'PET', 'mask', 'RS.dcm');
const tmp = () => mkdtempSync(join(tmpdir(), 'comboseg-rtstruct-'));

/** Writes a naturalized dataset as a DICOM Part 10 file (explicit VR little endian). */
function writeDicom(path: string, dataset: Record<string, unknown>): void {
  const meta = {
    MediaStorageSOPClassUID: dataset.SOPClassUID,
    MediaStorageSOPInstanceUID: dataset.SOPInstanceUID,
    TransferSyntaxUID: '1.2.840.10008.1.2.1',
    ImplementationClassUID: '1.2.3.4.5',
  };
  const dict = new dcmjs.data.DicomDict(dcmjs.data.DicomMetaDictionary.denaturalizeDataset(meta));
  dict.dict = dcmjs.data.DicomMetaDictionary.denaturalizeDataset({ _vrMap: {}, ...dataset });
  writeFileSync(path, Buffer.from(dict.write()));
}

/** A structure set whose ROIs hold the given polygons (each a list of LPS points). */
function structureSet(rois: { name: string; polygons: Vec3[][] }[], modality = 'RTSTRUCT'): Record<string, unknown> {
  return {
    SOPClassUID: modality === 'RTSTRUCT' ? RTSTRUCT_SOP_CLASS : '1.2.840.10008.5.1.4.1.1.2',
    SOPInstanceUID: '1.2.3.4.5.6',
    Modality: modality,
    FrameOfReferenceUID: '1.2.3.9',
    ReferencedFrameOfReferenceSequence: [
      {
        FrameOfReferenceUID: '1.2.3.9',
        RTReferencedStudySequence: [
          {
            ReferencedSOPClassUID: '1.2.840.10008.3.1.2.3.1',
            ReferencedSOPInstanceUID: '1.2.3.7',
            RTReferencedSeriesSequence: [{ SeriesInstanceUID: '1.2.3.8' }],
          },
        ],
      },
    ],
    StructureSetROISequence: rois.map((r, k) => ({
      ROINumber: k + 1,
      ROIName: r.name,
      ReferencedFrameOfReferenceUID: '1.2.3.9',
    })),
    ROIContourSequence: rois.map((r, k) => ({
      ReferencedROINumber: k + 1,
      ContourSequence: r.polygons.map((pts) => ({
        ContourGeometricType: 'CLOSED_PLANAR',
        NumberOfContourPoints: pts.length,
        ContourData: pts.flat(),
      })),
    })),
  };
}

/** A tiny identity-direction grid: voxel (i, j, k) has its centre at origin + (i, j, k) · spacing. */
const grid = (
  size: Vec3,
  spacing: Vec3 = [1, 1, 1],
  origin: Vec3 = [0, 0, 0],
  direction = [1, 0, 0, 0, 1, 0, 0, 0, 1],
): Geometry => ({ size, spacing, origin, direction });
/** The (i, j) of the voxels of slice k holding `value`, as 'i,j' strings, sorted. */
function voxelsOf(v: Volume, k: number, value = 1): string[] {
  const [nx, ny] = v.size;
  const out: string[] = [];
  for (let j = 0; j < ny; j++)
    for (let i = 0; i < nx; i++) if (v.data[(k * ny + j) * nx + i] === value) out.push(`${i},${j}`);
  return out.sort();
}
/** Voxels holding `value` (any label when it is not given). */
function count(v: Volume, value?: number): number {
  let n = 0;
  for (const x of v.data) n += Number(value === undefined ? x > 0 : x === value);
  return n;
}
const rectangle = (x0: number, y0: number, x1: number, y1: number, z: number): Vec3[] => [
  [x0, y0, z],
  [x1, y0, z],
  [x1, y1, z],
  [x0, y1, z],
];
const square = (lo: number, hi: number, z: number) => rectangle(lo, lo, hi, hi, z);
const expected = (i0: number, i1: number, j0: number, j1: number) => {
  const out: string[] = [];
  for (let j = j0; j <= j1; j++) for (let i = i0; i <= i1; i++) out.push(`${i},${j}`);
  return out.sort();
};
const inMemory = (rois: { name: string; polygons: Vec3[][] }[]): Rtstruct => ({
  path: 'memory.dcm',
  rois: rois.map((r, k) => ({
    number: k + 1,
    name: r.name,
    contours: r.polygons.map((p) => Float64Array.from(p.flat())),
  })),
  frameOfReferenceUids: [],
  seriesInstanceUids: [],
  ignoredContours: 0,
});

function dice(a: Volume, b: Volume): number {
  let na = 0,
    nb = 0,
    both = 0;
  for (let i = 0; i < a.data.length; i++) {
    const x = a.data[i] > 0,
      y = b.data[i] > 0;
    na += Number(x);
    nb += Number(y);
    both += Number(x && y);
  }
  return (2 * both) / (na + nb);
}

for (const n of [1, 2, 3, 4]) {
  test(
    `IBSI STS_00${n}: RS.dcm rasterised onto the PET grid agrees with PET_mask.nii.gz (Dice ≥ 0.95)`,
    { skip: skipWithoutData },
    async () => {
      const rt = await readRtstruct(rsOf(n));
      assert.ok(await isRtstruct(rsOf(n)));
      assert.ok(
        rt.rois.some((r) => r.name.startsWith('GTV_Mass')),
        `ROIs: ${rt.rois.map((r) => r.name).join(', ')}`,
      );
      assert.equal(rt.frameOfReferenceUids.length, 1);
      assert.equal(rt.seriesInstanceUids.length, 1);
      const image = await readVolume(join(PET_STS, `STS_00${n}`, 'PET_image.nii.gz'));
      const truth = await readLabels(join(PET_STS, `STS_00${n}`, 'PET_mask.nii.gz'));
      const { labels, names, offGrid } = rasteriseRtstruct(rt, image);
      const d = dice(labels, truth);
      console.log(
        `STS_00${n}: ${names[1]}: ${count(labels)} voxels vs ${count(truth)} in PET_mask; Dice ${d.toFixed(4)}`,
      );
      assert.ok(d >= 0.95, `Dice ${d}`);
      assert.equal(offGrid, 0);
      assert.equal(labels.pixelType, 'uint8');
      assert.deepEqual(labels.size, image.size);
    },
  );
}

test('a square with corners on voxel centres: [low, high) along i and j (centres on low edges inside)', async () => {
  const dir = tmp();
  const rs = join(dir, 'RS.dcm');
  // Corners on the centres of voxels (1, 1) and (4, 3) of slice 2 (spacing 2 mm, origin 10 mm).
  writeDicom(rs, structureSet([{ name: 'Square', polygons: [rectangle(12, 12, 18, 16, 14)] }]));
  assert.ok(await isRtstruct(rs));
  const rt = await readRtstruct(rs);
  assert.deepEqual(
    rt.rois.map((r) => [r.number, r.name, r.contours.length]),
    [[1, 'Square', 1]],
  );
  assert.deepEqual(rt.seriesInstanceUids, ['1.2.3.8']);
  assert.deepEqual(rt.frameOfReferenceUids, ['1.2.3.9']);
  const g = grid([6, 5, 4], [2, 2, 2], [10, 10, 10]);
  const { labels, names, offGrid } = rasteriseRtstruct(rt, g);
  assert.deepEqual(names, { 1: 'Square' });
  assert.equal(offGrid, 0);
  // Centres on the edges x = 12 and y = 12 (low index) are inside; on x = 18 and y = 16 (high) outside.
  assert.deepEqual(voxelsOf(labels, 2), expected(1, 3, 1, 2));
  assert.equal(count(labels), 6);
  // Strictly inside or outside: a square with edges between centres holds exactly the centres it covers.
  const half = rasteriseRtstruct(inMemory([{ name: 'A', polygons: [square(0.5, 3.5, 0)] }]), grid([5, 5, 1]));
  assert.deepEqual(voxelsOf(half.labels, 0), expected(1, 3, 1, 3));
});

test('two nested contours of one ROI make a hole (even-odd); an island in the hole is inside again', () => {
  const rt = inMemory([{ name: 'Ring', polygons: [square(-0.5, 6.5, 0), square(1.5, 5.5, 0), square(2.5, 4.5, 0)] }]);
  const { labels } = rasteriseRtstruct(rt, grid([7, 7, 1]));
  const outer = expected(0, 6, 0, 6),
    hole = expected(2, 5, 2, 5),
    island = expected(3, 4, 3, 4);
  const want = outer
    .filter((v) => !hole.includes(v))
    .concat(island)
    .sort();
  assert.deepEqual(voxelsOf(labels, 0), want);
});

test('ROIs: value k + 1 in file order, or in the order o.rois names them; a later ROI overwrites', () => {
  const rt = inMemory([
    { name: 'Big', polygons: [square(-0.5, 3.5, 0)] },
    { name: 'Small', polygons: [square(0.5, 1.5, 0)] },
  ]);
  const all = rasteriseRtstruct(rt, grid([4, 4, 1]));
  assert.deepEqual(all.names, { 1: 'Big', 2: 'Small' });
  assert.deepEqual([count(all.labels, 1), count(all.labels, 2)], [15, 1]);
  const picked = rasteriseRtstruct(rt, grid([4, 4, 1]), { rois: ['small'] });
  assert.deepEqual(picked.names, { 1: 'Small' });
  assert.equal(count(picked.labels, 1), 1);
  assert.throws(
    () => rasteriseRtstruct(rt, grid([4, 4, 1]), { rois: ['Liver'] }),
    /no ROI named 'Liver'; its ROIs are 'Big', 'Small'/,
  );
});

test('slices: a contour goes to the slice within half a thickness; off-grid contours are counted and left out', () => {
  // Spacing 3 mm along z: planes at z = 4.4 (k 1.47 → 1) and 7.6 (k 2.53 → 3).
  const g = grid([4, 4, 5], [1, 1, 3]);
  const rt = inMemory([
    { name: 'A', polygons: [square(0.5, 2.5, 4.4), square(0.5, 2.5, 7.6), square(0.5, 2.5, 40), square(50, 60, 3)] },
  ]);
  const { labels, offGrid } = rasteriseRtstruct(rt, g);
  assert.equal(offGrid, 2);
  assert.deepEqual(
    [0, 1, 2, 3, 4].map((k) => voxelsOf(labels, k).length),
    [0, 4, 0, 4, 0],
  );
  // Every contour off the grid: the structure set of another series.
  const away = inMemory([{ name: 'A', polygons: [square(0.5, 2.5, 400)] }]);
  assert.throws(() => rasteriseRtstruct(away, g), /memory\.dcm: none of its 1 contour\(s\) lies on the grid/);
});

test('any direction: a grid flipped and rotated gives the same voxels in the patient', () => {
  // Axes i → -y, j → +x, k → -z; spacing 1; voxel (i, j, k) at (j, 9 - i, 5 - k).
  const g = grid([10, 10, 6], [1, 1, 1], [0, 9, 5], [0, 1, 0, -1, 0, 0, 0, 0, -1]);
  const rt = inMemory([{ name: 'A', polygons: [rectangle(1.5, 2.5, 3.5, 6.5, 2)] }]); // x 2–3, y 3–6, z 2
  const { labels } = rasteriseRtstruct(rt, g);
  // x 2..3 → j 2..3; y 3..6 → i 3..6; z 2 → k 3.
  assert.deepEqual(voxelsOf(labels, 3), expected(3, 6, 2, 3));
  assert.equal(count(labels), 8);
});

test('a contour not parallel to the grid slices is an error naming the file and the contour', () => {
  const oblique: Vec3[] = [
    [0, 0, 0],
    [3, 0, 1.5],
    [3, 3, 1.5],
    [0, 3, 0],
  ];
  const rt = inMemory([{ name: 'Tilted', polygons: [oblique] }]);
  assert.throws(
    () => rasteriseRtstruct(rt, grid([4, 4, 4])),
    (e: unknown) =>
      e instanceof ComboSegError &&
      e.code === 'invalid-input' &&
      e.path === 'memory.dcm' &&
      /memory\.dcm: ROI 'Tilted' contour 1 is not in a plane parallel to the grid's slices/.test(e.message),
  );
  // Axial contours on a sagittal grid (slices along x) are not in its slice planes either.
  const sagittal = grid([4, 4, 4], [1, 1, 1], [0, 0, 0], [0, 0, 1, 1, 0, 0, 0, 1, 0]);
  assert.throws(
    () => rasteriseRtstruct(inMemory([{ name: 'A', polygons: [square(0, 3, 1)] }]), sagittal),
    /not in a plane parallel/,
  );
});

test('bad files: not DICOM, DICOM not an RTSTRUCT, no contours, missing: clear errors naming the file', async () => {
  const dir = tmp();
  const text = join(dir, 'notes.dcm');
  writeFileSync(text, 'not a DICOM file at all '.repeat(20));
  const ct = join(dir, 'CT.dcm');
  writeDicom(ct, structureSet([{ name: 'A', polygons: [square(0, 3, 1)] }], 'CT'));
  const empty = join(dir, 'empty.dcm');
  writeDicom(empty, structureSet([{ name: 'Nothing', polygons: [] }]));
  const cases: [string, RegExp, string][] = [
    [text, /notes\.dcm: not a DICOM file \(no 'DICM' marker at byte 128\)/, 'bad-file'],
    [
      ct,
      /CT\.dcm: a DICOM file but not an RTSTRUCT \(Modality CT, SOP class 1\.2\.840\.10008\.5\.1\.4\.1\.1\.2\)/,
      'bad-file',
    ],
    [empty, /empty\.dcm: no contours: its 1 ROI\(s\) hold no closed planar contour/, 'invalid-input'],
    [join(dir, 'absent.dcm'), /absent\.dcm: no such file/, 'not-found'],
  ];
  for (const [file, message, code] of cases) {
    await assert.rejects(readRtstruct(file), (e: unknown) => {
      assert.ok(e instanceof ComboSegError, String(e));
      assert.match(e.message, message);
      assert.equal(e.code, code);
      assert.equal(e.path, file);
      return true;
    });
    assert.equal(await isRtstruct(file), file === empty, file); // an RTSTRUCT without contours is one
  }
  assert.equal(await isRtstruct(dir), false);
});

test('a real non-RTSTRUCT DICOM (a PET slice) and a NIfTI are refused by name', { skip: skipWithoutData }, async () => {
  const slice = join(IBSI, 'STS_001', 'PET', 'image', '000000.dcm');
  await assert.rejects(readRtstruct(slice), /000000\.dcm: a DICOM file but not an RTSTRUCT \(Modality PT/);
  const nifti = join(PET_STS, 'STS_001', 'PET_image.nii.gz');
  await assert.rejects(readRtstruct(nifti), /PET_image\.nii\.gz: not a DICOM file/);
  assert.equal(await isRtstruct(slice), false);
  assert.equal(await isRtstruct(nifti), false);
});

test(
  'loadCase: a case folder whose label is an RTSTRUCT rasterises it onto the image grid',
  { skip: skipWithoutData },
  async () => {
    const root = tmp();
    for (const n of [2, 3]) {
      mkdirSync(join(root, `STS_00${n}`));
      symlinkSync(join(PET_STS, `STS_00${n}`, 'PET_image.nii.gz'), join(root, `STS_00${n}`, 'PET_image.nii.gz'));
      symlinkSync(rsOf(n), join(root, `STS_00${n}`, 'RS.dcm'));
    }
    const ds = readCaseFolders(root, 'PET_image.nii.gz', 'RS.dcm', { 1: 'GTV' });
    assert.deepEqual(
      ds.training.map((c) => c.id),
      ['STS_002', 'STS_003'],
    );
    for (const c of ds.training) {
      const { image, labels } = await loadCase(c);
      assert.ok(labels);
      assert.deepEqual(labels.size, image.size);
      const truth = await readLabels(join(PET_STS, c.id, 'PET_mask.nii.gz'));
      assert.ok(dice(labels, truth) >= 0.95, `${c.id}: Dice ${dice(labels, truth)}`);
      assert.deepEqual([...new Set(labels.data)].sort(), [0, 1]);
    }
  },
);

test(
  'evaluate --truth RS.dcm rasterises it onto the prediction grid, named by the ROI',
  { skip: skipWithoutData },
  async () => {
    const dir = tmp();
    const pred = join(dir, 'STS_002.nii.gz');
    symlinkSync(join(PET_STS, 'STS_002', 'PET_mask.nii.gz'), pred);
    const out: string[] = [];
    const log = console.log;
    console.log = (s: string) => out.push(s);
    try {
      await evaluateCommand().parseAsync(['--pred', dir, '--truth', rsOf(2), '--json'], { from: 'user' });
    } finally {
      console.log = log;
    }
    const { cases } = JSON.parse(out.join('\n'));
    assert.equal(cases.length, 1);
    assert.equal(cases[0].id, 'STS_002');
    const [name] = Object.keys(cases[0].organs);
    assert.match(name, /^GTV_Mass/);
    assert.ok(cases[0].organs[name].dice >= 0.95, JSON.stringify(cases[0].organs[name]));
  },
);
