import { Command } from 'commander';
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { ComboSegError } from '../engine/errors.js';
import { noGrad } from '../engine/autograd.js';
import { dispose, tidy } from '../engine/scope.js';
import { tensor } from '../engine/tensor.js';
import { loadModel, modelChannels, type LoadedModel } from '../inference/model.js';
import type { Network } from '../networks/network.js';
import { resolveModelPath } from '../training/run-dir.js';
import { ONNX_IR_VERSION, ONNX_OPSET } from '../export/onnx-builder.js';
import { ONNX_INPUT, ONNX_OUTPUT, writeOnnx } from '../export/onnx.js';
import { loadOnnxRuntime } from '../inference/onnx-session.js';

/** How far onnxruntime's logits may be from libtorch's, relative to their largest magnitude (at least 1). */
const CHECK_TOLERANCE = 1e-3;

export interface OnnxCheck {
  /** The spatial size of the test volume it ran on (the network's divisor on each axis). */
  side: number;
  maxDiff: number;
}

/**
 * Runs the ONNX file once with onnxruntime-node on a test volume (sin of the index) of the network's divisor size and
 * compares its logits with libtorch's; throws when they differ or onnxruntime refuses the file.
 */
export async function checkWithOnnxRuntime(path: string, network: Network): Promise<OnnxCheck> {
  // Loaded here, not at start-up: every other command would pay for onnxruntime's native library.
  const ort = await loadOnnxRuntime();
  const side = network.divisor;
  const dims = [1, network.options.inChannels, side, side, side];
  // Not zeros: zero times any weight is zero, and a misplaced first-layer weight would pass unseen.
  const data = Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i));
  const session = await ort.InferenceSession.create(path, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  let got: Float32Array;
  try {
    const out = await session.run({ [ONNX_INPUT]: new ort.Tensor('float32', data, dims) });
    got = out[ONNX_OUTPUT].data as Float32Array;
  } finally {
    await session.release();
  }
  const want = noGrad(() => tidy(() => network.forward(tensor(data, dims)).toFloat32Array()));
  if (got.length !== want.length) {
    throw new ComboSegError(`onnxruntime gave ${got.length} logits, libtorch ${want.length}`, { code: 'failed' });
  }
  let maxDiff = 0,
    scale = 1;
  for (let i = 0; i < want.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(got[i] - want[i]));
    scale = Math.max(scale, Math.abs(want[i]));
  }
  if (!(maxDiff <= CHECK_TOLERANCE * scale)) {
    throw new ComboSegError(`onnxruntime's logits differ from libtorch's by up to ${maxDiff.toPrecision(3)}`);
  }
  return { side, maxDiff };
}

/**
 * Writes the export beside `out`, checks that file, and only then moves it onto `out`: a failed check
 * leaves whatever `out` held before (an earlier good export) untouched.
 */
export async function writeCheckedOnnx(
  out: string,
  loaded: LoadedModel,
  check: (path: string, network: Network) => Promise<OnnxCheck> = checkWithOnnxRuntime,
): Promise<{ bytes: number; check: OnnxCheck }> {
  const candidate = join(dirname(out), `.${basename(out)}.${process.pid}.checking.onnx`);
  const bytes = writeOnnx(candidate, loaded).byteLength;
  try {
    const result = { bytes, check: await check(candidate, loaded.network) };
    renameSync(candidate, out);
    return result;
  } catch (e) {
    rmSync(candidate, { force: true });
    const why = e instanceof Error ? e.message : String(e);
    throw new ComboSegError(`${out}: the export failed its check with onnxruntime (${why}); nothing was written`, {
      code: 'failed',
      path: out,
      cause: e,
    });
  }
}

const mib = (n: number): string => (n >= 2 ** 20 ? `${(n / 2 ** 20).toFixed(1)} MiB` : `${(n / 1024).toFixed(1)} KiB`);

/** What was written, for people. */
function report(out: string, modelPath: string, loaded: LoadedModel, written: { bytes: number; check: OnnxCheck }) {
  const { network, meta } = loaded;
  const C = modelChannels(meta),
    K = network.options.outChannels,
    s = written.check.side;
  const activation = meta.layout === 'sigmoid' ? 'a sigmoid per organ' : 'a softmax over channels';
  const dice = meta.validationDice === null ? '' : `, validation Dice ${meta.validationDice.toFixed(3)}`;
  console.log(`${modelPath} → ${out} (${mib(written.bytes)}, ONNX opset ${ONNX_OPSET}, IR version ${ONNX_IR_VERSION})`);
  const parameters = network.numParameters().toLocaleString('en-US');
  console.log(`  network   ${meta.network}, ${parameters} parameters, epoch ${meta.epoch}${dice}`);
  console.log(`  input     ${ONNX_INPUT} [batch, ${C}, D, H, W] float32, D, H, W multiples of ${network.divisor}`);
  console.log(
    `  output    ${ONNX_OUTPUT} [batch, ${K}, D, H, W]: ${activation}, threshold ${meta.inference.threshold}`,
  );
  console.log(`  organs    ${meta.labels.names.map((n, i) => `${n} (${meta.labels.values[i]})`).join(', ')}`);
  console.log(
    `  checked   onnxruntime-node ran it on a ${s}×${s}×${s} test volume: ` +
      `max |diff| from libtorch ${written.check.maxDiff.toPrecision(2)}`,
  );
}

/** `comboseg export --model RUN/best --onnx model.onnx`. */
export function exportCommand(): Command {
  return new Command('export')
    .description('write a trained model as an ONNX graph (opset 17) with its metadata, checked with onnxruntime')
    .requiredOption('--model <path>', 'RUN_DIR/best, RUN_DIR/last, a run folder, or a .safetensors file')
    .requiredOption('--onnx <file>', 'the ONNX file to write (dynamic batch and spatial axes)')
    .action(async (o: { model: string; onnx: string }) => {
      await loadOnnxRuntime(); // the check needs it: a missing one says how to add it before anything is written
      const modelPath = resolveModelPath(o.model);
      if (existsSync(o.onnx) && statSync(o.onnx).isDirectory()) {
        throw new ComboSegError(`--onnx ${o.onnx} is a folder; give a file name (model.onnx)`, {
          code: 'invalid-option',
          path: '--onnx',
        });
      }
      if (resolve(o.onnx) === resolve(modelPath)) {
        throw new ComboSegError(`--onnx ${o.onnx} is the model itself`, { code: 'invalid-option', path: '--onnx' });
      }
      const loaded = loadModel(modelPath);
      try {
        mkdirSync(dirname(o.onnx) || '.', { recursive: true });
        report(o.onnx, modelPath, loaded, await writeCheckedOnnx(o.onnx, loaded));
      } finally {
        loaded.network.dispose();
        dispose(loaded.extra);
      }
    });
}
