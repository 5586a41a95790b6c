// Preprocessed training cases on disk (nnU-Net's preprocessed folder): each case decoded once, resampled to
// the run's spacing, written as raw float32 channels and raw labels with its geometry and per-channel
// statistics, keyed by what went into it (the files' paths, sizes and times, the spacing, the crop). Runs with the same
// preprocessing reuse the entries (an experiment's 72 runs decode each scan once), and training reads image
// patches straight from the files (sampler.ts `source`), so a data set larger than memory trains: only the
// label maps (1–2 bytes a voxel) stay in memory.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ComboSegError } from '../engine/errors.js';
import { writeFileAtomic } from '../util/fs.js';
import { loadCase, type DatasetCase } from './datasets.js';
import { toSpacing } from './spacing.js';
import { cropToBody } from './crop-to-body.js';
import { channelCount, voxelCount, type Geometry, type Vec3, type VoxelArray } from './volume.js';
import type { Normalisation, NormalisationKind } from './normalise.js';

const VERSION = 1;

/** Per-channel running statistics (Welford), mergeable across cases. */
export interface ChannelStats {
  n: number;
  min: number;
  max: number;
  mean: number;
  m2: number;
}

export interface CachedCase {
  id: string;
  geometry: Geometry;
  channels: number;
  /** Raw (not normalised) float32 values, channel-major [C, z, y, x]. */
  imagePath: string;
  labels: Uint8Array | Uint16Array;
  stats: ChannelStats[];
}

interface EntryMeta {
  version: number;
  id: string;
  geometry: Geometry;
  channels: number;
  labelType: 'uint8' | 'uint16';
  stats: ChannelStats[];
}

/** What identifies a case's files as they are now. */
function filesOf(c: DatasetCase): { path: string; size: number; mtimeMs: number }[] {
  const paths = [...(c.channelFiles ?? [c.image]), ...(c.label ? [c.label] : [])];
  // A DICOM series is a folder: every file in it counts (a slice rewritten in place changes the key).
  const each = (p: string): string[] =>
    statSync(p).isDirectory()
      ? readdirSync(p)
          .sort()
          .flatMap((f) => each(join(p, f)))
      : [p];
  return paths.flatMap(each).map((p) => {
    const st = statSync(p);
    return { path: resolve(p), size: st.size, mtimeMs: st.mtimeMs };
  });
}

/** The entry name of a case under a preprocessing: a hash of everything that made it. */
export function caseKey(c: DatasetCase, spacing: Vec3 | undefined, crop = false): string {
  // `crop` counts only when set: entries made before the setting existed keep their names.
  const text = JSON.stringify({
    version: VERSION,
    id: c.id,
    files: filesOf(c),
    spacing: spacing ?? null,
    ...(crop ? { cropToBody: true } : {}),
  });
  return `${c.id.replace(/[^\w.-]/g, '_')}-${createHash('sha256').update(text).digest('hex').slice(0, 12)}`;
}

function statsOf(data: Float32Array, channels: number): ChannelStats[] {
  const n = data.length / channels;
  return Array.from({ length: channels }, (_, c) => {
    const s: ChannelStats = { n: 0, min: Infinity, max: -Infinity, mean: 0, m2: 0 };
    for (let i = c * n; i < (c + 1) * n; i++) {
      const x = data[i];
      if (x < s.min) s.min = x;
      if (x > s.max) s.max = x;
      s.n++;
      const d = x - s.mean;
      s.mean += d / s.n;
      s.m2 += d * (x - s.mean);
    }
    return s;
  });
}

/** Statistics of several cases' channel as one (Chan et al.'s parallel merge). */
export function mergeStats(all: ChannelStats[]): ChannelStats {
  return all.reduce((a, b) => {
    const n = a.n + b.n;
    if (n === 0) return a;
    const d = b.mean - a.mean;
    return {
      n,
      min: Math.min(a.min, b.min),
      max: Math.max(a.max, b.max),
      mean: a.mean + (d * b.n) / n,
      m2: a.m2 + b.m2 + (d * d * a.n * b.n) / n,
    };
  });
}

/** Normalisation statistics per channel from cached cases (as computeChannelNormalisation over the volumes). */
export function normalisationFromStats(
  cases: CachedCase[],
  kind: NormalisationKind,
  window?: [number, number],
): Normalisation[] {
  const C = cases[0].channels;
  return Array.from({ length: C }, (_, c): Normalisation => {
    if (kind === 'window') {
      if (!window || !(window[1] > window[0])) {
        throw new ComboSegError(`normalisation 'window' needs [low, high] with high > low`, {
          code: 'invalid-option',
          path: 'normalisation.window',
        });
      }
      return { kind, low: window[0], high: window[1] };
    }
    const s = mergeStats(cases.map((k) => k.stats[c]));
    return kind === 'minmax' ? { kind, min: s.min, max: s.max } : { kind, mean: s.mean, std: Math.sqrt(s.m2 / s.n) };
  });
}

/** The original spacing of a case (from its cache entry of no resampling, made if missing). */
export async function originalSpacing(dir: string, c: DatasetCase): Promise<Vec3> {
  return (await cachedCase(dir, c, undefined)).geometry.spacing;
}

/** A case from the cache (made first when missing): resampled to `spacing` if given, cropped to the body if `crop`. */
export async function cachedCase(
  dir: string,
  c: DatasetCase,
  spacing: Vec3 | undefined,
  crop = false,
): Promise<CachedCase> {
  mkdirSync(dir, { recursive: true });
  const key = caseKey(c, spacing, crop);
  const metaPath = join(dir, `${key}.json`);
  const imagePath = join(dir, `${key}.image.f32`);
  const labelPath = join(dir, `${key}.labels`);
  if (!existsSync(metaPath)) await writeEntry(c, spacing, crop, { metaPath, imagePath, labelPath });
  const meta = JSON.parse(readFileSync(metaPath, 'utf8')) as EntryMeta;
  const raw = readFileSync(labelPath);
  const buffer = raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength);
  const labels = meta.labelType === 'uint8' ? new Uint8Array(buffer) : new Uint16Array(buffer);
  if (labels.length !== voxelCount(meta.geometry) || statSync(imagePath).size !== 4 * labels.length * meta.channels) {
    throw new ComboSegError(`cache entry ${metaPath} does not match its data files; delete it to rebuild it`, {
      code: 'bad-file',
      path: metaPath,
    });
  }
  return { id: meta.id, geometry: meta.geometry, channels: meta.channels, imagePath, labels, stats: meta.stats };
}

/** Decodes, checks and resamples one case and writes its entry; the metadata last (its presence = complete). */
async function writeEntry(
  c: DatasetCase,
  spacing: Vec3 | undefined,
  crop: boolean,
  paths: { metaPath: string; imagePath: string; labelPath: string },
): Promise<void> {
  const loaded = await loadCase(c);
  if (!loaded.labels) {
    throw new ComboSegError(`training case '${c.id}' has no label`, { code: 'invalid-input', path: c.image });
  }
  const resampled = spacing ? toSpacing(loaded.image, spacing, 'linear') : loaded.image;
  const resampledLabels = spacing ? toSpacing(loaded.labels, spacing, 'label') : loaded.labels;
  const { image, labels: labelVolume } = crop
    ? cropToBody(resampled, resampledLabels)
    : { image: resampled, labels: resampledLabels };
  const channels = channelCount(image);
  const values = image.data instanceof Float32Array ? image.data : Float32Array.from(image.data);
  const labels = labelArray(labelVolume.data, c);
  const { size, spacing: s, origin, direction } = image;
  const meta: EntryMeta = {
    version: VERSION,
    id: c.id,
    geometry: { size: [...size], spacing: [...s], origin: [...origin], direction: [...direction] },
    channels,
    labelType: labels instanceof Uint8Array ? 'uint8' : 'uint16',
    stats: statsOf(values, channels),
  };
  writeFileAtomic(paths.imagePath, new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
  writeFileAtomic(paths.labelPath, new Uint8Array(labels.buffer, labels.byteOffset, labels.byteLength));
  writeFileAtomic(paths.metaPath, Buffer.from(JSON.stringify(meta)));
}

function labelArray(data: VoxelArray, c: DatasetCase): Uint8Array | Uint16Array {
  let max = 0;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (!Number.isInteger(v) || v < 0) {
      throw new ComboSegError(`case '${c.id}': label value ${v} is not a non-negative integer`, {
        code: 'invalid-input',
        path: c.label,
      });
    }
    if (v > max) max = v;
  }
  return max < 256 ? Uint8Array.from(data) : Uint16Array.from(data);
}
