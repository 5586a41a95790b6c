// Per-case evaluation of label maps, and summaries over cases (mean ± std per
// organ and over organs, with missing values counted, never averaged as NaN).
import { ComboSegError } from '../engine/errors.js';
import { sameGrid, type Volume } from '../data/volume.js';
import type { LabelSet } from '../data/labels.js';
import { METRIC_NAMES, organMetrics, type MetricName, type OrganMetrics } from './overlap.js';

export interface CaseMetrics {
  id: string;
  organs: Record<string, OrganMetrics>;
}

/** A case's Dice averaged over its organs (how cases are ranked and compared). */
export function caseMeanDice(c: CaseMetrics): number {
  const d = Object.values(c.organs).map((m) => m.dice);
  return d.reduce((a, b) => a + b, 0) / d.length;
}

/** A volume's grid for messages: size, spacing and origin, rounded. */
const describeGrid = (v: Volume) =>
  `size [${v.size}], spacing [${v.spacing.map((s) => +s.toFixed(4))}], origin [${v.origin.map((s) => +s.toFixed(2))}]`;

/** Evaluates a predicted label map against the truth, organ by organ. Both must share a grid. */
export function evaluateCase(id: string, pred: Volume, truth: Volume, labels: LabelSet): CaseMetrics {
  if (!sameGrid(pred, truth)) {
    throw new ComboSegError(
      `case '${id}': prediction (${describeGrid(pred)}) and truth (${describeGrid(truth)}) ` +
        "are not on the same grid; use --resample to put the prediction on the truth's grid",
      { code: 'invalid-input', path: id },
    );
  }
  const organs: Record<string, OrganMetrics> = {};
  labels.values.forEach((v, k) => {
    organs[labels.names[k]] = organMetrics(pred.data, truth.data, v, pred.size, pred.spacing);
  });
  return { id, organs };
}

export interface Stat {
  mean: number | null;
  std: number | null;
  /** Cases that contributed a value. */
  n: number;
  /** Cases whose value is undefined (a distance with one empty mask). */
  missing: number;
}

export interface Summary {
  perOrgan: Record<string, Record<MetricName, Stat>>;
  /** Over organs: each organ's per-case values pooled. */
  overall: Record<MetricName, Stat>;
  cases: number;
}

function stat(values: (number | null)[]): Stat {
  const xs = values.filter((v): v is number => v !== null);
  const missing = values.length - xs.length;
  if (!xs.length) return { mean: null, std: null, n: 0, missing };
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const std = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length);
  return { mean, std, n: xs.length, missing };
}

/** A case's metrics for one organ, or undefined where the case has no such organ. */
const organOf = (c: CaseMetrics, organ: string): OrganMetrics | undefined => c.organs[organ];

/** Accumulates cases (MONAI's metric-object pattern over the pure functions above). */
export class MetricsAccumulator {
  readonly cases: CaseMetrics[] = [];
  add(c: CaseMetrics): void {
    this.cases.push(c);
  }
  summary(): Summary {
    const organs = [...new Set(this.cases.flatMap((c) => Object.keys(c.organs)))];
    const perOrgan: Summary['perOrgan'] = {};
    for (const o of organs) {
      perOrgan[o] = Object.fromEntries(
        METRIC_NAMES.map((m) => [
          m,
          stat(
            this.cases
              .map((c) => organOf(c, o))
              .filter((om) => om !== undefined)
              .map((om) => om[m]),
          ),
        ]),
      ) as Record<MetricName, Stat>;
    }
    const overall = Object.fromEntries(
      METRIC_NAMES.map((m) => [m, stat(this.cases.flatMap((c) => Object.values(c.organs).map((om) => om[m])))]),
    ) as Record<MetricName, Stat>;
    return { perOrgan, overall, cases: this.cases.length };
  }
}

const fmt = (s: Stat, digits: number) =>
  (s.mean === null || s.std === null ? 'n/a' : `${s.mean.toFixed(digits)} ± ${s.std.toFixed(digits)}`) +
  (s.missing ? ` (${s.missing} missing)` : '');

/** The summary as a terminal table (one row per organ, then all organs). */
export function summaryTable(s: Summary): string {
  const cols: [MetricName, string, number][] = [
    ['dice', 'Dice', 3],
    ['jaccard', 'Jaccard', 3],
    ['fpr', 'FPR', 4],
    ['fdr', 'FDR', 3],
    ['fnr', 'FNR', 3],
    ['hd', 'HD mm', 1],
    ['hd95', 'HD95 mm', 1],
    ['assd', 'ASSD mm', 2],
  ];
  const rows = [...Object.entries(s.perOrgan), ['all organs', s.overall] as const].map(([name, stats]) => [
    name,
    ...cols.map(([m, , d]) => fmt(stats[m], d)),
  ]);
  const header = ['organ', ...cols.map(([, h]) => h)];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i])).join('  ');
  return [
    line(header),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...rows.map(line),
    `(${s.cases} case(s); mean ± std over cases)`,
  ].join('\n');
}

/** One CSV row per case and organ. */
export function casesCsv(cases: CaseMetrics[]): string {
  const cols = ['tp', 'fp', 'fn', 'tn', ...METRIC_NAMES] as const;
  const lines = [['case', 'organ', ...cols].join(',')];
  for (const c of cases)
    for (const [o, m] of Object.entries(c.organs))
      lines.push([c.id, JSON.stringify(o), ...cols.map((k) => (m[k] === null ? '' : String(m[k])))].join(','));
  return lines.join('\n') + '\n';
}
