// ONNX export: every network (and up-sampling mode) run by onnxruntime-node on a real PET crop
// matches libtorch's logits; dynamic axes; the metadata contract read back; clear errors; the CLI.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import type { onnx } from 'onnx-proto';
import { ComboSegError, networks, nn, noGrad, tensor, tidy, type Tensor } from '../../src/index.js';
import {
  exportOnnx,
  ONNX_META,
  OnnxGraphBuilder,
  PRODUCER_VERSION,
  readOnnxModelInfo,
} from '../../src/export/index.js';
import { writeCheckedOnnx } from '../../src/cli/export.js';
import { readVolume } from '../../src/data/io.js';
import { loadModel, ModelMetaSchema, saveModel, type ModelMeta } from '../../src/inference/model.js';
import type { Network } from '../../src/networks/network.js';
import { Rng } from '../../src/util/random.js';
import { toJson } from '../../src/util/json.js';
import { SHARED_DATA, skipWithoutData } from '../data/shared-data.js';

const { ModelProto } = onnxProto.onnx;
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PET = join(SHARED_DATA, 'pet-sts/STS_001/PET_image.nii.gz');
/** Two non-cubic [D, H, W] crops, multiples of 8, run through one exported model: the axes are dynamic. */
const SIZES: [number, number, number][] = [
  [32, 24, 16],
  [16, 40, 24],
];
const TOLERANCE = 1e-4;
// The background experiment has the cores: one thread each is plenty for these sizes.
const SESSION: ort.InferenceSession.SessionOptions = { intraOpNumThreads: 1, interOpNumThreads: 1 };

function metaFor(net: Network, layout: 'sigmoid' | 'softmax' = 'sigmoid'): ModelMeta {
  return ModelMetaSchema.parse({
    network: net.name,
    options: toJson(net.options),
    labels: {
      values: [1, 2, 4].slice(0, net.options.outChannels),
      names: ['tumour', 'liver', 'spleen'].slice(0, net.options.outChannels),
    },
    normalisation: Array.from({ length: net.options.inChannels }, () => ({ kind: 'minmax', min: 0, max: 30 })),
    perPatchMinMax: false,
    patchSize: [16, 16, 8],
    inference: { threshold: 0.4 },
    epoch: 7,
    validationDice: 0.5,
    layout,
  });
}

/** Non-trivial batch-norm statistics, affine parameters, PReLU slopes and biases, drawn from `seed`. */
function perturb(net: Network, seed: number): void {
  const rng = new Rng(seed);
  const fill = (t: Tensor, lo: number, hi: number) =>
    t.copy_(
      tensor(
        Float32Array.from({ length: t.size }, () => rng.uniform(lo, hi)),
        t.shape,
      ),
    );
  noGrad(() => {
    for (const m of net.modules()) {
      if (m instanceof nn.BatchNorm3d) {
        fill(m.weight, 0.5, 1.5);
        fill(m.bias, -0.2, 0.2);
        fill(m.runningMean, -0.2, 0.2);
        fill(m.runningVar, 0.5, 2);
      } else if (m instanceof nn.PReLU) fill(m.weight, 0, 0.5);
      else if ((m instanceof nn.Conv3d || m instanceof nn.ConvTranspose3d) && m.bias) fill(m.bias, -0.1, 0.1);
    }
  });
}

let petVolume: Promise<Awaited<ReturnType<typeof readVolume>>> | null = null;

/** A centred [D, H, W] crop of the PET scan, min-max normalised; C > 1 adds 1 − x, x², ... channels. */
async function petCrop([D, H, W]: [number, number, number], C: number): Promise<Float32Array> {
  const vol = await (petVolume ??= readVolume(PET));
  const [X, Y, Z] = vol.size;
  const [z0, y0, x0] = [(Z - D) >> 1, (Y - H) >> 1, (X - W) >> 1];
  const crop = new Float32Array(D * H * W);
  for (let z = 0; z < D; z++)
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) crop[(z * H + y) * W + x] = vol.data[((z0 + z) * Y + y0 + y) * X + x0 + x];
  let lo = Infinity,
    hi = -Infinity;
  for (const v of crop) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
  assert.ok(hi > lo, 'the crop holds signal');
  const out = new Float32Array(C * crop.length);
  for (let c = 0; c < C; c++)
    for (let i = 0; i < crop.length; i++) {
      const v = (crop[i] - lo) / (hi - lo);
      out[c * crop.length + i] = c === 0 ? v : c === 1 ? 1 - v : v ** c;
    }
  return out;
}

const CASES: { label: string; name: string; options: Record<string, unknown> }[] = [
  { label: 'proposed (nearest)', name: 'proposed', options: { channels: [4, 8, 16, 16] } },
  { label: 'proposed (trilinear)', name: 'proposed', options: { channels: [4, 8, 16], upsampling: 'trilinear' } },
  { label: 'unet3d (transposed)', name: 'unet3d', options: { channels: [4, 8, 16] } },
  { label: 'unet3d (nearest)', name: 'unet3d', options: { channels: [4, 8, 16], upsampling: 'nearest' } },
  { label: 'unet3d (trilinear)', name: 'unet3d', options: { channels: [4, 8, 16], upsampling: 'trilinear' } },
  {
    label: 'vnet (kernel 3)',
    name: 'vnet',
    options: { channels: [4, 8, 16], encoderConvs: [1, 2, 2], decoderConvs: [2, 1], kernel: 3 },
  },
  {
    // Two input channels: the first stage's residual is the channel mean (ReduceMean), broadcast.
    label: 'vnet (kernel 3, 2 channels in)',
    name: 'vnet',
    options: { channels: [4, 8, 16], encoderConvs: [1, 2, 2], decoderConvs: [2, 1], kernel: 3, inChannels: 2 },
  },
  { label: 'segnet3d (max-unpool)', name: 'segnet3d', options: { channels: [4, 8, 16] } },
];

for (const [k, c] of CASES.entries()) {
  test(
    `ONNX export of ${c.label}: onnxruntime matches libtorch on PET crops of two sizes`,
    { skip: skipWithoutData },
    async (t) => {
      const net = networks.create(c.name, { outChannels: 3, seed: 11 + k, outputBias: -0.5, ...c.options });
      try {
        perturb(net, 100 + k);
        net.eval();
        const session = await ort.InferenceSession.create(exportOnnx(net, metaFor(net)), SESSION);
        try {
          const C = net.options.inChannels;
          for (const size of SIZES) {
            const dims = [1, C, ...size];
            const data = await petCrop(size, C);
            const out = await session.run({ image: new ort.Tensor('float32', data, dims) });
            assert.deepEqual(out.logits.dims, [1, 3, ...size]);
            const got = out.logits.data as Float32Array;
            const want = noGrad(() => tidy(() => net.forward(tensor(data, dims)).toFloat32Array()));
            let maxDiff = 0,
              maxAbs = 0;
            for (let i = 0; i < want.length; i++) {
              maxDiff = Math.max(maxDiff, Math.abs(got[i] - want[i]));
              maxAbs = Math.max(maxAbs, Math.abs(want[i]));
            }
            t.diagnostic(
              `${c.label} [${size}]: max |diff| ${maxDiff.toExponential(2)} (max |logit| ${maxAbs.toFixed(2)})`,
            );
            assert.ok(maxAbs > 0.05, `non-trivial logits (max |logit| ${maxAbs})`);
            assert.ok(maxDiff <= TOLERANCE, `max |diff| ${maxDiff} > ${TOLERANCE}`);
          }
        } finally {
          await session.release();
        }
      } finally {
        net.dispose();
      }
    },
  );
}

test('ONNX export: opset 17, IR 8, named dynamic axes, and the metadata contract read back', () => {
  const net = networks.create('unet3d', { channels: [4, 8], inChannels: 2, outChannels: 3, seed: 3 });
  try {
    const meta = metaFor(net, 'softmax');
    const bytes = exportOnnx(net, meta);
    const model = ModelProto.decode(bytes);
    assert.equal(Number(model.irVersion), 8);
    assert.deepEqual(
      model.opsetImport.map((o) => [o.domain, Number(o.version)]),
      [['', 17]],
    );
    assert.equal(model.producerName, 'comboseg');
    assert.equal(model.producerVersion, PRODUCER_VERSION);
    const graph = model.graph!;
    const dims = (v: onnx.IValueInfoProto) =>
      v.type?.tensorType?.shape?.dim?.map((d) => d.dimParam || Number(d.dimValue)) ?? [];
    const io = (vs: onnx.IValueInfoProto[] | null | undefined) => (vs ?? []).map((v) => [v.name, dims(v)]);
    assert.deepEqual(io(graph.input), [['image', ['batch', 2, 'depth', 'height', 'width']]]);
    assert.deepEqual(io(graph.output), [['logits', ['batch', 3, 'depth', 'height', 'width']]]);
    const props = Object.fromEntries(model.metadataProps.map((p) => [p.key, p.value]));
    assert.deepEqual(Object.keys(props).sort(), Object.values(ONNX_META).sort());
    assert.deepEqual(JSON.parse(props['comboseg.model']), toJson(meta));
    assert.equal(props['comboseg.divisor'], '2');
    assert.equal(props['comboseg.fullResolutionWidth'], '24');
    assert.equal(props['comboseg.network'], 'unet3d');
    assert.equal(props['comboseg.layout'], 'softmax');
    assert.equal(props['comboseg.activation'], 'softmax over channels');
    assert.equal(props['comboseg.window'], '16,16,8');
    assert.equal(props['comboseg.threshold'], '0.4');
    assert.deepEqual(JSON.parse(props['comboseg.organs']), meta.labels);
    assert.deepEqual(JSON.parse(props['comboseg.normalisation']), meta.normalisation);
    // Initializers keep the state-dict names.
    assert.ok((graph.initializer ?? []).some((i) => i.name === 'encoder.0.0.0.weight'));
    const info = readOnnxModelInfo(bytes, 'model.onnx');
    assert.deepEqual(info, { meta, divisor: net.divisor, fullResolutionWidth: net.fullResolutionWidth });
  } finally {
    net.dispose();
  }
});

/** An ONNX model holding one Relu and the metadata given. */
function tinyOnnx(metadata: Record<string, string>): Uint8Array {
  const b = new OnnxGraphBuilder();
  b.node('Relu', ['x'], [], ['y']);
  const value = (name: string) => ({ name, type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 2 }] } } } });
  return ModelProto.encode({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: { name: 'g', node: b.nodes, input: [value('x')], output: [value('y')] },
    metadataProps: Object.entries(metadata).map(([key, v]) => ({ key, value: v })),
  }).finish();
}

const rejects = (f: () => unknown, message: string | RegExp) =>
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof ComboSegError, String(e));
    assert.equal(e.code, 'bad-file');
    if (typeof message === 'string') assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  });

test('readOnnxModelInfo: a file that is not ONNX, ONNX from elsewhere and damaged metadata each say so', async () => {
  const rng = new Rng(5);
  const junk = Uint8Array.from({ length: 4096 }, () => rng.int(256));
  rejects(() => readOnnxModelInfo(junk, 'junk.bin'), /^junk\.bin: not an ONNX model \(.+\)$/);
  rejects(() => readOnnxModelInfo(new Uint8Array(0), 'empty.onnx'), /^empty\.onnx: not an ONNX model \(.+\)$/);
  const text = new TextEncoder().encode('{"this": "is JSON, not protobuf"}\n');
  rejects(() => readOnnxModelInfo(text, 'model.json'), /^model\.json: not an ONNX model \(.+\)$/);
  // A valid ONNX model (onnxruntime runs it) without our metadata.
  const plain = tinyOnnx({ author: 'someone else' });
  const session = await ort.InferenceSession.create(plain, SESSION);
  await session.release();
  rejects(
    () => readOnnxModelInfo(plain, 'other.onnx'),
    'other.onnx: not a comboseg export (no comboseg metadata); ' +
      'export one with `comboseg export --model RUN/best --onnx FILE`',
  );
  rejects(
    () => readOnnxModelInfo(tinyOnnx({ 'comboseg.model': '{"network": "proposed"}' }), 'bad.onnx'),
    /^bad\.onnx: damaged model metadata: field 'model\.options' missing/,
  );
  rejects(
    () => readOnnxModelInfo(tinyOnnx({ 'comboseg.model': '{"network": ' }), 'cut.onnx'),
    /^cut\.onnx: damaged model metadata: comboseg\.model is not JSON \(/,
  );
  const net = networks.create('proposed', { channels: [4, 8], seed: 1 });
  const model = JSON.stringify(toJson(metaFor(net)));
  net.dispose();
  rejects(
    () => readOnnxModelInfo(tinyOnnx({ 'comboseg.model': model, 'comboseg.fullResolutionWidth': '4' }), 'x.onnx'),
    'x.onnx: damaged model metadata: comboseg.divisor must be a positive integer, got nothing',
  );
});

test('ONNX export: an unknown layer kind, batch norm in training mode and mismatched metadata are errors', () => {
  class Mystery extends nn.Module {
    forward(x: Tensor): Tensor {
      return x;
    }
  }
  assert.throws(
    () => new OnnxGraphBuilder().layer(new Mystery(), 'x'),
    (e: unknown) => e instanceof ComboSegError && e.code === 'unsupported' && /layer Mystery/.test(e.message),
  );
  const bn = new nn.BatchNorm3d(2);
  assert.throws(() => new OnnxGraphBuilder().batchNorm3d(bn, 'x'), /training mode; call network\.eval\(\) first/);
  bn.dispose();
  const net = networks.create('proposed', { channels: [4, 8], seed: 1 });
  const other = networks.create('segnet3d', { channels: [4], seed: 1 });
  try {
    // A network in training mode is exported in evaluation mode and left as it was.
    net.train();
    assert.ok(exportOnnx(net, metaFor(net)).byteLength > 0);
    assert.equal(net.training, true);
    assert.throws(() => exportOnnx(net, metaFor(other)), /metadata is of a 'segnet3d' network, not 'proposed'/);
  } finally {
    net.dispose();
    other.dispose();
  }
});

test('ONNX export: producer_version is package.json version', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  assert.equal(PRODUCER_VERSION, pkg.version);
});

test('onnx-meta.ts is browser-safe: its imports reach no Node module and nothing of the engine but errors', () => {
  const seen = new Set<string>();
  const external = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const source = readFileSync(file, 'utf8');
    // Type-only imports vanish at compile time.
    for (const m of source.matchAll(/^(?:import|export)\s+(type\s+)?[^;]*?\sfrom\s+'([^']+)'/gms)) {
      if (m[1]) continue;
      const spec = m[2];
      if (spec.startsWith('.')) visit(join(dirname(file), spec.replace(/\.js$/, '.ts')));
      else external.add(spec);
    }
  };
  visit(join(ROOT, 'src/export/onnx-meta.ts'));
  assert.deepEqual([...external].sort(), ['onnx-proto', 'zod']);
  const engine = [...seen].filter((f) => f.includes('/src/engine/')).map((f) => f.slice(ROOT.length));
  assert.deepEqual(engine, ['src/engine/errors.ts']);
});

/** A tiny trained-model file, saved as RUN/best.safetensors. */
function savedModel(root: string): string {
  const net = networks.create('proposed', { channels: [4, 8], outChannels: 2, seed: 2 });
  perturb(net, 9);
  const meta = metaFor(net);
  saveModel(join(root, 'best.safetensors'), net, { ...meta, options: toJson(net.options) as Record<string, never> });
  net.dispose();
  return join(root, 'best');
}

const bin = join(ROOT, 'bin/comboseg.js');
const cli = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });

test('comboseg export writes a checked ONNX file; a bad --model path is a one-line error and writes nothing', () => {
  const root = mkdtempSync(join(tmpdir(), 'comboseg-export-'));
  try {
    const model = savedModel(root);
    const out = join(root, 'exports', 'model.onnx');
    const r = cli('export', '--model', model, '--onnx', out);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /best\.safetensors → .*model\.onnx \(\d+\.\d KiB, ONNX opset 17, IR version 8\)/);
    assert.match(r.stdout, /network {3}proposed, /);
    assert.match(r.stdout, /organs {4}tumour \(1\), liver \(2\)/);
    assert.match(r.stdout, /checked {3}onnxruntime-node ran it on a 2×2×2 test volume: max \|diff\| from libtorch /);
    const loaded = loadModel(join(root, 'best.safetensors'));
    const info = readOnnxModelInfo(readFileSync(out), out);
    assert.deepEqual(info.meta, loaded.meta);
    assert.equal(info.divisor, 2);
    loaded.network.dispose();

    const missing = join(root, 'exports', 'missing.onnx');
    const bad = cli('export', '--model', join(root, 'no-such-run', 'best'), '--onnx', missing);
    assert.equal(bad.status, 2, bad.stderr);
    assert.match(bad.stderr, /^comboseg: .*no-such-run\/best: no model there \([^\n]*\)\n$/);
    assert.equal(existsSync(missing), false);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('export: a file that fails its onnxruntime check is not written, and an earlier export is kept', async () => {
  const root = mkdtempSync(join(tmpdir(), 'comboseg-export-check-'));
  try {
    const loaded = loadModel(savedModel(root));
    const out = join(root, 'model.onnx');
    try {
      await assert.rejects(
        writeCheckedOnnx(out, loaded, () => Promise.reject(new Error('no kernel for MaxUnpool'))),
        (e: unknown) =>
          e instanceof ComboSegError &&
          e.message ===
            `${out}: the export failed its check with onnxruntime (no kernel for MaxUnpool); nothing was written`,
      );
      assert.deepEqual(readdirSync(root).sort(), ['best.safetensors']);
      // The real check passes on the same model.
      const written = await writeCheckedOnnx(out, loaded);
      assert.ok(written.check.maxDiff <= 1e-5, `max |diff| ${written.check.maxDiff}`);
      assert.equal(written.bytes, readFileSync(out).byteLength);
      // A later export that fails its check leaves the good one in place.
      const good = readFileSync(out);
      await assert.rejects(writeCheckedOnnx(out, loaded, () => Promise.reject(new Error('broken'))));
      assert.ok(readFileSync(out).equals(good), 'the earlier export is untouched');
      assert.deepEqual(readdirSync(root).sort(), ['best.safetensors', 'model.onnx']);
    } finally {
      loaded.network.dispose();
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
