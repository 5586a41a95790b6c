export { vegaLiteSvg, trainingCurvesSpec } from './plots.js';
export { writeRunReport, type ReportCase } from './report.js';
