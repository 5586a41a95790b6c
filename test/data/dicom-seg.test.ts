// DICOM SEG out and back in: a label map on the grid of a real PET series (IBSI STS_001, 41 × 43 pixels a
// slice) written as a SEG referencing that series, read back (readDicomSeg), parsed by dcmjs and its frames
// unpacked here per the standard; on a 40 × 40 crop of the series (frames of whole bytes), read back by
// itk-wasm's own SEG reader (dcmqi) as well.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ComboSegError } from '../../src/engine/errors.js';
import { readLabels, readVolume, writeVolume } from '../../src/data/io.js';
import { dicomSeriesFiles, readDicomSeg, sortDicomSlices, writeDicomSeg } from '../../src/data/dicom-seg.js';
import { itkReadDicomSeg } from '../../src/data/itk.js';
import { organColour } from '../../src/data/palette.js';
import { sameGrid, type Volume } from '../../src/data/volume.js';
import { dicomSegInputs, formatFlag, predictCommand } from '../../src/cli/predict.js';
import { create } from '../../src/networks/registry.js';
import { loadModel, saveModel } from '../../src/inference/model.js';
import { predictEnsemble } from '../../src/inference/ensemble.js';
import type { JsonValue } from '../../src/engine/safetensors.js';
import { toJson } from '../../src/util/json.js';
import { SHARED_DATA, skipWithoutData } from './shared-data.js';

type Tags = Record<string, unknown>;
type Element = { vr: string; Value: unknown[] };
const dcmjs = createRequire(import.meta.url)('dcmjs') as {
  log: { getLogger(name: string): { setLevel(level: string): void } };
  data: {
    DicomMessage: {
      readFile(b: ArrayBuffer, o?: { untilTag?: string }): { dict: Record<string, Element>; write(): ArrayBuffer };
    };
    DicomMetaDictionary: { naturalizeDataset(dict: unknown): Tags };
  };
};
dcmjs.log.getLogger('validation.dcmjs').setLevel('silent');
const readDicom = (file: string, untilTag?: string) => {
  const b = readFileSync(file);
  return dcmjs.data.DicomMessage.readFile(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength), { untilTag });
};
const parse = (file: string, untilTag?: string): Tags =>
  dcmjs.data.DicomMetaDictionary.naturalizeDataset(readDicom(file, untilTag).dict);
const seq = (v: unknown): Tags[] => (Array.isArray(v) ? (v as Tags[]) : v === undefined ? [] : [v as Tags]);

const PET = join(SHARED_DATA, 'dicom/ibsi-sts/STS_001/PET/image');
const MASK = join(SHARED_DATA, 'pet-sts/STS_001/PET_mask.nii.gz');
/** The tumour of the mask, an organ with no voxel, and a synthetic box at a value that is not its rank. */
const LABEL_SET = { values: [1, 3, 5], names: ['tumour', 'empty organ', 'box'] };
const skip = skipWithoutData;

/** The PET series' files (sorted by name: slice order) and the mask plus a box (value 5), on its grid. */
async function fixture(): Promise<{ files: string[]; labels: Volume }> {
  const files = readdirSync(PET)
    .sort()
    .map((f) => join(PET, f));
  const mask = await readLabels(MASK);
  const data = Uint8Array.from(mask.data);
  const [X, Y] = mask.size;
  for (let z = 20; z < 26; z++) for (let y = 2; y < 9; y++) for (let x = 30; x < 38; x++) data[x + X * (y + Y * z)] = 5;
  return { files, labels: { ...mask, data, pixelType: 'uint8' } };
}

const tmp = (name: string) => mkdtempSync(join(tmpdir(), `comboseg-dicom-seg-${name}-`));

/** The series cropped to its first 40 × 40 pixels (the origin stays), written to `dir` with dcmjs. */
function cropSeries(files: string[], dir: string): string[] {
  return files.map((file, i) => {
    const d = readDicom(file);
    const [R, C] = [Number(d.dict['00280010'].Value[0]), Number(d.dict['00280011'].Value[0])];
    const src = new Uint16Array(d.dict['7FE00010'].Value[0] as ArrayBuffer);
    const out = new Uint16Array(40 * 40);
    for (let y = 0; y < Math.min(40, R); y++) out.set(src.subarray(y * C, y * C + 40), y * 40);
    d.dict['00280010'].Value = [40];
    d.dict['00280011'].Value = [40];
    d.dict['7FE00010'].Value = [out.buffer];
    const path = join(dir, `slice${String(i).padStart(3, '0')}.dcm`);
    writeFileSync(path, Buffer.from(d.write()));
    return path;
  });
}

/** The same label map cut to the first 40 × 40 pixels of each slice. */
function cropLabels(l: Volume): Volume {
  const [X, Y, Z] = l.size;
  const data = new Uint8Array(40 * 40 * Z);
  for (let z = 0; z < Z; z++)
    for (let y = 0; y < 40; y++) data.set(l.data.subarray(X * (y + Y * z), X * (y + Y * z) + 40), 40 * (y + 40 * z));
  return { ...l, size: [40, 40, Z], data };
}

/** A SEG's frames unpacked as the standard packs them (PS3.5 8.1.1: one after another, no padding). */
function standardVoxels(seg: Tags, like: Volume, valueOf: Map<number, number>): Uint8Array {
  const [R, C] = [Number(seg.Rows), Number(seg.Columns)];
  const bytes = new Uint8Array((seg.PixelData as ArrayBuffer[])[0]);
  const out = new Uint8Array(like.data.length);
  seq(seg.PerFrameFunctionalGroupsSequence).forEach((g, f) => {
    const segment = Number(seq(g.SegmentIdentificationSequence)[0].ReferencedSegmentNumber);
    const z = (seq(g.PlanePositionSequence)[0].ImagePositionPatient as number[])[2];
    const slice = Math.round((z - like.origin[2]) / like.spacing[2]);
    for (let p = 0; p < R * C; p++) {
      const bit = f * R * C + p;
      if ((bytes[bit >> 3] >> (bit & 7)) & 1) out[slice * R * C + p] = valueOf.get(segment) ?? 255;
    }
  });
  return out;
}

test(
  'writeDicomSeg → readDicomSeg: the same voxels, label values and names; no segment for an empty organ',
  { skip },
  async () => {
    const { files, labels } = await fixture();
    const dir = tmp('roundtrip');
    try {
      const out = join(dir, 'seg.dcm');
      await writeDicomSeg(out, labels, LABEL_SET, [...files].reverse()); // any order: sorted by position
      assert.deepEqual(readdirSync(dir), ['seg.dcm'], 'no temporary file left');
      const back = await readDicomSeg(out);
      assert.deepEqual(back.segments, [
        { value: 1, name: 'tumour' },
        { value: 5, name: 'box' },
      ]);
      assert.ok(sameGrid(back.labels, labels), 'read back on the series grid');
      assert.equal(back.labels.pixelType, 'uint8');
      assert.ok(Buffer.from(back.labels.data.buffer).equals(Buffer.from(labels.data.buffer)), 'identical voxels');
      assert.ok(back.labels.data.includes(1) && back.labels.data.includes(5));
      // The colours of the label set (palette.ts's organColour by value), as dcmqi reads them back.
      const { metaInfo } = await itkReadDicomSeg(out);
      type Attrs = { SegmentLabel: string; recommendedDisplayRGBValue: number[] };
      const attrs = (metaInfo as { segmentAttributes: Attrs[][] }).segmentAttributes.flat();
      const colours = Object.fromEntries(attrs.map((a) => [a.SegmentLabel, a.recommendedDisplayRGBValue]));
      assert.deepEqual(colours, { tumour: organColour(1), box: organColour(5) });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test(
  'the SEG as dcmjs parses it: Modality SEG, the SEG SOP class, every source instance referenced, segments described',
  { skip },
  async () => {
    const { files, labels } = await fixture();
    const dir = tmp('dcmjs');
    try {
      const out = join(dir, 'seg.dcm');
      await writeDicomSeg(out, labels, LABEL_SET, files);
      const seg = parse(out);
      const sources = files.map((f) => parse(f, '7FE00010'));
      assert.equal(seg.Modality, 'SEG');
      assert.equal(seg.SOPClassUID, '1.2.840.10008.5.1.4.1.1.66.4');
      assert.equal(seg.StudyInstanceUID, sources[0].StudyInstanceUID);
      assert.equal(seg.FrameOfReferenceUID, sources[0].FrameOfReferenceUID);
      const [series, ...more] = seq(seg.ReferencedSeriesSequence);
      assert.equal(more.length, 0);
      assert.equal(series.SeriesInstanceUID, sources[0].SeriesInstanceUID);
      const referenced = seq(series.ReferencedInstanceSequence).map((r) => r.ReferencedSOPInstanceUID);
      assert.deepEqual(new Set(referenced), new Set(sources.map((s) => s.SOPInstanceUID)));
      assert.equal(referenced.length, files.length, 'every instance, once');
      assert.equal(Number(seg.NumberOfFrames), 2 * files.length, 'two segments, every slice');
      const segments = seq(seg.SegmentSequence);
      assert.deepEqual(
        segments.map((s) => [s.SegmentNumber, s.SegmentLabel, s.SegmentDescription]),
        [
          [1, 'tumour', 'tumour (comboseg label 1)'],
          [2, 'box', 'box (comboseg label 5)'],
        ],
      );
      for (const s of segments) {
        assert.equal(s.SegmentAlgorithmType, 'AUTOMATIC');
        assert.equal(s.SegmentAlgorithmName, 'comboseg');
        const lab = s.RecommendedDisplayCIELabValue as number[];
        assert.equal(lab.length, 3);
        assert.ok(lab.every((v) => Number.isInteger(v) && v >= 0 && v <= 65535));
        assert.equal(seq(s.SegmentedPropertyCategoryCodeSequence)[0].CodeMeaning, 'Tissue');
        assert.equal(seq(s.SegmentedPropertyTypeCodeSequence)[0].CodeValue, '113343008');
      }
      assert.notDeepEqual(segments[0].RecommendedDisplayCIELabValue, segments[1].RecommendedDisplayCIELabValue);
      // The frames as the standard packs them hold the label map (41 × 43 pixels: frames share bytes).
      const voxels = standardVoxels(
        seg,
        labels,
        new Map([
          [1, 1],
          [2, 5],
        ]),
      );
      assert.ok(Buffer.from(voxels).equals(Buffer.from(labels.data.buffer)), 'PixelData packed per PS3.5 8.1.1');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test("frames of whole bytes (a 40 × 40 crop): itk-wasm's own SEG reader reads the same voxels", { skip }, async () => {
  const { files, labels } = await fixture();
  const dir = tmp('aligned');
  try {
    const series = join(dir, 'series');
    mkdirSync(series);
    const cropped = cropLabels(labels);
    const out = join(dir, 'seg.dcm');
    await writeDicomSeg(out, cropped, LABEL_SET, cropSeries(files, series));
    const back = await readDicomSeg(out);
    assert.ok(sameGrid(back.labels, cropped));
    assert.ok(Buffer.from(back.labels.data.buffer).equals(Buffer.from(cropped.data.buffer)));
    assert.ok(cropped.data.includes(1) && cropped.data.includes(5));
    const dcmqi = await itkReadDicomSeg(out, { overlapping: false }); // readSegmentationNode: segment numbers
    const numbers = Array.from(dcmqi.image.data as Int16Array, (n) => [0, 1, 5][n]);
    assert.deepEqual(numbers, Array.from(cropped.data));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test(
  'writeDicomSeg refuses a label map on another grid (naming both), unknown values, an empty map',
  { skip },
  async () => {
    const { files, labels } = await fixture();
    const dir = tmp('refuse');
    try {
      const out = join(dir, 'seg.dcm');
      const refused = async (l: Volume, pattern: RegExp) =>
        assert.rejects(writeDicomSeg(out, l, LABEL_SET, files), (e: unknown) => {
          assert.ok(e instanceof ComboSegError && e.code === 'invalid-input', String(e));
          assert.match(e.message, pattern);
          return true;
        });
      const shifted = {
        ...labels,
        origin: [labels.origin[0] + 10, labels.origin[1], labels.origin[2]] as typeof labels.origin,
      };
      await refused(
        shifted,
        /not on the grid of the source DICOM series \(origin \[-11\.0938, .*\]\): label map size \[41, 43, 59\], spacing .*; series \(59 files\) size \[41, 43, 59\], .*origin \[-21\.0938, -86\.7188, -881\.3\]/,
      );
      const smaller = {
        ...labels,
        size: [41, 43, 58] as typeof labels.size,
        data: labels.data.subarray(0, 41 * 43 * 58),
      };
      await refused(smaller, /size \[41, 43, 58\] vs \[41, 43, 59\]/);
      const unknown = { ...labels, data: labels.data.map((v) => (v === 5 ? 7 : v)) };
      await refused(unknown, /value\(s\) 7, which are no organ of the label set \(1:tumour, 3:empty organ, 5:box\)/);
      await refused({ ...labels, data: new Uint8Array(labels.data.length) }, /nothing to write: no voxel of tumour/);
      assert.deepEqual(readdirSync(dir), [], 'nothing written');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test(
  'dicomSeriesFiles: a folder of slices in position order, whatever their names; not DICOM: refused',
  { skip },
  async () => {
    const pet = readdirSync(PET).sort();
    assert.deepEqual(
      await dicomSeriesFiles(PET),
      pet.map((f) => join(PET, f)),
    );
    const ct = join(SHARED_DATA, 'dicom/totalsegmentator-ct'); // files named by UID, not in slice order
    const z = (await dicomSeriesFiles(ct)).map((f) => (parse(f, '7FE00010').ImagePositionPatient as number[])[2]);
    assert.equal(z.length, readdirSync(ct).length);
    assert.ok(
      z.every((v, i) => i === 0 || v > z[i - 1]),
      `ascending positions: ${z.join(', ')}`,
    );
    assert.deepEqual(
      sortDicomSlices(
        [...pet].reverse().map((f) => join(PET, f)),
        'x',
      ),
      await dicomSeriesFiles(PET),
    );
    await assert.rejects(
      dicomSeriesFiles(join(SHARED_DATA, 'pet-sts/STS_001')),
      /PET_image\.nii\.gz is not a DICOM file/,
    );
  },
);

test('predict --format: image or dicom-seg; dicom-seg refuses a non-DICOM input before reading the model', async () => {
  assert.equal(formatFlag(undefined), 'image');
  assert.equal(formatFlag('dicom-seg'), 'dicom-seg');
  assert.throws(() => formatFlag('rtstruct'), /--format must be one of 'image', 'dicom-seg', got "rtstruct"/);
  const dir = tmp('cli');
  try {
    const scan = join(dir, 'scan.nii.gz');
    const vol = { size: [4, 4, 4], spacing: [1, 1, 1], origin: [0, 0, 0], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] };
    await writeVolume(scan, { ...(vol as Volume), data: new Float32Array(64), pixelType: 'float32' });
    const run = (input: string) =>
      predictCommand().parseAsync(
        ['--model', 'no-such-run', '-i', input, '-o', join(dir, 'out.dcm'), '--format', 'dicom-seg'],
        {
          from: 'user',
        },
      );
    const refused = (input: string, why: RegExp) =>
      assert.rejects(run(input), (e: unknown) => {
        assert.ok(e instanceof ComboSegError && e.code === 'invalid-option', String(e));
        assert.match(e.message, /^--format dicom-seg writes a DICOM SEG referencing the DICOM series it segments: -i /);
        assert.match(e.message, why);
        return true;
      });
    await refused(scan, /scan\.nii\.gz is a file, not a DICOM series folder \(use --format image\)/);
    await refused(dir, /cli-\w+ is not one DICOM series \(scan\.nii\.gz is not a DICOM file/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('dicomSegInputs: the series folder, its files, and OUT.dcm or OUT/FOLDER.dcm', { skip }, async () => {
  const files = await dicomSeriesFiles(PET);
  assert.deepEqual(await dicomSegInputs(PET, '/x/pred.dcm'), [
    { name: PET, files: [PET], out: '/x/pred.dcm', dicomSource: files },
  ]);
  assert.equal((await dicomSegInputs(PET, '/x/preds'))[0].out, '/x/preds/image.dcm');
});

test(
  'predict --format dicom-seg on the PET series: a SEG of the prediction, read back to its voxels',
  { skip },
  async () => {
    const dir = tmp('predict');
    try {
      const labels = { values: [1, 2], names: ['tumour', 'hot spot'] };
      const net = create('proposed', { channels: [4, 8], inChannels: 1, outChannels: 2, seed: 1, outputBias: 0.2 });
      const model = join(dir, 'model.safetensors');
      saveModel(model, net, {
        network: 'proposed',
        options: toJson(net.options) as Record<string, JsonValue>,
        labels,
        normalisation: { kind: 'zscore', mean: 1, std: 1 },
        perPatchMinMax: false,
        patchSize: [16, 16, 16],
        inference: { mode: 'whole' },
        epoch: 1,
        validationDice: null,
      });
      net.dispose();
      // A copy of the series (a folder of its own, so the output folder is not the input).
      const series = join(dir, 'STS_001_PET');
      mkdirSync(series);
      for (const f of readdirSync(PET)) copyFileSync(join(PET, f), join(series, f));
      const out = join(dir, 'out');
      await predictCommand().parseAsync(
        ['--model', model, '-i', series, '-o', out, '--format', 'dicom-seg', '--precision', 'fp32'],
        {
          from: 'user',
        },
      );
      const back = await readDicomSeg(join(out, 'STS_001_PET.dcm'));
      const loaded = loadModel(model);
      try {
        const expected = predictEnsemble([{ net: loaded.network, meta: loaded.meta }], await readVolume(series), {});
        assert.ok(sameGrid(back.labels, expected.labels));
        assert.deepEqual(Array.from(back.labels.data), Array.from(expected.labels.data));
        const present = labels.values.filter((v) => expected.labels.data.includes(v));
        // Both organs, side by side on every slice: frames of 41 × 43 pixels sharing bytes.
        assert.deepEqual(present, [1, 2]);
        assert.deepEqual(
          back.segments.map((s) => s.value),
          present,
        );
      } finally {
        loaded.network.dispose();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
