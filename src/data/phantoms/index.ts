// Synthetic data sets in the Medical Segmentation Decathlon layout.
import { mkdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { ComboSegError } from '../../engine/errors.js';
import { writeFileAtomic } from '../../util/fs.js';
import { writeVolume } from '../io.js';
import type { Vec3 } from '../volume.js';
import { petPhantom, PET_SHARES } from './pet.js';
import { mriProstatePhantom, PROSTATE_SHARE } from './mri-prostate.js';
import { echoLvPhantom, MYOCARDIUM_SHARE } from './echo-lv.js';
import type { Phantom } from './types.js';

export type { Phantom } from './types.js';
export { petPhantom, mriProstatePhantom, echoLvPhantom };

export const PHANTOM_KINDS = {
  pet: { make: petPhantom, defaultSize: [128, 128, 300] as Vec3, shares: PET_SHARES },
  'mri-prostate': { make: mriProstatePhantom, defaultSize: [256, 256, 48] as Vec3, shares: [PROSTATE_SHARE] },
  'echo-lv': { make: echoLvPhantom, defaultSize: [128, 128, 128] as Vec3, shares: [MYOCARDIUM_SHARE] },
} as const;
export type PhantomKind = keyof typeof PHANTOM_KINDS;

/** Case `index` of a synthetic set: its seed mixes the set's seed and the index, so cases differ. */
export function phantomCase(kind: PhantomKind, seed: number, index: number, size?: Vec3): Phantom {
  // `kind` may come unchecked from the command line.
  if (!Object.hasOwn(PHANTOM_KINDS, kind)) {
    throw new ComboSegError(`unknown phantom kind '${kind}'; kinds: ${Object.keys(PHANTOM_KINDS).join(', ')}`, {
      code: 'invalid-option',
      path: 'kind',
    });
  }
  const k = PHANTOM_KINDS[kind];
  return k.make((seed * 7919 + index * 104729 + 1) >>> 0, size ?? k.defaultSize);
}

export interface SynthOptions {
  kind: PhantomKind;
  out: string;
  cases: number;
  seed: number;
  size?: Vec3;
  onCase?: (done: number) => void;
}

/** Writes an MSD-layout data set: dataset.json, imagesTr/, labelsTr/ (NIfTI, gzip). */
export async function writeSyntheticDataset(o: SynthOptions): Promise<string[]> {
  if (!(o.kind in PHANTOM_KINDS)) {
    throw new ComboSegError(`unknown phantom kind '${o.kind}'; kinds: ${Object.keys(PHANTOM_KINDS).join(', ')}`, {
      code: 'invalid-option',
      path: '--kind',
    });
  }
  if (!Number.isInteger(o.cases) || o.cases < 1) {
    throw new ComboSegError(`--cases must be a positive integer, got ${o.cases}`, {
      code: 'invalid-option',
      path: '--cases',
    });
  }
  if (o.size && o.size.some((s) => !Number.isInteger(s) || s < 8)) {
    throw new ComboSegError(`--size must be three integers ≥ 8, got ${o.size.join('x')}`, {
      code: 'invalid-option',
      path: '--size',
    });
  }
  if (existsSync(join(o.out, 'dataset.json'))) {
    throw new ComboSegError(`${o.out} already holds a data set (dataset.json); choose another --out`, {
      code: 'conflict',
      path: o.out,
    });
  }
  mkdirSync(join(o.out, 'imagesTr'), { recursive: true });
  mkdirSync(join(o.out, 'labelsTr'), { recursive: true });
  const training: { image: string; label: string }[] = [];
  let names: string[] = [];
  let modality = '';
  for (let i = 0; i < o.cases; i++) {
    const p = phantomCase(o.kind, o.seed, i, o.size);
    names = p.names;
    modality = p.modality;
    const id = `${o.kind.replace('-', '_')}_${String(i).padStart(3, '0')}`;
    const geometry = {
      size: p.size,
      spacing: p.spacing,
      origin: [0, 0, 0] as Vec3,
      direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
    };
    await writeVolume(join(o.out, 'imagesTr', `${id}.nii.gz`), { ...geometry, data: p.image, pixelType: 'float32' });
    await writeVolume(join(o.out, 'labelsTr', `${id}.nii.gz`), { ...geometry, data: p.labels, pixelType: 'uint8' });
    training.push({ image: `./imagesTr/${id}.nii.gz`, label: `./labelsTr/${id}.nii.gz` });
    o.onCase?.(i + 1);
  }
  const dataset = {
    name: `comboseg-synthetic-${o.kind}`,
    description: `Synthetic ${o.kind} phantoms made by comboseg (seed ${o.seed}); see docs/phantoms.md`,
    tensorImageSize: '3D',
    modality: { 0: modality },
    labels: Object.fromEntries([['0', 'background'], ...names.map((n, k): [string, string] => [String(k + 1), n])]),
    numTraining: training.length,
    numTest: 0,
    training,
    test: [],
    comboseg: { kind: o.kind, seed: o.seed, size: o.size ?? PHANTOM_KINDS[o.kind].defaultSize },
  };
  writeFileAtomic(join(o.out, 'dataset.json'), Buffer.from(JSON.stringify(dataset, null, 2)));
  return training.map((t) => t.image);
}
