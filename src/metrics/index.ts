export { squaredEdt } from './edt.js';
export { surfaceDistances, type SurfaceDistances } from './surface.js';
export {
  confusion,
  organMetrics,
  METRIC_NAMES,
  type Confusion,
  type OrganMetrics,
  type MetricName,
} from './overlap.js';
export {
  evaluateCase,
  caseMeanDice,
  MetricsAccumulator,
  summaryTable,
  casesCsv,
  type CaseMetrics,
  type Summary,
  type Stat,
} from './evaluate.js';
