// The four networks: output shapes, closed-form parameter counts, determinism,
// overfitting one example, state round trips, and input errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  networks,
  losses,
  training,
  tensor,
  tidy,
  noGrad,
  rand,
  manualSeed,
  ComboSegError,
  type Tensor,
} from '../../src/index.js';

// ---- closed-form parameter counts (conv: k³·cin·cout + cout; BN: 2·c; PReLU: c) ----
const conv = (cin: number, cout: number, k: number) => k ** 3 * cin * cout + cout;
const bn = (c: number) => 2 * c;

function proposedCount(c: number[], n: number, cin: number, K: number): number {
  let p = 0,
    prev = cin;
  for (const ch of c)
    for (let j = 0; j < n; j++) {
      p += conv(prev, ch, 3) + bn(ch);
      prev = ch;
    }
  for (const ch of c.slice(0, -1).reverse())
    for (let j = 0; j < n; j++) {
      p += conv(prev, ch, 3) + bn(ch);
      prev = ch;
    }
  return p + conv(prev, K, 1);
}

function unetCount(f: number[], cin: number, K: number, transposed = true): number {
  let p = 0,
    prev = cin;
  for (const fi of f) {
    p += conv(prev, fi, 3) + bn(fi) + conv(fi, 2 * fi, 3) + bn(2 * fi);
    prev = 2 * fi;
  }
  for (let i = f.length - 2; i >= 0; i--) {
    if (transposed) p += conv(prev, prev, 2);
    const o = 2 * f[i];
    p += conv(prev + o, o, 3) + bn(o) + conv(o, o, 3) + bn(o);
    prev = o;
  }
  return p + conv(prev, K, 1);
}

function vnetCount(c: number[], enc: number[], dec: number[], cin: number, K: number, k: number): number {
  const block = (a: number, b: number, ks: number) => conv(a, b, ks) + bn(b) + b;
  let p = block(cin, c[0], k);
  for (let j = 1; j < enc[0]; j++) p += block(c[0], c[0], k);
  for (let i = 1; i < c.length; i++) {
    p += block(c[i - 1], c[i], 2);
    for (let j = 0; j < enc[i]; j++) p += block(c[i], c[i], k);
  }
  let prev = c[c.length - 1];
  for (let s = 0, i = c.length - 2; i >= 0; s++, i--) {
    p += block(prev, c[i], 2);
    for (let j = 0; j < dec[s]; j++) p += block(2 * c[i], 2 * c[i], k);
    prev = 2 * c[i];
  }
  return p + conv(prev, K, 1);
}

function segnetCount(c: number[], n: number, cin: number, K: number): number {
  let p = 0,
    prev = cin;
  for (const ch of c)
    for (let j = 0; j < n; j++) {
      p += conv(prev, ch, 3) + bn(ch);
      prev = ch;
    }
  for (let i = c.length - 1; i >= 0; i--) {
    const narrow = i === 0 ? c[0] : c[i - 1];
    for (let j = 0; j < n; j++) {
      const out = j === n - 1 ? narrow : c[i];
      p += conv(c[i], out, 3) + bn(out);
    }
  }
  return p + conv(c[0], K, 1);
}

test('default parameter counts equal the closed forms (and land near the paper for "proposed")', () => {
  const cases: [string, number][] = [
    ['proposed', proposedCount([32, 64, 128, 256, 312], 2, 1, 5)],
    ['unet3d', unetCount([32, 64, 128, 256], 1, 5)],
    ['vnet', vnetCount([16, 32, 64, 128, 256], [1, 2, 3, 3, 3], [3, 3, 2, 1], 1, 5, 5)],
    ['segnet3d', segnetCount([32, 64, 128, 256], 2, 1, 5)],
  ];
  for (const [name, want] of cases) {
    const net = networks.create(name, { inChannels: 1, outChannels: 5 });
    assert.equal(net.numParameters(), want, name);
    net.dispose();
  }
  assert.equal(proposedCount([32, 64, 128, 256, 312], 2, 1, 5), 13_972_629);
  assert.ok(Math.abs(13_972_629 - 13_997_827) / 13_997_827 < 0.002, 'within 0.2% of the paper');
});

// Small widths keep the remaining tests fast.
const SMALL: Record<string, Record<string, unknown>> = {
  proposed: { channels: [4, 8, 16] },
  unet3d: { channels: [4, 8, 8] },
  vnet: { channels: [4, 8, 16], encoderConvs: [1, 2, 2], decoderConvs: [2, 1], kernel: 3 },
  segnet3d: { channels: [4, 8], convsPerLevel: 2 },
};
const smallCount: Record<string, (cin: number, K: number) => number> = {
  proposed: (cin, K) => proposedCount([4, 8, 16], 2, cin, K),
  unet3d: (cin, K) => unetCount([4, 8, 8], cin, K),
  vnet: (cin, K) => vnetCount([4, 8, 16], [1, 2, 2], [2, 1], cin, K, 3),
  segnet3d: (cin, K) => segnetCount([4, 8], 2, cin, K),
};
const make = (name: string, extra: Record<string, unknown> = {}) =>
  networks.create(name, { inChannels: 1, outChannels: 3, ...SMALL[name], ...extra });

for (const name of networks.NETWORK_NAMES) {
  test(`${name}: output shapes, closed-form count at a small width, divisibility errors`, () => {
    const net = make(name, { inChannels: 2 });
    assert.equal(net.numParameters(), smallCount[name](2, 3));
    const d = net.divisor;
    for (const [b, z, y, x] of [
      [1, d, d, d],
      [2, 2 * d, d, 3 * d],
      [1, 4 * d, 2 * d, d],
    ]) {
      const shape = tidy(() => noGrad(() => net.forward(rand([b, 2, z, y, x])).shape));
      assert.deepEqual(shape, [b, 3, z, y, x], `${name} at [${b}, 2, ${z}, ${y}, ${x}]`);
    }
    tidy(() => {
      assert.throws(
        () => net.forward(rand([1, 2, d + 1, d, d])),
        (e: unknown) =>
          e instanceof ComboSegError &&
          new RegExp(`must be a multiple of ${d} on every axis`).test((e as Error).message),
      );
      assert.throws(() => net.forward(rand([1, 1, d, d, d])), /input has 1 channel\(s\), the network was built for 2/);
      assert.throws(() => net.forward(rand([2, d, d, d])), /expected input \[B, C, D, H, W\]/);
    });
    net.dispose();
  });

  test(`${name}: eval-mode forward is deterministic; the seed fixes the initialisation`, () =>
    tidy(() => {
      const a = make(name).eval(),
        b = make(name).eval(),
        c = make(name, { seed: 1 }).eval();
      manualSeed(3);
      const x = rand([1, 1, 2 * a.divisor, a.divisor, a.divisor]);
      const ya = noGrad(() => a.forward(x)).toArray();
      assert.deepEqual(noGrad(() => a.forward(x)).toArray(), ya, 'same network, same output');
      assert.deepEqual(noGrad(() => b.forward(x)).toArray(), ya, 'same seed, same output');
      assert.notDeepEqual(noGrad(() => c.forward(x)).toArray(), ya, 'another seed, another output');
      for (const n of [a, b, c]) n.dispose();
    }));

  test(`${name}: overfits one small volume (Combo loss falls)`, () => {
    const net = make(name, { outChannels: 1 });
    const s = 2 * Math.max(8, net.divisor);
    const mask = new Float32Array(s ** 3),
      image = new Float32Array(s ** 3);
    for (let z = 0, i = 0; z < s; z++)
      for (let y = 0; y < s; y++)
        for (let x = 0; x < s; x++, i++) {
          const inside = (z - s / 2) ** 2 + (y - s / 2) ** 2 + (x - s / 3) ** 2 < (s / 5) ** 2;
          mask[i] = inside ? 1 : 0;
          image[i] = inside ? 1 : 0.2 * Math.sin(i);
        }
    const x = tensor(image, [1, 1, s, s, s]),
      t = tensor(mask, [1, 1, s, s, s]);
    const loss = losses.create('combo');
    const opt = new training.Adam(net.parameters(), { lr: 0.01 });
    const values: number[] = [];
    for (let step = 0; step < 60; step++) {
      values.push(
        tidy(() => {
          const l = loss(net.forward(x), t);
          l.backward();
          opt.step();
          opt.zeroGrad();
          return l.item();
        }),
      );
    }
    assert.ok(values[59] < values[0] - 0.3, `${name}: loss ${values[0].toFixed(3)} → ${values[59].toFixed(3)}`);
    for (const v of [x, t]) v.dispose();
    opt.dispose();
    net.dispose();
  });

  test(`${name}: state dict round-trips through safetensors with identical outputs`, () => {
    const net = make(name);
    const x = rand([2, 1, net.divisor, 2 * net.divisor, net.divisor]);
    tidy(() => {
      net.forward(x);
    }); // a training-mode pass moves the batch-norm running statistics
    net.eval();
    const path = join(mkdtempSync(join(tmpdir(), 'comboseg-net-')), `${name}.safetensors`);
    networks.saveNetwork(path, net, { epoch: 7 });
    const { network, metadata } = networks.loadNetwork(path);
    network.eval();
    assert.equal(metadata.epoch, 7);
    assert.equal(network.name, name);
    assert.deepEqual(
      tidy(() => noGrad(() => network.forward(x).toArray())),
      tidy(() => noGrad(() => net.forward(x).toArray())),
    );
    const running = net.namedBuffers().find(([k]) => k.endsWith('running_mean'))!;
    assert.ok(
      running[1].toArray().some((v) => v !== 0),
      'running statistics were saved after moving',
    );
    for (const n of [net, network]) n.dispose();
    x.dispose();
  });
}

test('loadStateDict and create reject what does not fit, naming it', () => {
  const a = make('proposed'),
    b = make('proposed', { channels: [4, 8, 8] });
  assert.throws(
    () => b.loadStateDict(a.stateDict()),
    /'encoder.2.0.0.weight' has shape \[16,8,3,3,3\] in the state, \[8,8,3,3,3\] in the network/,
  );
  const partial: Record<string, Tensor> = { ...a.stateDict() };
  delete partial['head.bias'];
  assert.throws(() => a.loadStateDict(partial), /missing: head.bias/);
  assert.throws(
    () => networks.create('unet'),
    /unknown network 'unet'. Did you mean 'unet3d'\? Known networks: proposed, unet3d, vnet, segnet3d/,
  );
  assert.throws(() => networks.create('proposed', { outChannels: 0 }), /'outChannels' must be a positive integer/);
  assert.throws(() => networks.create('proposed', { widths: [1] } as never), /unknown option 'widths'/);
  assert.throws(() => networks.create('vnet', { kernel: 4 }), /'kernel' must be odd/);
  assert.throws(
    () => networks.create('unet3d', { upsampling: 'cubic' } as never),
    /'upsampling' must be one of 'transposed', 'nearest', 'trilinear'/,
  );
  a.dispose();
  b.dispose();
});
