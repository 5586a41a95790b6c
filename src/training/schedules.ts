// Learning-rate schedules, the same for every optimiser, with PyTorch's formulas: poly
// (nnU-Net's PolyLRScheduler), cosine (CosineAnnealingLR), step (StepLR), each after an
// optional linear warm-up (LinearLR). The rate is a pure function of the global optimiser
// step, so a resumed run takes exactly the rates an uninterrupted one would have.
import { z } from 'zod';
import { ComboSegError } from '../engine/errors.js';
import { parseOptions } from '../util/options.js';
import type { Optimizer } from './optimizers.js';

/** Every schedule kind. */
export const LR_SCHEDULE_KINDS = ['constant', 'poly', 'cosine', 'step'] as const;
export type LrScheduleKind = (typeof LR_SCHEDULE_KINDS)[number];

/** A learning-rate schedule's options; an absent schedule is the constant one. */
export const LrScheduleSchema = z
  .object({
    kind: z
      .enum(LR_SCHEDULE_KINDS)
      .default('constant')
      .describe(
        "'constant': lr throughout; 'poly': lr·(1 − t/T)^power; " +
          "'cosine': minLr + (lr − minLr)(1 + cos(πt/T))/2; 'step': lr·gamma^⌊t/stepEpochs⌋ (t, T in epochs)",
      ),
    warmupEpochs: z
      .number()
      .min(0)
      .default(0)
      .describe('linear warm-up from warmupStartFactor·lr to the schedule over this many epochs (counted in steps)'),
    warmupStartFactor: z
      .number()
      .gt(0)
      .max(1)
      .default(0.1)
      .describe("the warm-up's first rate, as a fraction of the schedule's"),
    power: z.number().positive().default(0.9).describe("'poly': the exponent (nnU-Net's 0.9)"),
    minLr: z.number().min(0).default(0).describe("'poly', 'cosine': the rate at the end, and the floor"),
    stepEpochs: z.number().int().min(1).default(30).describe("'step': multiply by gamma every this many epochs"),
    gamma: z.number().gt(0).max(1).default(0.1).describe("'step': the factor applied every stepEpochs epochs"),
  })
  .strict()
  .default({});
export type LrSchedule = z.output<typeof LrScheduleSchema>;
export type LrScheduleInput = z.input<typeof LrScheduleSchema>;

/** Checks a schedule's options and fills in the defaults; throws a ComboSegError naming each bad field. */
export function parseLrSchedule(given: unknown): Readonly<LrSchedule> {
  return parseOptions(LrScheduleSchema, given, 'learning-rate schedule');
}

function invalid(message: string, path: string): ComboSegError {
  return new ComboSegError(`learning-rate schedule: ${message}`, { code: 'invalid-option', path });
}

function checkArgs(s: LrSchedule, baseLr: number, step: number, stepsPerEpoch: number, totalEpochs: number): void {
  if (!(Number.isFinite(baseLr) && baseLr > 0)) throw invalid(`baseLr must be a number > 0, got ${baseLr}`, 'lr');
  if (!(Number.isInteger(step) && step >= 0)) throw invalid(`step must be an integer ≥ 0, got ${step}`, 'step');
  if (!(Number.isInteger(stepsPerEpoch) && stepsPerEpoch >= 1)) {
    throw invalid(`stepsPerEpoch must be a positive integer, got ${stepsPerEpoch}`, 'stepsPerEpoch');
  }
  if (!(Number.isFinite(totalEpochs) && totalEpochs > 0)) {
    throw invalid(`totalEpochs must be a number > 0, got ${totalEpochs}`, 'totalEpochs');
  }
  if (s.kind === 'poly' || s.kind === 'cosine') {
    if (s.warmupEpochs >= totalEpochs) {
      throw invalid(`warmupEpochs (${s.warmupEpochs}) must be less than the epochs (${totalEpochs})`, 'warmupEpochs');
    }
    if (s.minLr > baseLr) throw invalid(`minLr (${s.minLr}) must not exceed the learning rate (${baseLr})`, 'minLr');
  }
}

/**
 * The learning rate of optimiser step `step` (0-based: the step about to be taken, i.e. the
 * optimiser's `stepCount`) for a run of `totalEpochs` epochs of `stepsPerEpoch` steps each.
 *
 * Warm-up takes W = round(warmupEpochs·stepsPerEpoch) steps; during it the rate is the main
 * schedule's first rate times a factor rising linearly from warmupStartFactor (step 0) to 1
 * (step W). The main schedule's time t counts from the end of warm-up, in fractional epochs
 * t = (step − W)/stepsPerEpoch, and it runs for the rest of the training, T = totalEpochs − W/stepsPerEpoch,
 * so poly and cosine reach minLr at the last epoch's end. Past T (more epochs than planned) they stay at minLr.
 * Throws a ComboSegError (code 'invalid-option') for nonsense arguments.
 */
export function learningRate(
  schedule: LrSchedule,
  baseLr: number,
  step: number,
  stepsPerEpoch: number,
  totalEpochs: number,
): number {
  checkArgs(schedule, baseLr, step, stepsPerEpoch, totalEpochs);
  const { kind, warmupEpochs, warmupStartFactor, power, minLr, stepEpochs, gamma } = schedule;
  const warmupSteps = Math.round(warmupEpochs * stepsPerEpoch);
  const warm = step < warmupSteps ? warmupStartFactor + ((1 - warmupStartFactor) * step) / warmupSteps : 1;
  const t = Math.max(0, step - warmupSteps) / stepsPerEpoch;
  const T = totalEpochs - warmupSteps / stepsPerEpoch;
  let lr: number;
  if (kind === 'poly') {
    lr = Math.max(minLr, baseLr * (1 - Math.min(t, T) / T) ** power);
  } else if (kind === 'cosine') {
    lr = minLr + ((baseLr - minLr) * (1 + Math.cos((Math.PI * Math.min(t, T)) / T))) / 2;
  } else if (kind === 'step') {
    lr = baseLr * gamma ** Math.floor(t / stepEpochs);
  } else {
    lr = baseLr;
  }
  return lr * warm;
}

/**
 * Sets `optimizer.lr` to the schedule's rate for its next step (its `stepCount`), scaled from
 * its configured `baseLr`; returns the rate. Call before each `step()`.
 */
export function applyLearningRate(
  optimizer: Optimizer,
  schedule: LrSchedule,
  stepsPerEpoch: number,
  totalEpochs: number,
): number {
  const lr = learningRate(schedule, optimizer.baseLr, optimizer.stepCount, stepsPerEpoch, totalEpochs);
  optimizer.lr = lr;
  return lr;
}
