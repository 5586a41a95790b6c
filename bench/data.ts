// Data throughput: .nii.gz read + decode, and patches per second from the paper's sampler.
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { data } from '../src/index.js';

export async function dataBench(quick: boolean): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'comboseg-bench-'));
  const cases = [0, 1].map((i) => data.phantomCase('pet', 1, i));
  const geometry = {
    size: cases[0].size,
    spacing: cases[0].spacing,
    origin: [0, 0, 0] as [number, number, number],
    direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
  };
  // CT-like int16, 512×512×200
  const ct = new Int16Array(512 * 512 * 200).map((_, i) => (((i * 2654435761) >>> 20) % 2000) - 1000);
  const files: [string, number][] = [];
  await data.writeVolume(join(dir, 'pet.nii.gz'), { ...geometry, data: cases[0].image, pixelType: 'float32' });
  files.push([join(dir, 'pet.nii.gz'), cases[0].image.byteLength]);
  await data.writeVolume(join(dir, 'ct.nii.gz'), {
    size: [512, 512, 200],
    spacing: [0.8, 0.8, 2],
    origin: [0, 0, 0],
    direction: geometry.direction,
    data: ct,
    pixelType: 'int16',
  });
  files.push([join(dir, 'ct.nii.gz'), ct.byteLength]);
  console.log('\n.nii.gz read + decode (itk-wasm, through readVolume):');
  for (const [path, bytes] of files) {
    const reps = quick ? 1 : 3;
    await data.readVolume(path);
    const t0 = performance.now();
    for (let r = 0; r < reps; r++) await data.readVolume(path);
    const s = (performance.now() - t0) / 1000 / reps;
    const name = path.slice(path.lastIndexOf('/') + 1);
    console.log(
      `  ${name.padEnd(12)} ${(statSync(path).size / 2 ** 20).toFixed(1)} MiB on disk, ` +
        `${(bytes / 2 ** 20).toFixed(0)} MiB decoded: ${(s * 1000).toFixed(0)} ms = ` +
        `${(bytes / 2 ** 20 / s).toFixed(0)} MiB/s decoded`,
    );
  }
  const sampleCases = cases.map((p, i) => ({
    id: `pet${i}`,
    image: data.normalise(p.image, { kind: 'minmax', min: 0, max: 20 }),
    labels: p.labels,
    size: p.size,
  }));
  const sampler = new data.PaperSampler(sampleCases, {
    patchSize: [80, 80, 80],
    organs: [1, 2, 3, 4, 5],
    perOrgan: 100,
    background: 100,
    seed: 0,
  });
  const n = quick ? 50 : 300;
  const t0 = performance.now();
  let got = 0;
  for (let i = 0; i < n; i++) if (sampler.patch(0, i)) got++;
  const s = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  const patches = [sampler.patch(1, 0), sampler.patch(1, 1)].filter((p) => p !== null);
  const batch = data.toBatch(patches, [1, 2, 3, 4, 5]);
  const batchMs = performance.now() - t1;
  batch.image.dispose();
  batch.target.dispose();
  console.log(
    `\npaper sampler, 80³ patches from two 128×128×300 PET phantoms (first call builds the per-case indexes):`,
  );
  console.log(
    `  ${got} patches in ${s.toFixed(2)} s = ${(got / s).toFixed(0)} patches/s; cutting 2 patches and making ` +
      `the batch tensors (per-patch min–max, one-hot of 5 organs) takes ${batchMs.toFixed(0)} ms`,
  );
  console.log(
    `  against a 7.4 s training step of the proposed network at batch 2, 80³, ` +
      `that is ${((batchMs / 7400) * 100).toFixed(2)} % of the step`,
  );
}
