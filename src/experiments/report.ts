// A self-contained HTML report of a run: the per-organ table, training curves, and for each
// evaluated case three orthogonal planes of the prediction against the truth through its hardest
// organ and through its errors (./case-views.ts; colours from src/data/palette.ts).
import { writeFileAtomic } from '../util/fs.js';
import { encodePng } from '../util/png.js';
import { displayWindow, type Picture } from '../data/overlay.js';
import { ORGAN_FILL_OPACITY, SUV_WINDOW } from '../data/palette.js';
import type { LegendEntry } from '../data/difference.js';
import { caseViewLegend, caseViews } from './case-views.js';
import type { Volume } from '../data/volume.js';
import type { LabelSet } from '../data/labels.js';
import { METRIC_NAMES, type MetricName } from '../metrics/overlap.js';
import type { CaseMetrics, Stat, Summary } from '../metrics/evaluate.js';
import { trainingCurvesSpec, vegaLiteSvg } from './plots.js';
import { escapeHtml } from '../util/html.js';

export interface ReportCase {
  id: string;
  image: Volume;
  pred: Volume;
  truth: Volume;
  metrics: CaseMetrics;
}

const esc = escapeHtml;
const fmt = (v: number | null, d: number) => (v === null ? 'n/a' : v.toFixed(d));
const DIGITS: Record<MetricName, number> = { dice: 3, jaccard: 3, fpr: 4, fdr: 3, fnr: 3, hd: 1, hd95: 1, assd: 2 };

/** A picture as a data: URL. */
const pngUrl = (p: Picture) => `data:image/png;base64,${encodePng(p.rgb, p.width, p.height).toString('base64')}`;

/** A metric's column heading: distances with their unit. */
const metricHeading = (m: MetricName) =>
  m === 'hd' ? 'HD (mm)' : m === 'hd95' ? 'HD95 (mm)' : m === 'assd' ? 'ASSD (mm)' : m.toUpperCase();

/** A table cell: mean ± std, and how many cases had no value. */
function statCell(st: Stat, m: MetricName): string {
  const missing = st.missing ? ` <small>(${st.missing} missing)</small>` : '';
  return `<td>${fmt(st.mean, DIGITS[m])} ± ${fmt(st.std, DIGITS[m])}${missing}</td>`;
}

function summaryTable(s: Summary): string {
  const head = `<tr><th>organ</th>${METRIC_NAMES.map((m) => `<th>${metricHeading(m)}</th>`).join('')}</tr>`;
  const rows = [...Object.entries(s.perOrgan), ['all organs', s.overall] as const].map(
    ([name, st]) => `<tr><td>${esc(name)}</td>${METRIC_NAMES.map((m) => statCell(st[m], m)).join('')}</tr>`,
  );
  return `<table>${head}${rows.join('')}</table>`;
}

/** A legend's colour key: solid for errors, outlined and translucent like the organs' drawing for organs. */
function legendKey(e: LegendEntry): string {
  const rgb = e.rgb.join(',');
  const fill = e.solid ? `rgb(${rgb})` : `rgba(${rgb},${ORGAN_FILL_OPACITY})`;
  return (
    `<span class="entry" data-entry="${esc(e.name)}"><span class="key" data-rgb="${rgb}" ` +
    `style="background:${fill};border:3px solid rgb(${rgb})"></span>${esc(e.name)}</span>`
  );
}

/** One case: its Dice per organ and rows of three planes through its hardest organ and its errors. */
function caseSection(c: ReportCase, labels: LabelSet): string {
  const dice = Object.fromEntries(Object.entries(c.metrics.organs).map(([k, m]) => [k, m.dice]));
  const diceText = Object.entries(dice)
    .map(([k, d]) => `${esc(k)}: Dice ${d.toFixed(3)}`)
    .join(' · ');
  const rows = caseViews(c.image, c.pred, c.truth, labels, dice).map((r) => {
    const imgs = r.views.map((v) => {
      const what = `${c.id} ${v.axis} slice ${v.index}`;
      return (
        `<img alt="${esc(what)}" title="${esc(what)}" data-axis="${v.axis}" data-index="${v.index}" ` +
        `width="${v.picture.width}" height="${v.picture.height}" src="${pngUrl(v.picture)}">`
      );
    });
    return `<div class="row"><p>Through ${esc(r.title)}, voxel ${r.centre.join(', ')}</p>${imgs.join(' ')}</div>`;
  });
  const head = `<section data-case="${esc(c.id)}"><h3>${esc(c.id)}</h3>\n<p>${diceText}</p>`;
  return `\n${head}\n${rows.join('\n')}\n</section>`;
}

const STYLE =
  'body{font:14px system-ui,sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse}' +
  'td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}td:first-child{text-align:left}\n' +
  '.key{display:inline-block;width:14px;height:14px;margin:0 4px 0 10px;vertical-align:middle;box-sizing:border-box}' +
  '.entry{white-space:nowrap}img{image-rendering:pixelated;margin:4px;vertical-align:top}.row p{margin:.6em 0 0}';

/** How the images' grey levels were chosen. */
function windowNote(cases: ReportCase[]): string {
  const suv = cases.filter((c) => displayWindow(c.image)).length;
  const [lo, hi] = SUV_WINDOW;
  if (suv === cases.length && suv) return `Images in SUV, shown in a fixed window of ${lo}–${hi}.`;
  if (!suv) return 'Each image in grey from its lowest to its highest value.';
  return `Images in SUV shown in a fixed window of ${lo}–${hi}; the others from their lowest to their highest value.`;
}

export async function writeRunReport(o: {
  path: string;
  title: string;
  description: string;
  labels: LabelSet;
  summary: Summary;
  cases: ReportCase[];
  records: { epoch: number; trainLoss: number; meanDice: number | null }[];
}): Promise<void> {
  const curves = o.records.length ? await vegaLiteSvg(trainingCurvesSpec(o.records)) : '<p>No training records.</p>';
  const legend = caseViewLegend(o.labels).map(legendKey).join(' ');
  const cases = o.cases.map((c) => caseSection(c, o.labels)).join('');
  const html = `<!doctype html><html><head><meta charset="utf-8"><title>${esc(o.title)}</title>
<style>${STYLE}</style></head>
<body><h1>${esc(o.title)}</h1><p>${esc(o.description)}</p>
<h2>Per-organ results (${o.summary.cases} case(s), mean ± std)</h2>${summaryTable(o.summary)}
<h2>Training</h2>${curves}
<h2>Cases</h2><p class="legend">${legend}</p>
<p>${esc(windowNote(o.cases))}</p>${cases}
</body></html>`;
  writeFileAtomic(o.path, Buffer.from(html));
}
