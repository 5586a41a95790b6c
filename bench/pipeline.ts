// The patch pipeline (src/data/pipeline.ts): batches per second it delivers — paper sampler, 80³ patches
// of two 128×128×300 PET phantoms, batch 2, per-patch min–max and one-hot of 5 organs, with and without
// augmentation — against what the proposed network's training step consumes, measured in the same run.
import { data } from '../src/index.js';
import { PatchPipeline } from '../src/data/pipeline.js';
import { AugmentationSchema } from '../src/data/augment.js';
import { networkStep } from './children.js';
import { SamplerConfigSchema } from '../src/data/sampler-options.js';

const BATCH = 2;

async function batchesPerSecond(pipeline: PatchPipeline, batches: number): Promise<number> {
  await pipeline.patch(0, 0); // workers started, per-case indexes built
  const t0 = performance.now();
  for (let i = 1; i <= batches * BATCH; i++) await pipeline.patch(0, i);
  return (batches * 1000) / (performance.now() - t0);
}

export async function pipelineBench(quick: boolean): Promise<void> {
  const cases = [0, 1].map((i) => {
    const p = data.phantomCase('pet', 1, i);
    const image = data.normalise(p.image, { kind: 'minmax', min: 0, max: 20 });
    return { id: `pet${i}`, image, labels: p.labels, size: p.size };
  });
  const sampler = SamplerConfigSchema.parse({ kind: 'paper', patchSize: 80, perOrgan: 100, background: 100 });
  const spec = {
    cases,
    organs: [1, 2, 3, 4, 5],
    divisor: 16,
    seed: 0,
    perPatchMinMax: true,
    layout: 'sigmoid' as const,
  };
  const heavy = AugmentationSchema.parse({
    flip: { p: 0.5 },
    rotate90: { p: 0.5 },
    affine: { p: 0.3 },
    intensity: { p: 0.3 },
    gamma: { p: 0.3 },
    noise: { p: 0.3 },
  });
  const batches = quick ? 10 : 40;
  console.log(
    `\npatch pipeline: batches of ${BATCH} 80³ patches per second (paper sampler, 5 organs), ${batches} batches:`,
  );
  for (const [label, augmentation] of [
    ['no augmentation', undefined],
    ['augmentation (flip, rot90, affine 0.3, intensity, gamma, noise)', heavy],
  ] as const) {
    const rates: string[] = [];
    for (const workers of [0, 1, 2]) {
      const p = new PatchPipeline({ ...spec, sampler, augmentation }, 600, { workers, prefetch: 8 });
      try {
        rates.push(`${workers} worker(s) ${(await batchesPerSecond(p, batches)).toFixed(1)}`);
      } finally {
        await p.close();
      }
    }
    console.log(`  ${label}: ${rates.join(', ')}`);
  }
  const step = networkStep('proposed', BATCH, 'default', 80, quick ? 1 : 2, 'fp32');
  console.log(
    `  a training step of the proposed network (default widths, 80³, batch ${BATCH}, fp32) here takes ` +
      `${step.stepMs.toFixed(0)} ms: it consumes ${(1000 / step.stepMs).toFixed(2)} batches/s; a GPU step of ` +
      '50 ms consumes 20',
  );
}
