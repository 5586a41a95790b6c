// The NiiVue view of one segmented case: the scan, and as overlays the truth,
// the prediction, the difference (FP and FN in their own colours) and the
// foreground probability above a threshold.
import { Niivue, SHOW_RENDER, SLICE_TYPE } from '@niivue/niivue';
import { ERROR_COLOURS, LABEL_COLOURS } from '../../src/data/overlay.js';
import { api, type Job } from './api.js';

export type OverlayMode = 'truth' | 'prediction' | 'difference' | 'probability' | 'none';
export type Layout = 'multi' | 'axial' | 'coronal' | 'sagittal' | 'render';

export const AGREE_COLOUR: [number, number, number] = [70, 200, 110];
export const WRONG_ORGAN_COLOUR: [number, number, number] = [255, 170, 0];

type Lut = { R: number[]; G: number[]; B: number[]; A: number[]; I: number[]; labels: string[] };

function lut(entries: { value: number; rgb: [number, number, number]; name: string }[]): Lut {
  const l: Lut = { R: [0], G: [0], B: [0], A: [0], I: [0], labels: [''] };
  for (const e of entries) {
    l.R.push(e.rgb[0]);
    l.G.push(e.rgb[1]);
    l.B.push(e.rgb[2]);
    l.A.push(255);
    l.I.push(e.value);
    l.labels.push(e.name);
  }
  return l;
}

export const organColour = (k: number): [number, number, number] => LABEL_COLOURS[k % LABEL_COLOURS.length];

export class CaseViewer {
  readonly nv: Niivue;
  private layers: Partial<Record<Exclude<OverlayMode, 'none'>, number>> = {};
  private imageRange: [number, number] = [0, 1];
  mode: OverlayMode = 'difference';
  opacity = 0.7;
  threshold = 0.5;
  window: [number, number] = [0, 1];
  job: Job | null = null;

  constructor(private readonly canvas: HTMLCanvasElement) {
    this.nv = new Niivue({
      backColor: [0.09, 0.1, 0.13, 1],
      crosshairColor: [1, 1, 1, 0.35],
      crosshairWidth: 0.75,
      show3Dcrosshair: true,
      multiplanarShowRender: SHOW_RENDER.ALWAYS,
      isColorbar: false,
      dragAndDropEnabled: false,
    });
  }

  async attach(): Promise<void> {
    await this.nv.attachToCanvas(this.canvas);
  }

  /** Loads a finished job's volumes; resolves when drawn. */
  async show(job: Job): Promise<void> {
    this.job = job;
    const order = (['truth', 'prediction', 'difference', 'probability'] as const).filter((m) =>
      job.files.includes(FILES[m]),
    );
    await this.nv.loadVolumes([
      { url: api.fileUrl(job.id, 'image.nii.gz'), name: 'image.nii.gz' },
      ...order.map((m) => ({ url: api.fileUrl(job.id, FILES[m]), name: FILES[m] })),
    ]);
    this.layers = Object.fromEntries(order.map((m, i) => [m, i + 1]));
    const organs = job.organs.map((o, k) => ({ value: o.value, rgb: organColour(k), name: o.name }));
    for (const m of ['truth', 'prediction'] as const) {
      const layer = this.layers[m];
      if (layer !== undefined) this.nv.volumes[layer].setColormapLabel(lut(organs));
    }
    if (this.layers.difference !== undefined) {
      this.nv.volumes[this.layers.difference].setColormapLabel(
        lut([
          { value: 1, rgb: AGREE_COLOUR, name: 'agreement' },
          { value: 2, rgb: ERROR_COLOURS.fp, name: 'false positive' },
          { value: 3, rgb: ERROR_COLOURS.fn, name: 'false negative' },
          { value: 4, rgb: WRONG_ORGAN_COLOUR, name: 'wrong organ' },
        ]),
      );
    }
    if (this.layers.probability !== undefined) this.nv.volumes[this.layers.probability].colormap = 'warm';
    const img = this.nv.volumes[0];
    this.imageRange = [img.robust_min ?? img.global_min ?? 0, img.robust_max ?? img.global_max ?? 1];
    this.apply();
  }

  /** Pushes the controls' state into the scene. */
  apply(): void {
    if (!this.nv.volumes.length) return;
    const [lo, hi] = this.imageRange,
      img = this.nv.volumes[0];
    img.cal_min = lo + (hi - lo) * Math.min(this.window[0], this.window[1] - 0.01);
    img.cal_max = lo + (hi - lo) * this.window[1];
    for (const [m, idx] of Object.entries(this.layers)) {
      const v = this.nv.volumes[idx];
      if (m === 'probability') {
        v.cal_min = this.threshold;
        v.cal_max = 1;
      }
      v.opacity = m === this.mode ? this.opacity : 0;
    }
    this.nv.updateGLVolume();
  }

  setLayout(l: Layout): void {
    const t = {
      multi: SLICE_TYPE.MULTIPLANAR,
      axial: SLICE_TYPE.AXIAL,
      coronal: SLICE_TYPE.CORONAL,
      sagittal: SLICE_TYPE.SAGITTAL,
      render: SLICE_TYPE.RENDER,
    }[l];
    this.nv.setSliceType(t);
  }

  /** What the legend shows for the current mode. */
  legend(): { name: string; rgb: [number, number, number] }[] {
    const organs = (this.job?.organs ?? []).map((o, k) => ({ name: o.name, rgb: organColour(k) }));
    if (this.mode === 'truth' || this.mode === 'prediction') return organs;
    if (this.mode === 'difference')
      return [
        { name: 'agreement', rgb: AGREE_COLOUR },
        { name: 'false positive', rgb: ERROR_COLOURS.fp },
        { name: 'false negative', rgb: ERROR_COLOURS.fn },
        { name: 'wrong organ', rgb: WRONG_ORGAN_COLOUR },
      ];
    if (this.mode === 'probability')
      return [{ name: `probability ≥ ${this.threshold.toFixed(2)} (warm scale)`, rgb: [255, 120, 0] }];
    return [];
  }
}

const FILES = {
  truth: 'label.nii.gz',
  prediction: 'prediction.nii.gz',
  difference: 'difference.nii.gz',
  probability: 'probability.nii.gz',
} as const;
