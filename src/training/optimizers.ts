// Optimisers as in PyTorch (same update rules, so results compare): SGD with
// momentum, Adam, and ADADELTA (the paper's: lr 1, ρ 0.95, ε 1e-8). State is
// named tensors, so a run can be resumed exactly.
import { noGrad } from '../engine/autograd.js';
import { keep, tidy } from '../engine/scope.js';
import type { Tensor } from '../engine/tensor.js';
import { zerosLike } from '../engine/index.js';
import { z } from 'zod';
import { ComboSegError } from '../engine/errors.js';
import { parseOptions } from '../util/options.js';

export interface Optimizer {
  readonly name: string;
  /** Applies one update from the parameters' gradients (parameters without a gradient are skipped). */
  step(): void;
  /** Drops every parameter's gradient. */
  zeroGrad(): void;
  /** Internal state by name (for checkpoints). */
  state(): Record<string, Tensor>;
  /** Restores state saved by `state()`. */
  loadState(s: Record<string, Tensor>, stepCount: number): void;
  readonly stepCount: number;
  /** The configured learning rate (`options.lr`); schedules scale from it. */
  readonly baseLr: number;
  /**
   * The learning rate the next `step()` uses: `baseLr` until set (by a schedule, each step).
   * Setting it leaves `baseLr` and `options` unchanged; it must be finite and ≥ 0.
   */
  lr: number;
  dispose(): void;
}

abstract class Base implements Optimizer {
  abstract readonly name: string;
  abstract readonly options: Readonly<{ lr: number }>;
  #buffers = new Map<string, Tensor>();
  #steps = 0;
  #lr: number | undefined; // undefined: the configured rate
  constructor(protected readonly params: Tensor[]) {}

  get baseLr(): number {
    return this.options.lr;
  }
  get lr(): number {
    return this.#lr ?? this.options.lr;
  }
  set lr(value: number) {
    if (!(Number.isFinite(value) && value >= 0)) {
      throw new ComboSegError(`${this.name}: learning rate must be a finite number ≥ 0, got ${value}`, {
        code: 'invalid-option',
        path: 'lr',
      });
    }
    this.#lr = value;
  }

  protected buffer(kind: string, i: number): Tensor {
    const key = `${kind}.${i}`;
    let b = this.#buffers.get(key);
    if (!b) {
      b = keep(noGrad(() => zerosLike(this.params[i])));
      this.#buffers.set(key, b);
    }
    return b;
  }
  protected abstract update(p: Tensor, g: Tensor, i: number, step: number): void;

  get stepCount(): number {
    return this.#steps;
  }
  step(): void {
    this.#steps++;
    // tidy frees the gradient handles and temporaries; the state buffers are kept.
    noGrad(() =>
      this.params.forEach((p, i) =>
        tidy(() => {
          const g = p.grad;
          if (g !== null) this.update(p, g, i, this.#steps);
        }),
      ),
    );
  }
  zeroGrad(): void {
    for (const p of this.params) p.zeroGrad();
  }
  state(): Record<string, Tensor> {
    return Object.fromEntries(this.#buffers);
  }
  loadState(s: Record<string, Tensor>, stepCount: number): void {
    noGrad(() => {
      for (const [k, t] of Object.entries(s)) {
        const i = Number(k.split('.').pop());
        if (!(i >= 0 && i < this.params.length))
          throw new ComboSegError(`${this.name}: optimiser state '${k}' names no parameter`);
        this.buffer(k.slice(0, k.lastIndexOf('.')), i).copy_(t);
      }
    });
    this.#steps = stepCount;
  }
  dispose(): void {
    for (const b of this.#buffers.values()) b.dispose();
    this.#buffers.clear();
  }
}

/** SGD's options. */
export const SgdOptionsSchema = z
  .object({
    lr: z.number().positive().default(0.01).describe('learning rate'),
    momentum: z.number().min(0).lt(1).default(0.9).describe('heavy-ball momentum μ (0: plain SGD)'),
  })
  .strict();
export type SgdOptions = z.infer<typeof SgdOptionsSchema>;

/** Adam's options (torch.optim.Adam's defaults). */
export const AdamOptionsSchema = z
  .object({
    lr: z.number().positive().default(1e-3).describe('learning rate'),
    beta1: z.number().min(0).lt(1).default(0.9).describe('decay of the first-moment estimate'),
    beta2: z.number().min(0).lt(1).default(0.999).describe('decay of the second-moment estimate'),
    eps: z.number().min(0).default(1e-8).describe('added to the denominator'),
  })
  .strict();
export type AdamOptions = z.infer<typeof AdamOptionsSchema>;

/** ADADELTA's options (the paper's: lr 1, ρ 0.95, ε 1e-8). */
export const AdadeltaOptionsSchema = z
  .object({
    lr: z.number().positive().default(1).describe('learning rate (scales the update)'),
    rho: z.number().min(0).lt(1).default(0.95).describe('decay of the running averages'),
    eps: z.number().positive().default(1e-8).describe('added inside the square roots'),
  })
  .strict();
export type AdadeltaOptions = z.infer<typeof AdadeltaOptionsSchema>;

/** SGD with optional (heavy-ball) momentum: v = μv + g; p −= lr·v. */
export class Sgd extends Base {
  readonly name = 'sgd';
  readonly options: Readonly<SgdOptions>;
  constructor(params: Tensor[], options: Partial<SgdOptions> = {}) {
    super(params);
    this.options = parseOptions(SgdOptionsSchema, options, "optimiser 'sgd'");
  }
  protected update(p: Tensor, g: Tensor, i: number): void {
    const { momentum } = this.options;
    const lr = this.lr;
    if (momentum === 0) {
      p.add_(g, -lr);
      return;
    }
    const v = this.buffer('momentum', i).mul_(momentum).add_(g);
    p.add_(v, -lr);
  }
}

/** Adam (Kingma & Ba), bias-corrected, as torch.optim.Adam. */
export class Adam extends Base {
  readonly name = 'adam';
  readonly options: Readonly<AdamOptions>;
  constructor(params: Tensor[], options: Partial<AdamOptions> = {}) {
    super(params);
    this.options = parseOptions(AdamOptionsSchema, options, "optimiser 'adam'");
  }
  protected update(p: Tensor, g: Tensor, i: number, step: number): void {
    const { beta1, beta2, eps } = this.options;
    const lr = this.lr;
    const m = this.buffer('m', i)
      .mul_(beta1)
      .add_(g, 1 - beta1);
    const v = this.buffer('v', i)
      .mul_(beta2)
      .addcmul_(g, g, 1 - beta2);
    const c1 = 1 - beta1 ** step,
      c2 = 1 - beta2 ** step;
    const denom = v.div(c2).sqrt().add(eps);
    p.addcdiv_(m, denom, -lr / c1);
  }
}

/** ADADELTA (Zeiler 2012), as torch.optim.Adadelta; the paper's optimiser (lr 1, ρ 0.95, ε 1e-8). */
export class Adadelta extends Base {
  readonly name = 'adadelta';
  readonly options: Readonly<AdadeltaOptions>;
  constructor(params: Tensor[], options: Partial<AdadeltaOptions> = {}) {
    super(params);
    this.options = parseOptions(AdadeltaOptionsSchema, options, "optimiser 'adadelta'");
  }
  protected update(p: Tensor, g: Tensor, i: number): void {
    const { rho, eps } = this.options;
    const lr = this.lr;
    const sq = this.buffer('square_avg', i)
      .mul_(rho)
      .addcmul_(g, g, 1 - rho);
    const acc = this.buffer('acc_delta', i);
    const std = sq.add(eps).sqrt();
    const delta = acc.add(eps).sqrt().div(std).mul(g);
    acc.mul_(rho).addcmul_(delta, delta, 1 - rho);
    p.add_(delta, -lr);
  }
}

/** A training configuration's optimiser: its name and its options, each checked by the optimiser's schema. */
export const OptimizerConfigSchema = z.discriminatedUnion('name', [
  AdadeltaOptionsSchema.extend({ name: z.literal('adadelta') }),
  AdamOptionsSchema.extend({ name: z.literal('adam') }),
  SgdOptionsSchema.extend({ name: z.literal('sgd') }),
]);
export type OptimizerConfig = z.output<typeof OptimizerConfigSchema>;

/** Every optimiser by name, with its options' schema (for docs and checks). */
export const OPTIMIZERS = { adadelta: AdadeltaOptionsSchema, adam: AdamOptionsSchema, sgd: SgdOptionsSchema } as const;

function withoutName<T extends { name: string }>(c: T): Omit<T, 'name'> {
  const { name: _name, ...options } = c;
  return options;
}

/** The optimiser a configuration names, over `params`. */
export function createOptimizer(config: OptimizerConfig, params: Tensor[]): Optimizer {
  if (config.name === 'adadelta') return new Adadelta(params, withoutName(config));
  if (config.name === 'adam') return new Adam(params, withoutName(config));
  return new Sgd(params, withoutName(config));
}
