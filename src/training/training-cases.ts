// The training cases as the sampler takes them: decoded, checked, resampled to the run's spacing and
// normalised, either in memory or from the preprocessed-case cache (config `cache`: images read from
// disk patch by patch), with the statistics and spacing the model records.
import { resolve } from 'node:path';
import { ComboSegError } from '../engine/errors.js';
import type { LoadedModel } from '../inference/model.js';
import { loadCase, type Dataset, type DatasetCase } from '../data/datasets.js';
import { checkTrainingLabels } from '../data/labels.js';
import { computeChannelNormalisation, normaliseChannels, type Normalisation } from '../data/normalise.js';
import { sharedCases } from '../data/pipeline.js';
import type { SampleCase } from '../data/sampler.js';
import { hasSpacing, targetSpacing, toSpacing, type SpacingSetting } from '../data/spacing.js';
import { channelCount, voxelCount, type Vec3, type Volume } from '../data/volume.js';
import { cropSummary, cropToBody } from '../data/crop-to-body.js';
import { cachedCase, normalisationFromStats, originalSpacing } from '../data/case-cache.js';
import type { TrainConfig } from './config.js';

export interface TrainingCases {
  /** For the sampler: in shared memory, or (cache) with their images on disk. */
  cases: SampleCase[];
  channels: number;
  normalisation: Normalisation[];
  /** The spacing they were resampled to, or none. */
  spacing: Vec3 | undefined;
  /** Every case's label map (class weights, checks). */
  labels: { id: string; labels: Pick<Volume, 'data'> }[];
}

/**
 * The training cases of a run; a resumed run keeps its own spacing and normalisation statistics
 * (the median and statistics are of the same cases, but a checkpoint says what the model saw).
 */
export async function trainingCases(
  cfg: TrainConfig,
  ds: Dataset,
  train: DatasetCase[],
  resumed: LoadedModel | null,
  log: (m: string) => void,
): Promise<TrainingCases> {
  const prepared = cfg.cache
    ? await fromCache(cfg, ds, train, resumed, log)
    : await inMemory(cfg, ds, train, resumed, log);
  checkTrainingLabels(
    prepared.labels.map((l) => ({ id: l.id, labels: l.labels.data })),
    ds.labels,
    { ignoreUnnamed: cfg.ignoreUnnamedLabels },
  );
  return prepared;
}

async function inMemory(
  cfg: TrainConfig,
  ds: Dataset,
  train: DatasetCase[],
  resumed: LoadedModel | null,
  log: (m: string) => void,
): Promise<TrainingCases> {
  const loaded = await loadTrainingCases(train);
  const spacing = resumed
    ? resumed.meta.spacing
    : targetSpacing(
        cfg.spacing,
        loaded.map((l) => l.image),
      );
  if (spacing) resampleCases(loaded, spacing, cfg.spacing, log);
  if (cfg.cropToBody) cropCases(loaded, log);
  const channels = inputChannels(ds, loaded);
  const { kind, window } = cfg.normalisation;
  const normalisation =
    resumed?.meta.normalisation ??
    computeChannelNormalisation(
      loaded.map((l) => l.image),
      kind,
      window,
    );
  // In shared memory: the pipeline's workers read these arrays, not copies.
  const cases = sharedCases(
    loaded.map((l) => ({
      id: l.id,
      image: normaliseChannels(l.image, normalisation),
      channels,
      labels: l.labels.data,
      size: l.image.size,
    })),
  );
  return { cases, channels, normalisation, spacing, labels: loaded };
}

async function fromCache(
  cfg: TrainConfig,
  ds: Dataset,
  train: DatasetCase[],
  resumed: LoadedModel | null,
  log: (m: string) => void,
): Promise<TrainingCases> {
  const dir = resolve(cfg.cache as string);
  let spacing = resumed ? resumed.meta.spacing : undefined;
  if (!resumed && cfg.spacing !== undefined) {
    const originals: { spacing: Vec3 }[] = [];
    if (cfg.spacing === 'median') for (const c of train) originals.push({ spacing: await originalSpacing(dir, c) });
    spacing = targetSpacing(cfg.spacing, originals);
  }
  if (spacing)
    log(
      `spacing: ${describe(spacing)} mm (${cfg.spacing === 'median' ? "the training cases' median" : 'as configured'})`,
    );
  const cached = [];
  for (const c of train) cached.push(await cachedCase(dir, c, spacing, cfg.cropToBody)); // one case decoded at a time
  if (cfg.cropToBody) log('crop to body: training volumes cut to their non-zero voxels and labels (cached so)');
  log(`cache: ${train.length} training case(s) from ${dir}; images are read from it patch by patch`);
  const channels = inputChannels(
    ds,
    cached.map((k) => ({ id: k.id, image: { channels: k.channels } })),
  );
  const { kind, window } = cfg.normalisation;
  const normalisation = resumed?.meta.normalisation ?? normalisationFromStats(cached, kind, window);
  const cases: SampleCase[] = cached.map((k) => ({
    id: k.id,
    image: new Float32Array(0),
    channels,
    labels: k.labels,
    size: k.geometry.size,
    source: { path: k.imagePath, normalisation },
  }));
  const labels = cached.map((k) => ({ id: k.id, labels: { data: k.labels } }));
  return { cases, channels, normalisation, spacing, labels };
}

const describe = (spacing: Vec3): string => spacing.map((v) => v.toFixed(3)).join(' × ');

/** The training volumes in memory; each must have a label. */
async function loadTrainingCases(cases: DatasetCase[]): Promise<{ id: string; image: Volume; labels: Volume }[]> {
  const loaded: { id: string; image: Volume; labels: Volume }[] = [];
  for (const c of cases) {
    const l = await loadCase(c);
    if (!l.labels) {
      throw new ComboSegError(`training case '${c.id}' has no label`, { code: 'invalid-input', path: c.image });
    }
    loaded.push({ id: l.id, image: l.image, labels: l.labels });
  }
  return loaded;
}

/** Training scans (linear) and labels (per label) resampled to `spacing`, in place. */
function resampleCases(
  cases: { id: string; image: Volume; labels: Volume }[],
  spacing: Vec3,
  setting: SpacingSetting,
  log: (m: string) => void,
): void {
  const moved = cases.filter((c) => !hasSpacing(c.image, spacing));
  const how = setting === 'median' ? "the training cases' median" : 'as configured';
  log(`spacing: ${describe(spacing)} mm (${how}); resampling ${moved.length} of ${cases.length} training case(s)`);
  for (const c of moved) {
    c.image = toSpacing(c.image, spacing, 'linear');
    c.labels = toSpacing(c.labels, spacing, 'label');
  }
}

/** Training volumes cut to the body's box, in place (labels never cut). */
function cropCases(cases: { id: string; image: Volume; labels: Volume }[], log: (m: string) => void): void {
  const before = cases.reduce((s, c) => s + voxelCount(c.image), 0);
  for (const c of cases) ({ image: c.image, labels: c.labels } = cropToBody(c.image, c.labels));
  log(
    `crop to body: ${cropSummary(
      before,
      cases.map((c) => c.image),
    )}`,
  );
}

/**
 * The input channels of the data: every case must have the same number (`expected`, when given;
 * else the first case's), and as many as the data set names (dataset.json's modalities, a case
 * folder's image files).
 */
export function inputChannels(
  ds: Dataset,
  cases: { id: string; image: Pick<Volume, 'channels'> }[],
  expected?: number,
): number {
  const C = expected ?? (cases.length ? channelCount(cases[0].image) : (ds.channels?.length ?? 1));
  const named = ds.channels ? ` (${ds.channels.join(', ')})` : '';
  if (ds.channels && ds.channels.length !== C) {
    const why = `case '${cases[0].id}' has ${C} image channel(s); the data set names ${ds.channels.length}${named}`;
    throw new ComboSegError(why, { code: 'invalid-input', path: cases[0].id });
  }
  const odd = cases.find((c) => channelCount(c.image) !== C);
  if (odd) {
    const why = `case '${odd.id}' has ${channelCount(odd.image)} image channel(s), the others ${C}${named}`;
    throw new ComboSegError(`${why}; every case needs the same channels`, { code: 'invalid-input', path: odd.id });
  }
  return C;
}
