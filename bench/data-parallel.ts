// Data-parallel scaling on this host: the demo's training step (global batch 2) as 1 process × 2 threads
// and as 2 processes × 1 thread (c10d Gloo over loopback), measured in the same run; the gradient
// all-reduce's share of the step; and the bandwidth model for many hosts.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { native } from '../src/engine/native.js';
import { cpuPrecision } from '../src/engine/precision-default.js';
import { freeLoopbackPort } from '../src/training/launch.js';

interface RankResult {
  stepMs: number;
  reduceMs: number;
  params: number;
}

const rankScript = fileURLToPath(new URL('./ddp-rank.ts', import.meta.url));

/** WORLD processes of THREADS threads each, together; rank 0's figures. */
async function measure(
  world: number,
  threads: number,
  steps: number,
  precision: string,
  syncBn = false,
): Promise<RankResult> {
  const port = await freeLoopbackPort();
  const outputs = await Promise.all(
    Array.from(
      { length: world },
      (_, rank) =>
        new Promise<string>((resolve, reject) => {
          const args = ['--import', 'tsx', rankScript, String(rank), String(world), String(port), String(steps)];
          const child = spawn(process.execPath, [...args, precision, syncBn ? 'sync-bn' : ''], {
            env: { ...process.env, COMBOSEG_THREADS: String(threads) },
            stdio: ['ignore', 'pipe', 'inherit'],
          });
          let out = '';
          child.stdout.on('data', (d: Buffer) => (out += d.toString()));
          child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`rank ${rank} exited ${code}`))));
        }),
    ),
  );
  const line = outputs[0].trim().split('\n').pop() ?? '';
  return JSON.parse(line) as RankResult;
}

export async function dataParallelBench(quick: boolean): Promise<void> {
  if (!native.distInfo().available) {
    console.log('\ndata-parallel: skipped (this build has no c10d Gloo)');
    return;
  }
  const steps = quick ? 3 : 8;
  const precision = cpuPrecision().precision;
  console.log(
    `\ndata-parallel: the demo's step (proposed 8-16-32-64, 48×48×112, global batch 2, Combo, Adadelta, ` +
      `${precision}), ` +
      `median of ${steps} steps; 1 process × 2 threads vs 2 processes × 1 thread (Gloo, loopback), interleaved:`,
  );
  const one: RankResult[] = [];
  const two: RankResult[] = [];
  const synced: RankResult[] = [];
  for (let round = 0; round < (quick ? 1 : 2); round++) {
    one.push(await measure(1, 2, steps, precision));
    two.push(await measure(2, 1, steps, precision));
    synced.push(await measure(2, 1, steps, precision, true));
  }
  const best = (rs: RankResult[]) => rs.reduce((a, b) => (b.stepMs < a.stepMs ? b : a));
  const [a, b] = [best(one), best(two)];
  const rate = (r: RankResult) => 2000 / r.stepMs;
  console.log(`  1 × 2 threads: ${a.stepMs.toFixed(0)} ms/step, ${rate(a).toFixed(2)} volumes/s`);
  console.log(
    `  2 × 1 thread:  ${b.stepMs.toFixed(0)} ms/step, ${rate(b).toFixed(2)} volumes/s; ` +
      `gradient all-reduce ${b.reduceMs.toFixed(1)} ms with the wait for the slower rank ` +
      `(${((100 * b.reduceMs) / b.stepMs).toFixed(1)} % of the step)`,
  );
  const c = best(synced);
  const extra = (100 * (c.stepMs - b.stepMs)) / b.stepMs;
  console.log(`  2 × 1 thread, --sync-bn: ${c.stepMs.toFixed(0)} ms/step (${extra.toFixed(1)} % over 2 × 1 without)`);
  console.log(`  scaling efficiency (2 × 1 over 1 × 2, same cores): ${(rate(b) / rate(a)).toFixed(2)}`);
  bandwidthModel(a.params);
}

/**
 * A ring all-reduce moves 2(W−1)/W of the gradient bytes in and out of every rank per step; to keep it
 * under 10 % of a step of T seconds each link needs that many bytes per 0.1·T.
 */
function bandwidthModel(demoParams: number): void {
  console.log(
    '  many hosts (ring all-reduce, fp32 gradients, W → ∞): bytes per rank per step, and the link that keeps',
  );
  console.log('  communication under 10 % of a step (none overlapped with backward):');
  for (const [what, params] of [
    ['14 M parameters', 14e6],
    [`the demo network (${(demoParams / 1e6).toFixed(2)} M)`, demoParams],
  ] as const) {
    const bytes = 2 * 4 * params;
    const links = [0.1, 0.3, 1].map((T) => `${T * 1000} ms step: ${((8 * bytes) / (0.1 * T) / 1e9).toFixed(1)} Gbit/s`);
    console.log(`    ${what}: ${(bytes / 2 ** 20).toFixed(0)} MiB; ${links.join(', ')}`);
  }
}
