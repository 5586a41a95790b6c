// Tables shaped like the paper's (Table III/V): rows = network × loss, columns =
// Jaccard, Dice, FPR, FNR, HD95 as mean ± std over the test cases (all organs
// pooled), the per-organ table of the best cell, and the relative improvements
// the paper quotes, computed from the same results.
import type { CellResult } from './grid.js';
import type { MetricName } from '../metrics/overlap.js';
import type { Stat } from '../metrics/evaluate.js';

const COLUMNS: [MetricName, string, number][] = [['jaccard', 'Jaccard', 3], ['dice', 'Dice', 3], ['fpr', 'FPR', 4], ['fnr', 'FNR', 3], ['hd95', 'HD95 (mm)', 1]];

export const formatStat = (s: Stat, digits: number): string =>
  (s.mean === null ? 'n/a' : `${s.mean.toFixed(digits)} ± ${s.std!.toFixed(digits)}`) + (s.missing ? ` (${s.missing} missing)` : '');

function markdownTable(header: string[], rows: string[][]): string {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

/** Rows = network × loss (× seed), columns = the paper's metrics, over all organs. */
export function gridTable(cells: CellResult[]): string {
  return markdownTable(['network', 'loss', 'seed', ...COLUMNS.map(([, h]) => h)],
    cells.map((c) => [c.network.label, c.loss.label, String(c.seed), ...COLUMNS.map(([m, , d]) => formatStat(c.summary.overall[m], d))]));
}

/** The cell with the best mean Dice over all organs. */
export function bestCell(cells: CellResult[]): CellResult {
  return cells.reduce((a, b) => ((b.summary.overall.dice.mean ?? -1) > (a.summary.overall.dice.mean ?? -1) ? b : a));
}

/** Per-organ rows for one cell (Table IV shaped). */
export function organTable(cell: CellResult): string {
  return markdownTable(['organ', ...COLUMNS.map(([, h]) => h)],
    Object.entries(cell.summary.perOrgan).map(([organ, st]) => [organ, ...COLUMNS.map(([m, , d]) => formatStat(st[m], d))]));
}

/**
 * "network X improves with loss L by a % in Dice": for each network and each
 * other loss, the relative change of mean Dice from that loss to `reference`.
 */
export function improvements(cells: CellResult[], reference: string): { network: string; from: string; to: string; relativeDice: number }[] {
  const out: { network: string; from: string; to: string; relativeDice: number }[] = [];
  const networks = [...new Set(cells.map((c) => c.network.label))];
  for (const n of networks) {
    const ref = cells.filter((c) => c.network.label === n && c.loss.name === reference);
    if (!ref.length) continue;
    const refDice = mean(ref.map((c) => c.summary.overall.dice.mean ?? 0));
    for (const other of [...new Set(cells.filter((c) => c.network.label === n && c.loss.name !== reference).map((c) => c.loss.label))]) {
      const d = mean(cells.filter((c) => c.network.label === n && c.loss.label === other).map((c) => c.summary.overall.dice.mean ?? 0));
      if (d > 0) out.push({ network: n, from: other, to: reference, relativeDice: (refDice - d) / d });
    }
  }
  return out;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/**
 * The paper's claim for a β sweep (Fig. 7): as β falls, FPR falls and FNR rises.
 * Checked per network over consecutive β values; the verdict says plainly whether it holds.
 */
export function betaTrend(cells: CellResult[], option = 'beta'): string[] {
  const lines: string[] = [];
  for (const n of [...new Set(cells.map((c) => c.network.label))]) {
    const pts = cells.filter((c) => c.network.label === n && typeof c.loss.options[option] === 'number')
      .map((c) => ({ b: c.loss.options[option] as number, fpr: c.summary.overall.fpr.mean ?? 0, fnr: c.summary.overall.fnr.mean ?? 0 }))
      .sort((a, b) => a.b - b.b);
    if (pts.length < 2) continue;
    let fprUp = 0, fnrDown = 0;
    for (let i = 1; i < pts.length; i++) {
      if (pts[i].fpr > pts[i - 1].fpr) fprUp++;
      if (pts[i].fnr < pts[i - 1].fnr) fnrDown++;
    }
    const steps = pts.length - 1;
    const holds = fprUp === steps && fnrDown === steps;
    const overall = pts[steps].fpr > pts[0].fpr && pts[steps].fnr < pts[0].fnr;
    lines.push(`- ${n}: from ${option} = ${pts[0].b} to ${pts[steps].b}, FPR ${pts[0].fpr.toFixed(5)} → ${pts[steps].fpr.toFixed(5)}, FNR ${pts[0].fnr.toFixed(3)} → ${pts[steps].fnr.toFixed(3)}; `
      + `FPR rose in ${fprUp}/${steps} steps and FNR fell in ${fnrDown}/${steps}: `
      + (holds ? 'the paper\'s trend holds at every step.' : overall ? 'the paper\'s trend holds end to end but not at every step.' : 'the paper\'s trend does NOT hold here.'));
  }
  return lines;
}

/** The Markdown report: grid table, best cell per organ, computed improvements, the β trend for a sweep. */
export function experimentMarkdown(title: string, cells: CellResult[], reference = 'combo', sweepOption?: string): string {
  const best = bestCell(cells);
  const lines = improvements(cells, reference).map((i) => `- ${i.network} ${i.relativeDice >= 0 ? 'improves' : 'changes'} with ${i.to} by ${(100 * i.relativeDice).toFixed(1)} % in Dice over ${i.from}`);
  return [
    `# ${title}`,
    '',
    `${cells.length} cell(s); metrics are mean ± std over the test cases, all organs pooled; FPR = FP/(FP+TN), FNR = FN/(FN+TP).`,
    '',
    '## Networks × losses (Table III / V shaped)',
    '',
    gridTable(cells),
    '',
    `## Best cell per organ (Table IV shaped): ${best.network.label}, ${best.loss.label}, seed ${best.seed}`,
    '',
    organTable(best),
    '',
    `## Relative change in Dice with ${reference}`,
    '',
    lines.length ? lines.join('\n') : `(no network was run with both ${reference} and another loss)`,
    '',
    ...(sweepOption ? [`## Does ${sweepOption} move the balance? (Fig. 7: as ${sweepOption} falls, FPR should fall and FNR rise)`, '', ...betaTrend(cells, sweepOption), ''] : []),
  ].join('\n');
}
