// Benchmarks that run in child processes: comboseg's network step (its own peak memory) and the
// PyTorch references (../shared/bench, bench/torch_ref.py), when a Python with torch is at hand.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Precision } from '../src/index.js';

export interface StepResult {
  name: string;
  batch: number;
  width: string;
  size: number;
  params: number;
  stepMs: number;
  convMs: number;
  peakMiB: number;
  baseMiB: number;
  precision: Precision;
}

/** Runs one network configuration in a child process (its own peak memory). */
export function networkStep(
  name: string,
  batch: number,
  width: string,
  size: number,
  steps: number,
  precision: Precision = 'fp32',
): StepResult {
  const script = fileURLToPath(new URL('./network-step.ts', import.meta.url));
  const args = ['--import', 'tsx', script, name, String(batch), width, String(size), String(steps), precision];
  const out = execFileSync(process.execPath, args, { encoding: 'utf8' });
  const last = out.trim().split('\n').pop();
  if (last === undefined) throw new Error(`network-step.ts ${name} printed nothing`);
  return JSON.parse(last) as StepResult;
}

const sharedBench = fileURLToPath(new URL('../../shared/bench/', import.meta.url));

/** A Python with torch: COMBOSEG_TORCH_PYTHON, else the project's .venv-bench; null when there is none. */
export function torchPython(): string | null {
  const given = process.env.COMBOSEG_TORCH_PYTHON;
  const candidates = [given, fileURLToPath(new URL('../.venv-bench/bin/python', import.meta.url))];
  for (const py of candidates) {
    if (!py || !existsSync(py)) continue;
    try {
      execFileSync(py, ['-c', 'import torch'], { stdio: 'ignore' });
      return py;
    } catch {
      continue;
    }
  }
  return null;
}

export const TORCH_HOWTO =
  'no Python with torch: python3 -m venv .venv-bench && .venv-bench/bin/pip install torch==2.13.0 numpy ' +
  '(or set COMBOSEG_TORCH_PYTHON)';

function python(py: string, script: string, args: (string | number)[]): string {
  // Same environment as ours (threads, allocator): only ratios measured side by side mean anything.
  return execFileSync(py, [script, ...args.map(String)], { encoding: 'utf8' });
}

/** GFLOP/s of PyTorch's conv3d C→C at S³ (../shared/bench/torch_conv.py), by mode. */
export function torchConvGflops(py: string, channels: number, size: number): Record<string, number> {
  const out = python(py, `${sharedBench}torch_conv.py`, [channels, size]);
  const rates: Record<string, number> = {};
  for (const m of out.matchAll(/ (\S+) C=\d+ S=\d+: (\d+) GFLOP\/s/g)) rates[m[1]] = Number(m[2]);
  return rates;
}

/** Median ms of PyTorch's training step of `name` (torch_ref.py mirrors comboseg's networks). */
export function torchStepMs(
  py: string,
  name: string,
  size: number,
  batch: number,
  mode: string,
  steps: number,
): number {
  const out = python(py, fileURLToPath(new URL('./torch_ref.py', import.meta.url)), [
    'step',
    name,
    size,
    batch,
    mode,
    steps,
  ]);
  return (JSON.parse(out.trim().split('\n').pop() ?? '{}') as { medianMs: number }).medianMs;
}

/** Median ms of PyTorch's eval forward of one 80³ window, batch 1. */
export function torchWindowMs(py: string, name: string, mode: string, reps: number): number {
  const out = python(py, fileURLToPath(new URL('./torch_ref.py', import.meta.url)), ['window', name, mode, reps]);
  return (JSON.parse(out.trim().split('\n').pop() ?? '{}') as { windowMs: number }).windowMs;
}
