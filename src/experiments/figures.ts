// The experiment report's figures (vega-lite → SVG → PNG with resvg) and pages:
// Fig. 6 shaped box plots, Fig. 7 shaped β curves, validation Dice per epoch by
// loss (does Combo converge faster?), and worst / median / best overlays (Fig. 5) in three planes.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Resvg } from '@resvg/resvg-js';
import type { TopLevelSpec } from 'vega-lite';
import { writeFileAtomic } from '../util/fs.js';
import { encodePng } from '../util/png.js';
import { openDataset, loadCase, type DataSpec, type DatasetCase } from '../data/datasets.js';
import type { LabelSet } from '../data/labels.js';
import { ERROR_COLOURS, ERROR_NAMES, organColour, type ErrorKind } from '../data/palette.js';
import { ComboSegError } from '../engine/errors.js';
import { sideBySide } from '../data/overlay.js';
import { caseViews, type CaseViewRow } from './case-views.js';
import { loadModel } from '../inference/model.js';
import { predictVolume } from '../inference/predict.js';
import { vegaLiteSvg } from './plots.js';
import { bestCell, experimentMarkdown } from './tables.js';
import type { CellResult, ExperimentConfig, PartialGrid } from './grid.js';
import { caseMeanDice, type CaseMetrics } from '../metrics/evaluate.js';
import { escapeHtml } from '../util/html.js';

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v5.json';
/** A cell's name on an axis; the seed is named whenever the grid ran several. */
const label = (c: CellResult, seeds: boolean) =>
  `${c.network.label} · ${c.loss.label}${seeds ? ` · seed ${c.seed}` : ''}`;

export function boxPlotSpec(cells: CellResult[], metric: 'dice' | 'hd95', title: string): TopLevelSpec {
  const seeds = new Set(cells.map((c) => c.seed)).size > 1;
  const values = cells.flatMap((c) =>
    c.cases.flatMap((k) =>
      Object.entries(k.organs)
        .filter(([, m]) => m[metric] !== null)
        .map(([organ, m]) => ({ cell: label(c, seeds), organ, value: m[metric] })),
    ),
  );
  return {
    $schema: SCHEMA,
    title,
    data: { values },
    width: Math.max(200, 60 * cells.length),
    height: 220,
    mark: { type: 'boxplot', extent: 1.5 },
    encoding: {
      // The grid's own order (a setting's seeds side by side; an explicit list, as the boxes and the outliers
      // are separate layers), names in full.
      x: {
        field: 'cell',
        type: 'nominal',
        sort: cells.map((c) => label(c, seeds)),
        axis: { labelAngle: -30, labelLimit: 400 },
        title: null,
      },
      y: { field: 'value', type: 'quantitative', title },
    },
  };
}

export function betaCurvesSpec(cells: CellResult[], option: string): TopLevelSpec {
  const metrics = [
    ['dice', 'Dice'],
    ['hd95', 'HD95 (mm)'],
    ['fpr', 'FPR'],
    ['fnr', 'FNR'],
  ] as const;
  const values = cells
    .flatMap((c) =>
      metrics.map(([m, name]) => ({
        beta: c.loss.options[option] as number,
        metric: name,
        network: c.network.label,
        value: c.summary.overall[m].mean,
      })),
    )
    .filter((v) => typeof v.beta === 'number' && v.value !== null);
  return {
    $schema: SCHEMA,
    data: { values },
    facet: { column: { field: 'metric', type: 'nominal', title: null } },
    spec: {
      width: 170,
      height: 160,
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'beta', type: 'quantitative', title: option },
        y: { field: 'value', type: 'quantitative', title: null, scale: { zero: false } },
        color: { field: 'network', type: 'nominal' },
      },
    },
    resolve: { scale: { y: 'independent' } },
  };
}

export function convergenceSpec(cells: CellResult[]): TopLevelSpec {
  const values = cells.flatMap((c) =>
    c.records
      .filter((r) => r.meanDice !== null)
      .map((r) => ({ epoch: r.epoch, dice: r.meanDice, loss: c.loss.label, network: c.network.label })),
  );
  return {
    $schema: SCHEMA,
    title: 'validation Dice per epoch',
    data: { values },
    facet: { column: { field: 'network', type: 'nominal', title: null } },
    spec: {
      width: 240,
      height: 180,
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'epoch', type: 'quantitative', axis: { tickMinStep: 1 } },
        y: { field: 'dice', type: 'quantitative', title: 'mean Dice' },
        color: { field: 'loss', type: 'nominal' },
      },
    },
  };
}

function svgToPng(svg: string): Buffer {
  return Buffer.from(new Resvg(svg, { background: 'white', fitTo: { mode: 'zoom', value: 2 } }).render().asPng());
}

const esc = escapeHtml;

/** A Markdown pipe table's rows (the separator row dropped) → an HTML table, the first row as its header. */
function tableHtml(rows: string[][]): string {
  const cell = (c: string, k: number) => (k === 0 ? `<th>${esc(c)}</th>` : `<td>${esc(c)}</td>`);
  return `<table>${rows.map((r, k) => `<tr>${r.map((c) => cell(c, k)).join('')}</tr>`).join('')}</table>`;
}

/** Markdown (headings, paragraphs, pipe tables, list items, images) → HTML, enough for our own report.md. */
function markdownToHtml(md: string, images: Record<string, string>): string {
  const out: string[] = [];
  const lines = md.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    if (l.startsWith('|')) {
      const rows: string[][] = [];
      while (i < lines.length && lines[i].startsWith('|')) {
        if (!/^\|[-| ]+\|$/.test(lines[i]))
          rows.push(
            lines[i]
              .slice(1, -1)
              .split('|')
              .map((c) => c.trim()),
          );
        i++;
      }
      i--;
      out.push(tableHtml(rows));
    } else if (l.startsWith('#')) {
      const n = l.length - l.replace(/^#+/, '').length;
      out.push(`<h${n}>${esc(l.slice(n).trim())}</h${n}>`);
    } else if (l.startsWith('![')) {
      const m = /^!\[(.*)\]\((.*)\)$/.exec(l);
      if (m) out.push(images[m[2]] ?? `<img alt="${esc(m[1])}" src="${esc(m[2])}">`);
    } else if (l.startsWith('- ')) out.push(`<li>${esc(l.slice(2))}</li>`);
    else if (l.trim()) out.push(`<p>${esc(l)}</p>`);
  }
  return out.join('\n');
}

/** The report's plots: name, title and vega-lite spec of each. */
function figureSpecs(cfg: ExperimentConfig, cells: CellResult[]): [string, string, TopLevelSpec][] {
  const figures: [string, string, TopLevelSpec][] = [
    ['dice-boxplot', 'Dice per case and organ (Fig. 6 shaped)', boxPlotSpec(cells, 'dice', 'Dice')],
    ['hd95-boxplot', 'HD95 per case and organ (Fig. 6 shaped)', boxPlotSpec(cells, 'hd95', 'HD95 (mm)')],
    ['convergence', 'Validation Dice per epoch by loss (convergence)', convergenceSpec(cells)],
  ];
  const sweep = cfg.sweep;
  if (sweep)
    figures.push([
      'beta-curves',
      `Dice, HD95, FPR and FNR against ${sweep.option} (Fig. 7 shaped)`,
      betaCurvesSpec(
        cells.filter((c) => c.loss.name === sweep.loss && sweep.option in c.loss.options),
        sweep.option,
      ),
    ]);
  return figures;
}

/**
 * Writes the plots to FIGDIR as SVG and PNG; adds each one's inline HTML to `inline`
 * (by its PNG's path in the report) and returns their Markdown lines.
 */
async function writePlots(
  figDir: string,
  figures: [string, string, TopLevelSpec][],
  inline: Record<string, string>,
): Promise<string[]> {
  const mdFigures: string[] = [];
  for (const [name, title, spec] of figures) {
    const svg = await vegaLiteSvg(spec);
    writeFileAtomic(join(figDir, `${name}.svg`), Buffer.from(svg));
    writeFileAtomic(join(figDir, `${name}.png`), svgToPng(svg));
    inline[`figures/${name}.png`] = `<figure>${svg}<figcaption>${esc(title)}</figcaption></figure>`;
    mdFigures.push(`## ${title}`, '', `![${title}](figures/${name}.png)`, '');
  }
  return mdFigures;
}

/** One test case of `best` segmented by the model that never saw it: rows of planes against its truth. */
async function overlayRows(
  out: string,
  best: CellResult,
  c: CaseMetrics,
  entry: DatasetCase,
  labels: LabelSet,
): Promise<CaseViewRow[]> {
  const loaded = await loadCase(entry);
  const truth = loaded.labels;
  if (!truth) {
    throw new ComboSegError(`case '${c.id}' has no label map to draw its prediction against`, {
      code: 'invalid-input',
      path: entry.image,
    });
  }
  // Under cross-validation the case is segmented by the fold's model that never saw it.
  const fold = best.folds?.find((f) => f.cases.some((fc) => fc.id === c.id));
  const model = loadModel(join(out, 'cells', best.id, ...(fold ? [`fold${fold.fold}`] : []), 'run', 'best'));
  let pred;
  try {
    pred = predictVolume(model.network, model.meta, loaded.image).labels;
  } finally {
    model.network.dispose();
  }
  const dice = Object.fromEntries(Object.entries(c.organs).map(([k, m]) => [k, m.dice]));
  return caseViews(loaded.image, pred, truth, labels, dice);
}

/** The legend under the overlays, in words (Markdown has no colour). */
function legendText(labels: LabelSet): string {
  const organs = labels.values.map((v, k) => `${labels.names[k]} rgb(${organColour(v).join(', ')})`).join(', ');
  const errors = (Object.keys(ERROR_COLOURS) as ErrorKind[])
    .map((k) => `${ERROR_NAMES[k]} rgb(${ERROR_COLOURS[k].join(', ')})`)
    .join(', ');
  return `Agreement in the organ's colour, outlined (${organs}); errors filled: ${errors}.`;
}

/**
 * Worst, median and best test case of the best setting's median seed (Fig. 5 shaped) to OUT/figures, each as rows of
 * axial, coronal and sagittal planes; adds each one's inline HTML to `inline` and returns the Markdown lines.
 */
async function writeOverlays(
  cfg: ExperimentConfig,
  out: string,
  cells: CellResult[],
  inline: Record<string, string>,
): Promise<string[]> {
  const best = bestCell(cells);
  const ranked = [...best.cases].sort((a, b) => caseMeanDice(a) - caseMeanDice(b));
  const picks = [
    ...new Map([
      ['worst', ranked[0]],
      ['median', ranked[Math.floor(ranked.length / 2)]],
      ['best', ranked[ranked.length - 1]],
    ] as const),
  ];
  const ds = openDataset((cfg.base as { data: DataSpec }).data);
  const md = [
    `## Worst, median and best test case of the best setting (${best.network.label}, ${best.loss.label}, ` +
      `seed ${best.seed})`,
    '',
  ];
  md.push(legendText(ds.labels), '');
  for (const [which, c] of picks) {
    const entry = ds.training.find((t) => t.id === c.id) ?? ds.test.find((t) => t.id === c.id);
    if (!entry) continue;
    const rows = await overlayRows(out, best, c, entry, ds.labels);
    for (const [r, row] of rows.entries()) {
      const p = sideBySide(row.views.map((v) => v.picture));
      const png = encodePng(p.rgb, p.width, p.height);
      const file = `figures/overlay-${which}-${r + 1}.png`;
      writeFileAtomic(join(out, file), png);
      const caption =
        `${which}: ${c.id}, mean Dice ${caseMeanDice(c).toFixed(3)}; axial, coronal and sagittal planes ` +
        `through ${row.title}`;
      const src = `data:image/png;base64,${png.toString('base64')}`;
      inline[file] =
        `<figure><img alt="${esc(caption)}" src="${src}"><figcaption>${esc(caption)}</figcaption></figure>`;
      md.push(`![${caption}](${file})`, '');
    }
  }
  return md;
}

const REPORT_STYLE =
  'body{font:14px system-ui,sans-serif;margin:2em;max-width:1300px}table{border-collapse:collapse;margin:1em 0}' +
  'td,th{border:1px solid #ccc;padding:3px 8px}figure{margin:1em 0}' +
  'img{image-rendering:pixelated;border:1px solid #ddd}';

/** Writes OUT/report.md, OUT/report.html (self-contained) and OUT/figures/*.svg|png. */
export async function writeExperimentReport(
  cfg: ExperimentConfig,
  out: string,
  cells: CellResult[],
  /** The grid is not finished: the report says so and covers these first cells. */
  partial?: PartialGrid,
): Promise<void> {
  const figDir = join(out, 'figures');
  mkdirSync(figDir, { recursive: true });
  const inline: Record<string, string> = {};
  const mdFigures = await writePlots(figDir, figureSpecs(cfg, cells), inline);
  mdFigures.push(...(await writeOverlays(cfg, out, cells, inline)));
  const name = out.split('/').pop() ?? '';
  const tables = experimentMarkdown(experimentTitle(name, partial), cells, 'combo', cfg.sweep?.option);
  const md =
    `${tables}\n${mdFigures.join('\n')}\n` + 'All numbers: results.json (one source for every table and figure).\n';
  writeFileAtomic(join(out, 'report.md'), Buffer.from(md));
  const html =
    `<!doctype html><html><head><meta charset="utf-8"><title>${esc(name)}</title>\n` +
    `<style>${REPORT_STYLE}</style>\n` +
    `</head><body>${markdownToHtml(md, inline)}</body></html>`;
  writeFileAtomic(join(out, 'report.html'), Buffer.from(html));
}

/** The report's title; a partial grid's says how far it got. */
export function experimentTitle(name: string, partial?: PartialGrid): string {
  return partial
    ? `Experiment ${name}: partial, ${partial.cells} of ${partial.of} cells (run it again to go on)`
    : `Experiment ${name}`;
}
