// What precision 'auto' means on this machine: bf16 where the CPU has bf16 matrix instructions
// (AVX512-BF16, AMX-BF16) and a measured convolution is clearly faster in bf16 than in fp32; fp32
// elsewhere. Measured once per machine (about a third of a second) and remembered in
// ~/.cache/comboseg/precision.json (COMBOSEG_CACHE_DIR moves it), keyed by CPU model, core count,
// threads and engine build: every process on the machine then makes the same choice, so runs and
// resumed runs are reproducible; delete the file to measure again.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { cpus, homedir } from 'node:os';
import { join } from 'node:path';
import { engineInfo } from './runtime.js';
import { writeFileAtomic } from '../util/fs.js';
import { rand } from './ops/creation.js';
import { conv3d } from './ops/nn.js';
import { tidy } from './scope.js';
import { enableGrad, noGrad } from './autograd.js';
import type { Precision, PrecisionSetting } from './precision.js';

/** bf16 must beat fp32 by this factor to be the default (noise and accuracy margins). */
const REQUIRED_SPEEDUP = 1.25;

export interface PrecisionChoice {
  precision: Precision;
  /** Why: the ISA, and the measured fp32 / bf16 times of a 32→32-channel 3³ convolution at 32³. */
  reason: string;
  fp32Ms: number | null;
  bf16Ms: number | null;
  /** Where the choice is remembered (null when it could not be written), and when it was measured. */
  cachedIn: string | null;
  measuredAt: string;
}

let measured: PrecisionChoice | null = null;

/** Forward + backward of conv 32→32, 3³, at 32³, batch 1, in ms: fp32 and bf16 interleaved, best of four each. */
function convMs(): Record<Precision, number> {
  // The measurement runs backward: it needs gradients even when asked from inside noGrad.
  return enableGrad(() =>
    tidy(() => {
      const x = rand([1, 32, 32, 32, 32]);
      const w = rand([32, 32, 3, 3, 3]).mul(0.05);
      x.requiresGrad = true;
      w.requiresGrad = true;
      const g = noGrad(() => rand([1, 32, 32, 32, 32]));
      const once = (precision: Precision) => {
        const t0 = performance.now();
        tidy(() => conv3d(x, w, null, { padding: 1, precision }).backward(g));
        return performance.now() - t0;
      };
      once('fp32');
      once('bf16');
      // Interleaved, and the best of each: a busy machine slows both alike, and only ever adds time.
      const best = { fp32: Infinity, bf16: Infinity };
      for (let i = 0; i < 4; i++) {
        for (const p of ['fp32', 'bf16'] as const) best[p] = Math.min(best[p], once(p));
      }
      return best;
    }),
  );
}

/** The file that remembers the choice, and this machine's key in it. */
function cacheEntry(): { path: string; key: string } {
  const dir =
    process.env.COMBOSEG_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'comboseg');
  const info = engineInfo();
  const key = [
    cpus()[0]?.model ?? 'unknown CPU',
    `${cpus().length} cores`,
    `${info.threads} threads`,
    `libtorch ${info.torchVersion} ${info.libtorch}`,
    info.onednn.isa,
    info.bf16ConvPath,
  ].join(' | ');
  return { path: join(dir, 'precision.json'), key };
}

function readCache(path: string): Record<string, PrecisionChoice> {
  try {
    const parsed: unknown = existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : {};
    return parsed !== null && typeof parsed === 'object' ? (parsed as Record<string, PrecisionChoice>) : {};
  } catch {
    return {}; // a damaged cache is measured anew and rewritten
  }
}

function measure(): Omit<PrecisionChoice, 'cachedIn' | 'measuredAt'> {
  const isa = engineInfo().onednn.isa;
  if (!/bf16|amx/.test(isa)) {
    return { precision: 'fp32', reason: `oneDNN's ISA ${isa} has no bf16 instructions`, fp32Ms: null, bf16Ms: null };
  }
  const { fp32: fp32Ms, bf16: bf16Ms } = convMs();
  const precision = bf16Ms * REQUIRED_SPEEDUP <= fp32Ms ? 'bf16' : 'fp32';
  const speed = `conv3d 32³ fp32 ${fp32Ms.toFixed(1)} ms, bf16 ${bf16Ms.toFixed(1)} ms`;
  return { precision, reason: `${isa}: ${speed}`, fp32Ms, bf16Ms };
}

/** The CPU's default: remembered for this machine, else measured now (and remembered). */
export function cpuPrecision(): PrecisionChoice {
  if (measured) return measured;
  const { path, key } = cacheEntry();
  const cache = readCache(path);
  const known = cache[key] as PrecisionChoice | undefined;
  if (known?.precision === 'fp32' || known?.precision === 'bf16') {
    measured = { ...known, cachedIn: path };
    return measured;
  }
  const choice: PrecisionChoice = { ...measure(), cachedIn: path, measuredAt: new Date().toISOString() };
  try {
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileAtomic(path, Buffer.from(JSON.stringify({ ...readCache(path), [key]: choice }, null, 2)));
  } catch {
    choice.cachedIn = null; // a read-only home: measured again by the next process
  }
  measured = choice;
  return measured;
}

/** A precision setting made concrete for `device`: 'auto' is the CPU's measured choice, fp32 on CUDA. */
export function resolvePrecision(setting: PrecisionSetting, device = 'cpu'): Precision {
  if (setting !== 'auto') return setting;
  return device === 'cpu' ? cpuPrecision().precision : 'fp32';
}
