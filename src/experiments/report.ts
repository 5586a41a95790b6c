// A self-contained HTML report of a run: the per-organ table, training curves,
// and for each evaluated case a slice with the prediction against the truth
// (agreement in the organ's colour, false positives red, false negatives blue).
import { writeFileAtomic } from '../util/fs.js';
import { encodePng } from '../util/png.js';
import { errorOverlay, LABEL_COLOURS, type SliceAxis } from '../data/overlay.js';
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

/** The slice index (along `axis`) holding the most truth or prediction foreground. */
function busiestSlice(c: ReportCase, axis: SliceAxis): number {
  const [X, Y, Z] = c.truth.size;
  const n = axis === 'axial' ? Z : axis === 'coronal' ? Y : X;
  const counts = new Array<number>(n).fill(0);
  for (let z = 0, i = 0; z < Z; z++)
    for (let y = 0; y < Y; y++)
      for (let x = 0; x < X; x++, i++) {
        if (c.truth.data[i] || c.pred.data[i]) counts[axis === 'axial' ? z : axis === 'coronal' ? y : x]++;
      }
  return counts.indexOf(Math.max(...counts));
}

function picture(c: ReportCase, axis: SliceAxis): string {
  const p = errorOverlay(
    c.image.data,
    c.pred.data,
    c.truth.data,
    c.image.size,
    c.image.spacing,
    axis,
    busiestSlice(c, axis),
    3,
  );
  return `data:image/png;base64,${encodePng(p.rgb, p.width, p.height).toString('base64')}`;
}

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

/** A legend's colour key. */
const swatch = (rgb: string) => `<span class="key" style="background:rgb(${rgb})"></span>`;

/** One case: its Dice per organ and its axial and coronal slices. */
function caseSection(c: ReportCase): string {
  const dice = Object.entries(c.metrics.organs)
    .map(([k, m]) => `${esc(k)}: Dice ${m.dice.toFixed(3)}`)
    .join(' · ');
  const img = (axis: SliceAxis) => `<img alt="${esc(c.id)} ${axis}" src="${picture(c, axis)}">`;
  return `\n<section><h3>${esc(c.id)}</h3>\n<p>${dice}</p>\n${img('axial')} ${img('coronal')}\n</section>`;
}

const STYLE =
  'body{font:14px system-ui,sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse}' +
  'td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}td:first-child{text-align:left}\n' +
  '.key{display:inline-block;width:12px;height:12px;margin:0 4px 0 10px;vertical-align:middle}' +
  'img{image-rendering:pixelated;margin:4px;border:1px solid #ddd}';

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
  const legend =
    o.labels.names.map((n, k) => `${swatch(LABEL_COLOURS[k % LABEL_COLOURS.length].join(','))}${esc(n)}`).join(' ') +
    ` ${swatch('255,40,40')}false positive ${swatch('40,120,255')}false negative`;
  const cases = o.cases.map(caseSection).join('');
  const html = `<!doctype html><html><head><meta charset="utf-8"><title>${esc(o.title)}</title>
<style>${STYLE}</style></head>
<body><h1>${esc(o.title)}</h1><p>${esc(o.description)}</p>
<h2>Per-organ results (${o.summary.cases} case(s), mean ± std)</h2>${summaryTable(o.summary)}
<h2>Training</h2>${curves}
<h2>Cases</h2><p>${legend}</p>${cases}
</body></html>`;
  writeFileAtomic(o.path, Buffer.from(html));
}
