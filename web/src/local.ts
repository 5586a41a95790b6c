// Segmentation on the user's machine: an exported model (`comboseg export --onnx`) and a local
// NIfTI scan, run by onnxruntime-web — WebGPU where the browser has it and the model's operators
// run there, wasm otherwise — with the same inference rules as `predict --runtime onnx`
// (src/inference/portable.ts). Nothing is uploaded.
import onnxProto from 'onnx-proto';
import { readOnnxModelInfo } from '../../src/export/onnx-meta.js';
import { readNifti, writeNiftiLike, type NiftiFile } from '../../src/data/nifti-lite.js';
import { passBytes, predictPortable, type PortableModel, type Shape5 } from '../../src/inference/portable.js';
import { outputChannels } from '../../src/data/layout.js';
import { channelCount, voxelCount } from '../../src/data/volume.js';
import { sizeForSpacing } from '../../src/data/resize-linear.js';

/** What the page may hold for one segmentation (scan, probabilities, copies) and hand one forward pass. */
export const PAGE_BUDGET_BYTES = 2 * 2 ** 30;
export const PASS_BUDGET_MIB = 512;

export type Backend = 'webgpu' | 'wasm';

export interface LocalResult {
  /** Files for the viewer and the download, as object URLs, by the names the viewer loads. */
  urls: Record<'image.nii.gz' | 'prediction.nii.gz' | 'probability.nii.gz', string>;
  prediction: Blob;
  organs: { value: number; name: string }[];
  backend: Backend;
  /** Why WebGPU was not used, when it was not. */
  backendNote: string;
  mode: 'window' | 'whole';
  seconds: number;
}

/** Operators WebGPU (onnxruntime-web 1.30) does not run in 3-D: such a model runs on wasm. */
const NOT_ON_WEBGPU = new Set(['ConvTranspose', 'MaxUnpool']);

function operators(bytes: Uint8Array): Set<string> {
  const model = onnxProto.onnx.ModelProto.decode(bytes);
  return new Set((model.graph?.node ?? []).map((n) => n.opType ?? ''));
}

/** Bytes the page needs for `scan` with `model`, roughly: arrays on the scan's and the model's grid, one pass. */
export function pageBytes(info: Omit<PortableModel, 'forward'>, nifti: NiftiFile): number {
  const v = nifti.volume;
  const C = channelCount(v),
    K = outputChannels(info.meta.layout, info.meta.labels.values.length);
  const n = voxelCount(v);
  const grid = info.meta.spacing ? sizeForSpacing(v, info.meta.spacing) : v.size;
  const m = grid[0] * grid[1] * grid[2];
  const win = info.meta.patchSize[0] * info.meta.patchSize[1] * info.meta.patchSize[2];
  const wholeFits = passBytes(info, m) <= PASS_BUDGET_MIB * 2 ** 20;
  return (
    4 * (3 * C * n + 2 * C * m + 2 * K * m + 2 * K * n) + (wholeFits ? passBytes(info, m) : passBytes(info, win) * 4)
  );
}

const GiB = (b: number) => `${(b / 2 ** 30).toFixed(1)} GiB`;

type Ort = typeof import('onnxruntime-web/webgpu');

/** An onnxruntime-web session on WebGPU when it can run the model there, else on wasm; and why. */
async function openSession(
  ort: Ort,
  bytes: Uint8Array,
): Promise<{ session: import('onnxruntime-web').InferenceSession; backend: Backend; note: string }> {
  const blocked = [...operators(bytes)].filter((op) => NOT_ON_WEBGPU.has(op));
  const gpu = (navigator as Navigator & { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
  let note = '';
  if (blocked.length) note = `the model uses ${blocked.join(', ')} (3-D), which WebGPU does not run`;
  else if (!gpu) note = 'this browser has no WebGPU';
  else if (!(await gpu.requestAdapter().catch(() => null))) note = 'no WebGPU adapter';
  if (!note) {
    try {
      const session = await ort.InferenceSession.create(bytes, { executionProviders: ['webgpu'] });
      return { session, backend: 'webgpu', note: '' };
    } catch (e) {
      note = `WebGPU failed (${e instanceof Error ? e.message : String(e)})`;
    }
  }
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
  return { session, backend: 'wasm', note };
}

/** The foreground probability (the most likely organ's) of each voxel. */
function foreground(probabilities: { data: ArrayLike<number> }[], n: number): Float32Array {
  const fg = new Float32Array(n);
  for (const p of probabilities) for (let i = 0; i < n; i++) if (p.data[i] > fg[i]) fg[i] = p.data[i];
  return fg;
}

/**
 * Segments `scanFile` with `modelFile` in the page. Throws an Error whose message says what is wrong
 * (not a comboseg export, not NIfTI, too large for the page) before any long work starts.
 */
export async function segmentLocally(
  modelFile: File,
  scanFile: File,
  onProgress: (done: number, total: number, stage: string) => void,
): Promise<LocalResult> {
  const started = performance.now();
  onProgress(0, 1, 'reading the model');
  const bytes = new Uint8Array(await modelFile.arrayBuffer());
  const info = readOnnxModelInfo(bytes, modelFile.name);
  if (!/\.nii(\.gz)?$/i.test(scanFile.name))
    throw new Error(
      `${scanFile.name}: the page reads NIfTI scans (.nii, .nii.gz); segment other formats on the server`,
    );
  onProgress(0, 1, 'reading the scan');
  const nifti = readNifti(new Uint8Array(await scanFile.arrayBuffer()), scanFile.name);
  const need = pageBytes(info, nifti);
  if (need > PAGE_BUDGET_BYTES) {
    throw new Error(
      `${scanFile.name}: segmenting it here needs about ${GiB(need)}, more than the ${GiB(PAGE_BUDGET_BYTES)} ` +
        'this page allows; run `comboseg predict --runtime onnx` or the server’s Segment a scan instead',
    );
  }
  onProgress(0, 1, 'starting onnxruntime');
  const ort = await import('onnxruntime-web/webgpu');
  ort.env.wasm.numThreads = crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;
  const { session, backend, note } = await openSession(ort, bytes);
  try {
    const forward = async (x: Float32Array, shape: Shape5): Promise<Float32Array> => {
      const out = await session.run({ image: new ort.Tensor('float32', x, shape) });
      const data = await out.logits.getData();
      if (!(data instanceof Float32Array)) throw new Error(`${modelFile.name}: its output is not float32`);
      return data;
    };
    const pred = await predictPortable(
      { ...info, forward },
      nifti.volume,
      { memoryBudgetMiB: PASS_BUDGET_MIB },
      (d, t) => onProgress(d, t, `${backend}: window`),
    );
    const labels = pred.labels.data;
    if (!(labels instanceof Uint8Array || labels instanceof Uint16Array))
      throw new Error('labels of an unexpected type');
    const prediction = new Blob([writeNiftiLike(nifti, labels) as Uint8Array<ArrayBuffer>], {
      type: 'application/gzip',
    });
    const probability = new Blob([
      writeNiftiLike(nifti, foreground(pred.probabilities, labels.length)) as Uint8Array<ArrayBuffer>,
    ]);
    const organs = info.meta.labels.values.map((value, k) => ({ value, name: info.meta.labels.names[k] }));
    return {
      urls: {
        'image.nii.gz': URL.createObjectURL(scanFile),
        'prediction.nii.gz': URL.createObjectURL(prediction),
        'probability.nii.gz': URL.createObjectURL(probability),
      },
      prediction,
      organs,
      backend,
      backendNote: note,
      mode: pred.mode,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    await session.release();
  }
}
