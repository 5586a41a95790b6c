// Tables shaped like the paper's (Table III/V): rows = network × loss, columns =
// Jaccard, Dice, FPR, FNR, HD95 as mean ± std over the test cases (all organs
// pooled), the per-organ table of the best setting, and the relative improvements
// the paper quotes, computed from the same results.
import type { CellResult } from './grid.js';
import type { MetricName } from '../metrics/overlap.js';
import { caseMeanDice, type Stat } from '../metrics/evaluate.js';

const COLUMNS: [MetricName, string, number][] = [
  ['jaccard', 'Jaccard', 3],
  ['dice', 'Dice', 3],
  ['fpr', 'FPR', 4],
  ['fnr', 'FNR', 3],
  ['hd95', 'HD95 (mm)', 1],
];

/** `mean ± std` (a statistic with a mean has a std; 'n/a' stands in for one without). */
export const formatStat = (s: Stat, digits: number): string =>
  (s.mean === null ? 'n/a' : `${s.mean.toFixed(digits)} ± ${s.std === null ? 'n/a' : s.std.toFixed(digits)}`) +
  (s.missing ? ` (${s.missing} missing)` : '');

function markdownTable(header: string[], rows: string[][]): string {
  return [
    `| ${header.join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}

/**
 * Rows = network × loss (× seed), columns = the paper's metrics, over all organs, and the hash of
 * the configuration each cell ran (its folder is OUT/cells/NAME__HASH).
 */
export function gridTable(cells: CellResult[]): string {
  return markdownTable(
    ['network', 'loss', 'seed', ...COLUMNS.map(([, h]) => h), 'config'],
    cells.map((c) => [
      c.network.label,
      c.loss.label,
      String(c.seed),
      ...COLUMNS.map(([m, , d]) => formatStat(c.summary.overall[m], d)),
      c.configHash,
    ]),
  );
}

/** Each network × loss setting's cells (one per seed), in the order they first appear. */
function bySetting(cells: CellResult[]): CellResult[][] {
  const groups = new Map<string, CellResult[]>();
  for (const c of cells) {
    const key = `${c.network.label}\u0000${c.loss.label}`;
    groups.set(key, [...(groups.get(key) ?? []), c]);
  }
  return [...groups.values()];
}

/** Sample standard deviation (n − 1); null for fewer than 2 values. */
function sampleStd(xs: number[]): number | null {
  if (xs.length < 2) return null;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1));
}

/** A metric's mean over the test cases, averaged over the seeds (cells) that have one; null when none has. */
function seedMean(g: CellResult[], m: MetricName): number | null {
  const xs = g.map((c) => c.summary.overall[m].mean).filter((x): x is number => x !== null);
  return xs.length ? mean(xs) : null;
}

/**
 * Rows = network × loss over its seeds: each metric's mean over the test cases, averaged over the seeds;
 * Dice also with its standard deviation and range over the seeds (how far one seed's result can be trusted).
 * Null when no setting ran more than one seed.
 */
export function seedTable(cells: CellResult[]): string | null {
  const groups = bySetting(cells);
  if (!groups.some((g) => g.length > 1)) return null;
  return markdownTable(
    [
      'network',
      'loss',
      'seeds',
      'Dice (± sd over seeds)',
      'Dice range over seeds',
      'Jaccard',
      'FPR',
      'FNR',
      'HD95 (mm)',
    ],
    groups.map((g) => {
      const dice = g.map((c) => c.summary.overall.dice.mean).filter((x): x is number => x !== null);
      const sd = sampleStd(dice);
      const fixed = (m: MetricName, d: number) => seedMean(g, m)?.toFixed(d) ?? 'n/a';
      return [
        g[0].network.label,
        g[0].loss.label,
        String(g.length),
        dice.length ? `${mean(dice).toFixed(3)}${sd === null ? '' : ` ± ${sd.toFixed(3)}`}` : 'n/a',
        dice.length ? `${Math.min(...dice).toFixed(3)}–${Math.max(...dice).toFixed(3)}` : 'n/a',
        fixed('jaccard', 3),
        fixed('fpr', 4),
        fixed('fnr', 3),
        fixed('hd95', 1),
      ];
    }),
  );
}

/** The footnote of the grid table's config column. */
const CONFIG_NOTE =
  'config: the first 8 hex digits of the sha256 of the resolved training configuration the cell ran ' +
  '(defaults filled, keys sorted, its run folder left out), kept in cells/NAME__HASH/resolved-config.json.';

const cellDice = (c: CellResult): number => c.summary.overall.dice.mean ?? -1;

/**
 * The setting (network × loss) with the best mean Dice averaged over its seeds, shown by its median seed's
 * cell (the lower median for an even count): taking the best single seed would report the luckiest run.
 */
export function bestCell(cells: CellResult[]): CellResult {
  const settings = bySetting(cells).map((g) => ({ g, dice: seedMean(g, 'dice') ?? -1 }));
  const best = settings.reduce((a, b) => (b.dice > a.dice ? b : a)).g;
  const sorted = [...best].sort((a, b) => cellDice(a) - cellDice(b));
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

/** Per-organ rows for one cell (Table IV shaped). */
export function organTable(cell: CellResult): string {
  return markdownTable(
    ['organ', ...COLUMNS.map(([, h]) => h)],
    Object.entries(cell.summary.perOrgan).map(([organ, st]) => [
      organ,
      ...COLUMNS.map(([m, , d]) => formatStat(st[m], d)),
    ]),
  );
}

/**
 * "network X improves with loss L by a % in Dice": for each network and each
 * other loss, the relative change of mean Dice from that loss to `reference`.
 */
export function improvements(
  cells: CellResult[],
  reference: string,
): { network: string; from: string; to: string; relativeDice: number }[] {
  const out: { network: string; from: string; to: string; relativeDice: number }[] = [];
  const networks = [...new Set(cells.map((c) => c.network.label))];
  for (const n of networks) {
    const ref = cells.filter((c) => c.network.label === n && c.loss.name === reference);
    if (!ref.length) continue;
    const refDice = mean(ref.map((c) => c.summary.overall.dice.mean ?? 0));
    for (const other of [
      ...new Set(cells.filter((c) => c.network.label === n && c.loss.name !== reference).map((c) => c.loss.label)),
    ]) {
      const d = mean(
        cells
          .filter((c) => c.network.label === n && c.loss.label === other)
          .map((c) => c.summary.overall.dice.mean ?? 0),
      );
      if (d > 0) out.push({ network: n, from: other, to: reference, relativeDice: (refDice - d) / d });
    }
  }
  return out;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Standard normal CDF (Abramowitz–Stegun 7.1.26 via erf; |error| < 1.5e-7). */
function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2,
    t = 1 / (1 + 0.3275911 * x);
  const erf =
    1 -
    t *
      (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))) *
      Math.exp(-x * x);
  return z >= 0 ? (1 + erf) / 2 : (1 - erf) / 2;
}

/** Below this many non-zero differences the p-value is exact; from it, the normal approximation. */
export const WILCOXON_EXACT_BELOW = 25;

/**
 * Two-sided Wilcoxon signed-rank test of paired differences (zeros dropped, ties mid-ranked). Under 25 non-zero
 * pairs the p-value is exact: the distribution of W+ over all 2^n sign assignments of the ranks, counted by dynamic
 * programming on doubled ranks (integers even with mid-ranks). From 25 pairs, the normal approximation with tie
 * correction. Null without a non-zero pair. With n pairs the smallest two-sided p is 2 / 2^n (0.125 for 4).
 */
export function wilcoxon(diffs: number[]): { w: number; p: number; n: number } | null {
  const d = diffs.filter((x) => x !== 0);
  const n = d.length;
  if (n === 0) return null;
  const order = d.map((x, i) => [Math.abs(x), i] as const).sort((a, b) => a[0] - b[0]);
  const ranks = new Array<number>(n);
  let tie = 0;
  for (let i = 0; i < n;) {
    let j = i;
    while (j + 1 < n && order[j + 1][0] === order[i][0]) j++;
    const t = j - i + 1;
    tie += t * t * t - t;
    for (let k = i; k <= j; k++) ranks[order[k][1]] = (i + j) / 2 + 1;
    i = j + 1;
  }
  const wPlus = d.reduce((a, x, i) => a + (x > 0 ? ranks[i] : 0), 0);
  if (n < WILCOXON_EXACT_BELOW) return { w: wPlus, p: exactSignedRankP(ranks, wPlus), n };
  const mu = (n * (n + 1)) / 4,
    sigma = Math.sqrt((n * (n + 1) * (2 * n + 1)) / 24 - tie / 48);
  const z = sigma > 0 ? (wPlus - mu) / sigma : 0;
  return { w: wPlus, p: Math.min(1, 2 * (1 - normalCdf(Math.abs(z)))), n };
}

/** Exact two-sided p of W+ = `w` given the ranks: 2 × the smaller tail of W+'s distribution over all sign choices. */
function exactSignedRankP(ranks: number[], w: number): number {
  const doubled = ranks.map((r) => Math.round(2 * r));
  const total = doubled.reduce((a, b) => a + b, 0);
  // ways[s] = number of sign assignments whose positive ranks sum (doubled) to s.
  const ways = new Float64Array(total + 1);
  ways[0] = 1;
  for (const r of doubled) for (let s = total; s >= r; s--) ways[s] += ways[s - r]; // downwards: each rank once
  const all = 2 ** ranks.length,
    at = Math.round(2 * w);
  let lower = 0,
    upper = 0;
  for (let s = 0; s <= total; s++) {
    if (s <= at) lower += ways[s];
    if (s >= at) upper += ways[s];
  }
  return Math.min(1, (2 * Math.min(lower, upper)) / all);
}

/**
 * Holm's step-down adjustment of p-values (family-wise error over all of them): sorted ascending, the
 * i-th (0-based) of m is multiplied by m − i, made monotone, capped at 1. Nulls stay null and do not count.
 */
export function holm(ps: (number | null)[]): (number | null)[] {
  const known = ps.map((p, i) => [p, i] as const).filter((x): x is readonly [number, number] => x[0] !== null);
  known.sort((a, b) => a[0] - b[0]);
  const out: (number | null)[] = ps.map(() => null);
  let running = 0;
  known.forEach(([p, i], rank) => {
    running = Math.max(running, Math.min(1, (known.length - rank) * p));
    out[i] = running;
  });
  return out;
}

/** Per case id, case Dice (mean over organs) averaged over the cells given (the seeds of one setting). */
function seedMeanDice(cells: CellResult[]): Map<string, number> {
  const sum = new Map<string, [number, number]>();
  for (const c of cells) {
    for (const k of c.cases) {
      const [s, n] = sum.get(k.id) ?? [0, 0];
      sum.set(k.id, [s + caseMeanDice(k), n + 1]);
    }
  }
  return new Map([...sum].map(([id, [s, n]]) => [id, s / n]));
}

/**
 * Per network, each setting of the reference loss against each other loss on the same test cases, each
 * case's Dice (mean over organs) averaged over the seeds both ran: mean paired difference, wins / losses,
 * two-sided Wilcoxon p, and Holm's adjustment over every comparison in the table.
 */
export function pairedComparison(
  cells: CellResult[],
  reference: string,
): {
  network: string;
  reference: string;
  other: string;
  cases: number;
  seeds: number;
  meanDiff: number;
  wins: number;
  losses: number;
  /** Cases whose difference is not zero: the ones the signed-rank test counts. */
  pairs: number;
  p: number | null;
  pHolm: number | null;
}[] {
  const out: Omit<ReturnType<typeof pairedComparison>[number], 'pHolm'>[] = [];
  for (const n of [...new Set(cells.map((c) => c.network.label))]) {
    const mine = cells.filter((c) => c.network.label === n);
    const settings = bySetting(mine).map((of) => ({
      label: of[0].loss.label,
      name: of[0].loss.name,
      seeds: new Set(of.map((c) => c.seed)),
      cells: of,
    }));
    for (const ref of settings.filter((s) => s.name === reference)) {
      for (const other of settings.filter((s) => s.name !== reference)) {
        const seeds = [...ref.seeds].filter((x) => other.seeds.has(x));
        if (!seeds.length) continue;
        const a = seedMeanDice(ref.cells.filter((c) => seeds.includes(c.seed))),
          b = seedMeanDice(other.cells.filter((c) => seeds.includes(c.seed)));
        const diffs = [...a].flatMap(([id, v]) => {
          const w = b.get(id);
          return w === undefined ? [] : [v - w];
        });
        if (!diffs.length) continue;
        const test = wilcoxon(diffs);
        out.push({
          network: n,
          reference: ref.label,
          other: other.label,
          cases: diffs.length,
          seeds: seeds.length,
          meanDiff: mean(diffs),
          wins: diffs.filter((x) => x > 0).length,
          losses: diffs.filter((x) => x < 0).length,
          pairs: test?.n ?? 0,
          p: test?.p ?? null,
        });
      }
    }
  }
  const adjusted = holm(out.map((r) => r.p));
  return out.map((r, i) => ({ ...r, pHolm: adjusted[i] }));
}

const pText = (p: number | null): string =>
  p === null ? 'n/a (no case differs)' : p < 0.001 ? '< 0.001' : p.toFixed(3);

/** Mean Dice of each fold of each cell (cross-validated grids). */
export function foldTable(cells: CellResult[]): string | null {
  const k = Math.max(0, ...cells.map((c) => c.folds?.length ?? 0));
  if (!k) return null;
  return markdownTable(
    ['network', 'loss', 'seed', ...Array.from({ length: k }, (_, f) => `fold ${f} Dice`), 'spread'],
    cells.map((c) => {
      const ds = (c.folds ?? []).map((f) => f.summary.overall.dice.mean);
      const known = ds.filter((x): x is number => x !== null);
      return [
        c.network.label,
        c.loss.label,
        String(c.seed),
        ...ds.map((x) => (x === null ? 'n/a' : x.toFixed(3))),
        known.length ? (Math.max(...known) - Math.min(...known)).toFixed(3) : 'n/a',
      ];
    }),
  );
}

/**
 * The paper's claim for a β sweep (Fig. 7): as β falls, FPR falls and FNR rises.
 * Checked per network over consecutive β values; the verdict says plainly whether it holds.
 */
export function betaTrend(cells: CellResult[], option = 'beta'): string[] {
  const lines: string[] = [];
  for (const n of [...new Set(cells.map((c) => c.network.label))]) {
    // One point per value of the option: FPR and FNR averaged over the seeds run at it.
    const at = new Map<number, CellResult[]>();
    for (const c of cells) {
      const b = c.loss.options[option];
      if (c.network.label === n && typeof b === 'number') at.set(b, [...(at.get(b) ?? []), c]);
    }
    const pts = [...at]
      .map(([b, g]) => ({
        b,
        fpr: mean(g.map((c) => c.summary.overall.fpr.mean ?? 0)),
        fnr: mean(g.map((c) => c.summary.overall.fnr.mean ?? 0)),
      }))
      .sort((a, b) => a.b - b.b);
    if (pts.length < 2) continue;
    let fprUp = 0,
      fnrDown = 0;
    for (let i = 1; i < pts.length; i++) {
      if (pts[i].fpr > pts[i - 1].fpr) fprUp++;
      if (pts[i].fnr < pts[i - 1].fnr) fnrDown++;
    }
    const steps = pts.length - 1;
    const holds = fprUp === steps && fnrDown === steps;
    const overall = pts[steps].fpr > pts[0].fpr && pts[steps].fnr < pts[0].fnr;
    const [first, last] = [pts[0], pts[steps]];
    lines.push(
      `- ${n}: from ${option} = ${first.b} to ${last.b}, ` +
        `FPR ${first.fpr.toFixed(5)} → ${last.fpr.toFixed(5)}, FNR ${first.fnr.toFixed(3)} → ${last.fnr.toFixed(3)}; ` +
        `FPR rose in ${fprUp}/${steps} steps and FNR fell in ${fnrDown}/${steps}: ` +
        (holds
          ? "the paper's trend holds at every step."
          : overall
            ? "the paper's trend holds end to end but not at every step."
            : "the paper's trend does NOT hold here."),
    );
  }
  return lines;
}

/** The Markdown report: grid table, best setting per organ, computed improvements, the β trend for a sweep. */
export function experimentMarkdown(
  title: string,
  cells: CellResult[],
  reference = 'combo',
  sweepOption?: string,
): string {
  const best = bestCell(cells);
  const lines = improvements(cells, reference).map(
    (i) =>
      `- ${i.network} ${i.relativeDice >= 0 ? 'improves' : 'changes'} with ${i.to} ` +
      `by ${(100 * i.relativeDice).toFixed(1)} % in Dice over ${i.from}`,
  );
  const paired = pairedComparison(cells, reference);
  const folds = foldTable(cells);
  const seeds = seedTable(cells);
  // Without a sweep, the reference loss run at several β (as separate losses) still gets the trend check.
  const trendOption = sweepOption ?? (distinctValues(cells, reference, 'beta') > 1 ? 'beta' : undefined);
  const k = cells[0]?.folds?.length;
  const crossValidation = k
    ? ` (${k}-fold cross-validation: every case is tested once, ` +
      "by the fold's model that never trained or validated on it; cases pooled)"
    : '';
  return [
    `# ${title}`,
    '',
    `${cells.length} cell(s); metrics are mean ± std over the test cases${crossValidation}, ` +
      'all organs pooled; FPR = FP/(FP+TN), FNR = FN/(FN+TP).',
    '',
    '## Networks × losses (Table III / V shaped)',
    '',
    gridTable(cells),
    '',
    CONFIG_NOTE,
    '',
    ...(seeds ? ['## Averaged over seeds', '', seeds, ''] : []),
    `## Best ${seeds ? 'setting' : 'cell'} per organ (Table IV shaped): ${best.network.label}, ${best.loss.label}, ` +
      (seeds
        ? `its median seed (${best.seed}) of the setting with the best Dice averaged over seeds`
        : `seed ${best.seed}`),
    '',
    organTable(best),
    '',
    `## Relative change in Dice with ${reference}`,
    '',
    lines.length ? lines.join('\n') : `(no network was run with both ${reference} and another loss)`,
    '',
    ...(paired.length
      ? [
          `## Paired per-case comparison (${reference} − other, case Dice averaged over seeds; two-sided ` +
            `Wilcoxon signed-rank, exact under ${WILCOXON_EXACT_BELOW} differing cases; ` +
            "Holm's adjustment over all rows)",
          '',
          ...powerWarning(paired),
          markdownTable(
            ['network', reference, 'other', 'cases', 'seeds', 'mean ΔDice', 'wins / losses', 'p', 'p (Holm)'],
            paired.map((r) => [
              r.network,
              r.reference,
              r.other,
              String(r.cases),
              String(r.seeds),
              (r.meanDiff >= 0 ? '+' : '') + r.meanDiff.toFixed(3),
              `${r.wins} / ${r.losses}`,
              pText(r.p),
              pText(r.pHolm),
            ]),
          ),
          '',
        ]
      : []),
    ...(folds ? ['## Mean Dice per fold', '', folds, ''] : []),
    ...(trendOption
      ? [
          `## Does ${trendOption} move the balance? (Fig. 7: as ${trendOption} falls, FPR should fall and FNR rise)`,
          '',
          ...betaTrend(sweepOption ? cells : cells.filter((c) => c.loss.name === reference), trendOption),
          '',
        ]
      : []),
  ].join('\n');
}

/**
 * A paired test on few cases cannot reach significance whatever the losses do: say so above the table rather than
 * let "not significant" read as a finding. With n cases that differ, the smallest two-sided p is 2 / 2^n (0.125
 * for 4), and Holm multiplies the smallest p by the number of rows.
 */
function powerWarning(rows: { pairs: number }[]): string[] {
  const n = Math.max(...rows.map((r) => r.pairs));
  const floor = Math.min(1, 2 / 2 ** n);
  const fmt = (p: number) => (p < 0.001 ? p.toExponential(1) : p.toFixed(3));
  if (floor > 0.05) {
    return [
      `No p-value here can fall below 0.05: no row has more than ${n} test case(s) on which the two losses differ, ` +
        `and with ${n} the smallest two-sided p is ${fmt(floor)}. This grid cannot show a significant difference ` +
        'whatever the losses do; read the mean differences and wins / losses, and test on more cases.',
      '',
    ];
  }
  if (rows.length * floor > 0.05) {
    return [
      `No Holm-adjusted p-value here can fall below 0.05: the smallest raw p with at most ${n} differing cases is ` +
        `${fmt(floor)}, and Holm multiplies the smallest by the ${rows.length} rows.`,
      '',
    ];
  }
  return [];
}

/** How many values of a loss option the cells of one loss were run with. */
function distinctValues(cells: CellResult[], loss: string, option: string): number {
  const values = cells.filter((c) => c.loss.name === loss).map((c) => c.loss.options[option]);
  return new Set(values.filter((v) => typeof v === 'number')).size;
}
