import { Command } from 'commander';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ComboSegError } from '../engine/errors.js';
import { imageExtension, readLabels } from '../data/io.js';
import { labelSetFrom, type LabelSet } from '../data/labels.js';
import { resampleLike } from '../data/resample.js';
import { isRtstruct, rasteriseRtstruct, readRtstruct, type Rtstruct } from '../data/rtstruct.js';
import { sameGrid, type Volume } from '../data/volume.js';
import { casesCsv, evaluateCase, MetricsAccumulator, summaryTable } from '../metrics/evaluate.js';
import { writeFileAtomic } from '../util/fs.js';
import { Progress } from '../util/progress.js';

/** "1:brain,2:heart" → label set. */
export function parseLabels(spec: string): LabelSet {
  const map: Record<string, string> = {};
  for (const part of spec.split(',')) {
    const m = /^\s*(\d+)\s*(?::\s*(.+?))?\s*$/.exec(part);
    if (!m) {
      throw new ComboSegError(`--labels: cannot read '${part}'; write e.g. 1:brain,2:heart`, {
        code: 'invalid-option',
        path: '--labels',
      });
    }
    map[m[1]] = m.at(2) ?? `label ${m[1]}`; // the ':name' group is optional
  }
  return labelSetFrom(map);
}

const caseId = (f: string) => f.slice(0, f.length - (imageExtension(f)?.length ?? 0));

/** The predictions of a folder, by file name. */
const predictionsIn = (pred: string) =>
  readdirSync(pred)
    .filter((g) => imageExtension(g))
    .sort();

/**
 * Pairs of (id, prediction, truth): two files, or two folders matched by file name. A truth that is
 * one RTSTRUCT file (`rtTruth`) goes with one prediction file, or with every prediction of a folder.
 */
function pairs(pred: string, truth: string, rtTruth = false): [string, string, string][] {
  for (const p of [pred, truth]) {
    if (!existsSync(p)) throw new ComboSegError(`${p}: no such file or folder`, { code: 'not-found', path: p });
  }
  if (statSync(pred).isFile() && statSync(truth).isFile())
    return [[caseId(pred.slice(pred.lastIndexOf('/') + 1)), pred, truth]];
  if (rtTruth && statSync(pred).isDirectory()) {
    const out = predictionsIn(pred).map((f): [string, string, string] => [caseId(f), join(pred, f), truth]);
    if (!out.length) throw new ComboSegError(`${pred}: no image files`, { code: 'not-found', path: pred });
    return out;
  }
  if (!statSync(pred).isDirectory() || !statSync(truth).isDirectory()) {
    throw new ComboSegError('--pred and --truth must both be files or both be folders', {
      code: 'invalid-option',
      path: '--truth',
    });
  }
  const truths = new Map(
    readdirSync(truth)
      .filter((f) => imageExtension(f))
      .map((f) => [caseId(f), f]),
  );
  const out: [string, string, string][] = [];
  for (const f of predictionsIn(pred)) {
    const t = truths.get(caseId(f));
    if (!t) {
      throw new ComboSegError(`${join(pred, f)}: no truth named ${caseId(f)}.* in ${truth}`, {
        code: 'not-found',
        path: join(pred, f),
      });
    }
    out.push([caseId(f), join(pred, f), join(truth, t)]);
  }
  if (!out.length) throw new ComboSegError(`${pred}: no image files`, { code: 'not-found', path: pred });
  return out;
}

/** Every value of a label map but 0, named by `names` (else `label v`), each name once. */
function presentLabels(truth: Volume, names: Record<number, string> = {}): LabelSet {
  const values = [...new Set(truth.data)].filter((v) => v > 0).sort((a, b) => a - b);
  const taken = new Set<string>();
  const entries = values.map((v) => {
    let name = names[v] ?? `label ${v}`;
    if (taken.has(name)) name = `${name} (${v})`; // two ROIs of one name
    taken.add(name);
    return [String(v), name] as const;
  });
  return labelSetFrom(Object.fromEntries(entries));
}

/**
 * The truth for one prediction: its label map, or the RTSTRUCT rasterised onto the prediction's
 * grid (ROI k in file order → value k + 1, named by the ROI names); off-grid contours are reported.
 */
function rasterisedTruth(rt: Rtstruct, pred: Volume, id: string): { truth: Volume; names: Record<number, string> } {
  const { labels, names, offGrid } = rasteriseRtstruct(rt, pred);
  if (offGrid) console.warn(`warning: case '${id}': ${offGrid} contour(s) of ${rt.path} lie off its grid, left out`);
  return { truth: labels, names };
}

/** `comboseg evaluate --pred P --truth T [--labels 1:a,2:b] [--json] [--csv FILE] [--resample]`. */
export function evaluateCommand(): Command {
  return new Command('evaluate')
    .description('Dice, Jaccard, FPR, FDR, FNR, Hausdorff, HD95 and ASSD per case and organ, with a summary')
    .requiredOption('--pred <path>', 'predicted label map, or a folder of them')
    .requiredOption(
      '--truth <path>',
      'ground-truth label map, or a folder (matched by file name), or a DICOM RTSTRUCT file: its contours ' +
        "rasterised onto each prediction's grid (voxel centre inside the polygon; ROI k in file order → value " +
        'k+1, named by its ROI name); with --pred a folder, every prediction is scored against that RTSTRUCT',
    )
    .option(
      '--labels <spec>',
      'organs as value:name pairs, e.g. 1:brain,2:heart (default: every non-zero value in the truth)',
    )
    .option('--json', 'print { cases, summary } as JSON')
    .option('--csv <file>', 'also write one CSV row per case and organ')
    .option('--resample', 'put predictions on the truth grid (nearest) when they differ')
    .action(
      async (o: { pred: string; truth: string; labels?: string; json?: boolean; csv?: string; resample?: boolean }) => {
        const rtFile = existsSync(o.truth) && statSync(o.truth).isFile();
        const rt = rtFile && (await isRtstruct(o.truth)) ? await readRtstruct(o.truth) : null;
        const list = pairs(o.pred, o.truth, rt !== null);
        const acc = new MetricsAccumulator();
        const bar = o.json ? null : new Progress({ label: 'evaluate', total: list.length, unit: 'case' });
        for (const [id, p, t] of list) {
          let pred = await readLabels(p);
          const { truth, names } = rt ? rasterisedTruth(rt, pred, id) : { truth: await readLabels(t), names: {} };
          if (o.resample && !sameGrid(pred, truth)) pred = resampleLike(pred, truth, 'nearest');
          const labels = o.labels ? parseLabels(o.labels) : presentLabels(truth, names);
          acc.add(evaluateCase(id, pred, truth, labels));
          bar?.tick();
        }
        const summary = acc.summary();
        if (o.csv) writeFileAtomic(o.csv, Buffer.from(casesCsv(acc.cases)));
        if (o.json) console.log(JSON.stringify({ cases: acc.cases, summary }));
        else console.log(summaryTable(summary));
      },
    );
}
