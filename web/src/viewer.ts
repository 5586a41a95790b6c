// The NiiVue view of one segmented case: the scan, and as overlays the truth, the prediction,
// the difference (agreement in each organ's colour; false positives, false negatives and wrong
// organs in their error colours: src/data/palette.ts, as the reports draw them)
// and the foreground probability above a threshold.
import { Niivue, SHOW_RENDER, SLICE_TYPE } from '@niivue/niivue';
import { organColour } from '../../src/data/palette.js';
import { differenceLegend, type LegendEntry } from '../../src/data/difference.js';
import { api, type Job } from './api.js';

export type OverlayMode = 'truth' | 'prediction' | 'difference' | 'probability' | 'none';
export type Layout = 'multi' | 'axial' | 'coronal' | 'sagittal' | 'render';

type Lut = { R: number[]; G: number[]; B: number[]; A: number[]; I: number[]; labels: string[] };

/** A label colour table (the opacity control blends it over the scan). */
function lut(entries: Omit<LegendEntry, 'solid'>[]): Lut {
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

  /** Loads a finished job's volumes (from the server, or `urlOf` a local file's); resolves when drawn. */
  async show(job: Job, urlOf: (file: string) => string = (f) => api.fileUrl(job.id, f)): Promise<void> {
    this.job = job;
    const order = (['truth', 'prediction', 'difference', 'probability'] as const).filter((m) =>
      job.files.includes(FILES[m]),
    );
    await this.nv.loadVolumes([
      { url: urlOf('image.nii.gz'), name: 'image.nii.gz' },
      ...order.map((m) => ({ url: urlOf(FILES[m]), name: FILES[m] })),
    ]);
    this.layers = Object.fromEntries(order.map((m, i) => [m, i + 1]));
    const organs = job.organs.map((o) => ({ value: o.value, rgb: organColour(o.value), name: o.name }));
    for (const m of ['truth', 'prediction'] as const) {
      const layer = this.layers[m];
      if (layer !== undefined) this.nv.volumes[layer].setColormapLabel(lut(organs));
    }
    if (this.layers.difference !== undefined) {
      this.nv.volumes[this.layers.difference].setColormapLabel(lut(differenceLegend(job.organs)));
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
    const organs = (this.job?.organs ?? []).map((o) => ({ name: o.name, rgb: organColour(o.value) }));
    if (this.mode === 'truth' || this.mode === 'prediction') return organs;
    if (this.mode === 'difference') return differenceLegend(this.job?.organs ?? []);
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
