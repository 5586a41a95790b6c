// Plots as SVG from vega-lite specifications (rendered headless by vega).
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

/** Renders a vega-lite spec to an SVG string. */
export async function vegaLiteSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Training curves: training loss and mean validation Dice per epoch, side by side. */
export function trainingCurvesSpec(
  records: { epoch: number; trainLoss: number; meanDice: number | null }[],
): TopLevelSpec {
  const values = records.flatMap((r) => [
    { epoch: r.epoch, value: r.trainLoss, series: 'training loss' },
    ...(r.meanDice === null
      ? []
      : [{ epoch: r.epoch, value: r.meanDice, series: 'validation Dice (mean over organs)' }]),
  ]);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    data: { values },
    facet: { column: { field: 'series', type: 'nominal', title: null } },
    spec: {
      width: 280,
      height: 180,
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'epoch', type: 'quantitative', axis: { tickMinStep: 1 } },
        y: { field: 'value', type: 'quantitative', title: null, scale: { zero: false } },
        color: { field: 'series', type: 'nominal', legend: null },
      },
    },
    resolve: { scale: { y: 'independent' } },
  };
}
