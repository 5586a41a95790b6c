// Module: parameters (trainable tensors), buffers (state such as batch-norm
// running statistics), child modules, train/eval mode and named state for
// checkpoints. Parameters and buffers are kept out of tidy scopes: they live
// until the module is disposed.
import { keep } from '../engine/scope.js';
import type { Tensor } from '../engine/tensor.js';
import { noGrad } from '../engine/autograd.js';
import { ComboSegError } from '../engine/errors.js';
import { moveTo_ } from '../engine/device.js';

export abstract class Module {
  #params = new Map<string, Tensor>();
  #buffers = new Map<string, Tensor>();
  #children = new Map<string, Module>();
  #training = true;

  abstract forward(x: Tensor, ...rest: never[]): Tensor | Tensor[];

  protected addParameter(name: string, t: Tensor): Tensor {
    keep(t);
    t.requiresGrad = true;
    this.#params.set(name, t);
    return t;
  }
  protected addBuffer(name: string, t: Tensor): Tensor {
    keep(t);
    this.#buffers.set(name, t);
    return t;
  }
  protected addModule<M extends Module>(name: string, m: M): M {
    this.#children.set(name, m);
    return m;
  }

  get training(): boolean {
    return this.#training;
  }
  /** Training mode: batch norm uses batch statistics and updates its running ones. */
  train(on = true): this {
    this.#training = on;
    for (const c of this.#children.values()) c.train(on);
    return this;
  }
  /** Evaluation mode: batch norm uses its running statistics. */
  eval(): this {
    return this.train(false);
  }

  /** Parameters of this module and its descendants, with dotted names (`enc.0.conv.weight`). */
  namedParameters(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [...this.#params].map(([n, t]) => [prefix + n, t]);
    for (const [n, c] of this.#children) out.push(...c.namedParameters(`${prefix}${n}.`));
    return out;
  }
  namedBuffers(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [...this.#buffers].map(([n, t]) => [prefix + n, t]);
    for (const [n, c] of this.#children) out.push(...c.namedBuffers(`${prefix}${n}.`));
    return out;
  }
  /** This module and its descendants, depth first. */
  modules(): Module[] {
    return [this, ...[...this.#children.values()].flatMap((c) => c.modules())];
  }
  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }
  /** Number of trainable scalars (buffers such as running statistics are not counted). */
  numParameters(): number {
    return this.parameters().reduce((a, t) => a + t.size, 0);
  }

  /** Parameters and buffers by name (the tensors themselves, not copies). */
  stateDict(): Record<string, Tensor> {
    return Object.fromEntries([...this.namedParameters(), ...this.namedBuffers()]);
  }

  /** Copies values from a state dict; every name must be present with the same shape. */
  loadStateDict(sd: Record<string, Tensor>): void {
    const own = this.stateDict();
    const missing = Object.keys(own).filter((k) => !(k in sd));
    const extra = Object.keys(sd).filter((k) => !(k in own));
    if (missing.length || extra.length) {
      throw new ComboSegError(
        `loadStateDict: state does not match the network` +
          (missing.length ? `; missing: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', ...' : ''}` : '') +
          (extra.length ? `; unexpected: ${extra.slice(0, 5).join(', ')}${extra.length > 5 ? ', ...' : ''}` : ''),
      );
    }
    for (const [k, t] of Object.entries(own)) {
      if (sd[k].shape.join() !== t.shape.join()) {
        throw new ComboSegError(
          `loadStateDict: '${k}' has shape [${sd[k].shape}] in the state, [${t.shape}] in the network`,
        );
      }
    }
    noGrad(() => {
      for (const [k, t] of Object.entries(own)) t.copy_(sd[k]);
    });
  }

  /**
   * Moves every parameter and buffer to `device` ('cpu', 'cuda', 'cuda:N') in place: the layers keep
   * their tensors, now on that device. Inputs must then be on it too.
   */
  to(device: string): this {
    for (const t of Object.values(this.stateDict())) moveTo_(t, device);
    return this;
  }

  /** The device of the parameters ('cpu' for a module without any). */
  get device(): string {
    return this.parameters().at(0)?.device ?? 'cpu';
  }

  /** Drops every parameter's gradient. */
  zeroGrad(): void {
    for (const p of this.parameters()) p.zeroGrad();
  }

  /** Frees every parameter and buffer. */
  dispose(): void {
    for (const t of Object.values(this.stateDict())) t.dispose();
  }
}
