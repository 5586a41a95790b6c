import { Command } from 'commander';
import { ComboSegError } from '../engine/errors.js';
import { PHANTOM_KINDS, writeSyntheticDataset, type PhantomKind } from '../data/phantoms/index.js';
import { Progress } from '../util/progress.js';
import type { Vec3 } from '../data/volume.js';

function parseSize(s: string): Vec3 {
  const parts = s.split(/[x×,]/).map(Number);
  if (parts.length !== 3 || parts.some((p) => !Number.isInteger(p) || p < 8)) {
    throw new ComboSegError(`--size must look like 128x128x300 (x, y, z; each ≥ 8), got '${s}'`, {
      code: 'invalid-option',
      path: '--size',
    });
  }
  return parts as Vec3;
}

function positiveInt(name: string) {
  return (s: string) => {
    const v = Number(s);
    if (!Number.isInteger(v) || v < 0) {
      throw new ComboSegError(`${name} must be a non-negative integer, got '${s}'`, {
        code: 'invalid-option',
        path: name,
      });
    }
    return v;
  };
}

/** `comboseg synth <kind> --out DIR --cases N --seed S [--size XxYxZ]`. */
export function synthCommand(): Command {
  return new Command('synth')
    .description(
      'write a synthetic data set in the Medical Segmentation Decathlon layout ' +
        `(kinds: ${Object.keys(PHANTOM_KINDS).join(', ')})`,
    )
    .argument('<kind>', Object.keys(PHANTOM_KINDS).join(' | '))
    .requiredOption('--out <dir>', 'output folder (created; must not hold a data set already)')
    .option('--cases <n>', 'number of cases', positiveInt('--cases'), 10)
    .option('--seed <s>', 'random seed', positiveInt('--seed'), 0)
    .option('--size <XxYxZ>', "volume size in voxels (default: the kind's own)", parseSize)
    .action(async (kind: string, o: { out: string; cases: number; seed: number; size?: Vec3 }) => {
      if (!(kind in PHANTOM_KINDS)) {
        throw new ComboSegError(`unknown kind '${kind}'; kinds: ${Object.keys(PHANTOM_KINDS).join(', ')}`, {
          code: 'invalid-option',
          path: 'kind',
        });
      }
      const bar = new Progress({ label: `synth ${kind}`, total: o.cases, unit: 'case' });
      await writeSyntheticDataset({
        kind: kind as PhantomKind,
        out: o.out,
        cases: o.cases,
        seed: o.seed,
        size: o.size,
        onCase: () => bar.tick(),
      });
      console.log(`wrote ${o.cases} ${kind} case(s) to ${o.out} (dataset.json, imagesTr/, labelsTr/)`);
    });
}
