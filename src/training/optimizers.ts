// Optimisers as in PyTorch (same update rules, so results compare): SGD with
// momentum, Adam, and ADADELTA (the paper's: lr 1, ρ 0.95, ε 1e-8). State is
// named tensors, so a run can be resumed exactly.
import { noGrad } from '../engine/autograd.js';
import { keep, tidy } from '../engine/scope.js';
import type { Tensor } from '../engine/tensor.js';
import { zerosLike } from '../engine/ops/creation.js';
import { ComboSegError } from '../engine/errors.js';

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
  dispose(): void;
}

abstract class Base implements Optimizer {
  abstract readonly name: string;
  #buffers = new Map<string, Tensor>();
  #steps = 0;
  constructor(protected readonly params: Tensor[]) {}

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
    noGrad(() => this.params.forEach((p, i) => tidy(() => {
      const g = p.grad;
      if (g !== null) this.update(p, g, i, this.#steps);
    })));
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
        if (!(i >= 0 && i < this.params.length)) throw new ComboSegError(`${this.name}: optimiser state '${k}' names no parameter`);
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

function positive(opt: string, name: string, v: number, allowZero = false): void {
  if (!Number.isFinite(v) || v < 0 || (!allowZero && v === 0)) throw new ComboSegError(`optimiser '${opt}': ${name} must be ${allowZero ? '≥' : '>'} 0, got ${v}`);
}

/** SGD with optional (heavy-ball) momentum: v = μv + g; p −= lr·v. */
export class Sgd extends Base {
  readonly name = 'sgd';
  constructor(params: Tensor[], readonly lr = 0.01, readonly momentum = 0) {
    super(params);
    positive('sgd', 'lr', lr);
    if (!(momentum >= 0 && momentum < 1)) throw new ComboSegError(`optimiser 'sgd': momentum must be in [0, 1), got ${momentum}`);
  }
  protected update(p: Tensor, g: Tensor, i: number): void {
    if (this.momentum === 0) {
      p.add_(g, -this.lr);
      return;
    }
    const v = this.buffer('momentum', i).mul_(this.momentum).add_(g);
    p.add_(v, -this.lr);
  }
}

/** Adam (Kingma & Ba), bias-corrected, as torch.optim.Adam. */
export class Adam extends Base {
  readonly name = 'adam';
  constructor(params: Tensor[], readonly lr = 1e-3, readonly beta1 = 0.9, readonly beta2 = 0.999, readonly eps = 1e-8) {
    super(params);
    positive('adam', 'lr', lr);
    positive('adam', 'eps', eps, true);
    for (const [n, b] of [['beta1', beta1], ['beta2', beta2]] as const) {
      if (!(b >= 0 && b < 1)) throw new ComboSegError(`optimiser 'adam': ${n} must be in [0, 1), got ${b}`);
    }
  }
  protected update(p: Tensor, g: Tensor, i: number, step: number): void {
    const m = this.buffer('m', i).mul_(this.beta1).add_(g, 1 - this.beta1);
    const v = this.buffer('v', i).mul_(this.beta2).addcmul_(g, g, 1 - this.beta2);
    const c1 = 1 - this.beta1 ** step, c2 = 1 - this.beta2 ** step;
    const denom = v.div(c2).sqrt().add(this.eps);
    p.addcdiv_(m, denom, -this.lr / c1);
  }
}

/** ADADELTA (Zeiler 2012), as torch.optim.Adadelta; the paper's optimiser (lr 1, ρ 0.95, ε 1e-8). */
export class Adadelta extends Base {
  readonly name = 'adadelta';
  constructor(params: Tensor[], readonly lr = 1, readonly rho = 0.95, readonly eps = 1e-8) {
    super(params);
    positive('adadelta', 'lr', lr);
    positive('adadelta', 'eps', eps);
    if (!(rho >= 0 && rho < 1)) throw new ComboSegError(`optimiser 'adadelta': rho must be in [0, 1), got ${rho}`);
  }
  protected update(p: Tensor, g: Tensor, i: number): void {
    const sq = this.buffer('square_avg', i).mul_(this.rho).addcmul_(g, g, 1 - this.rho);
    const acc = this.buffer('acc_delta', i);
    const std = sq.add(this.eps).sqrt();
    const delta = acc.add(this.eps).sqrt().div(std).mul(g);
    acc.mul_(this.rho).addcmul_(delta, delta, 1 - this.rho);
    p.add_(delta, -this.lr);
  }
}
