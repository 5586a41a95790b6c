export { vegaLiteSvg, trainingCurvesSpec } from './plots.js';
export { writeRunReport, type ReportCase } from './report.js';
export {
  runExperiment,
  parseExperiment,
  cells,
  poolFolds,
  GridStopped,
  ExperimentConfigSchema,
  type PartialGrid,
  type ExperimentConfig,
  type CellSpec,
  type CellResult,
  type FoldResult,
} from './grid.js';
export {
  gridTable,
  organTable,
  improvements,
  bestCell,
  experimentMarkdown,
  formatStat,
  betaTrend,
  wilcoxon,
  pairedComparison,
  holm,
  foldTable,
  seedTable,
} from './tables.js';
export { writeExperimentReport, boxPlotSpec, betaCurvesSpec, convergenceSpec } from './figures.js';
export {
  runTune,
  parseTune,
  tuneMarkdown,
  TuneConfigSchema,
  type TuneConfig,
  type Trial,
  type TuneResult,
} from './tune.js';
export { fitGp, expectedImprovement, suggest } from './bayes.js';
