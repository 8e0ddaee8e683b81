import { escapeHtml, htmlPage, htmlTable } from '../charts/page.js';
import { formatNumber } from '../core/format.js';
import type { Chart } from './charts.js';
import type { EvaluationResult } from './evaluate.js';
import type { ThresholdMetrics } from './metrics-binary.js';
import type { TaskReport } from './task-report.js';

/** A titled table of text cells: the one content the terminal and the HTML report both show. */
export interface ReportTable {
  title: string;
  headers: string[];
  rows: string[][];
  note?: string;
}

/** Column headers of the slice figures. */
const FIGURE_LABELS: Record<string, string> = {
  rmse: 'RMSE',
  mae: 'MAE',
  mape: 'MAPE',
  r2: 'R²',
  bias: 'BIAS',
  positives: 'POSITIVES',
  rocAuc: 'ROC AUC',
  prAuc: 'PR AUC',
  logloss: 'LOG LOSS',
  accuracy: 'ACCURACY',
  precision: 'PRECISION',
  recall: 'RECALL',
  f1: 'F1',
  macroF1: 'MACRO F1',
  weightedF1: 'WEIGHTED F1',
};

function fmt(value: number | null | undefined): string {
  return value === null || value === undefined || Number.isNaN(value) ? '-' : formatNumber(value);
}

function thresholdRow(label: string, t: ThresholdMetrics): string[] {
  return [label, fmt(t.threshold), fmt(t.accuracy), fmt(t.precision), fmt(t.recall), fmt(t.f1), ...[t.truePositives, t.falsePositives, t.trueNegatives, t.falseNegatives].map(String)];
}

/** The task's own tables: headline metrics, then thresholds and calibration, or classes. */
export function metricTables(report: TaskReport, classes?: string[]): ReportTable[] {
  const metric = (rows: [string, number | null][], note?: string): ReportTable => ({
    title: 'Metrics',
    headers: ['METRIC', 'VALUE'],
    rows: rows.map(([k, v]) => [k, fmt(v)]),
    ...(note ? { note } : {}),
  });
  switch (report.task) {
    case 'regression': {
      const r = report.residuals;
      return [
        metric(
          [['rows', report.count], ['RMSE', report.rmse], ['MAE', report.mae], ['MAPE', report.mape], ['R²', report.r2], ['bias (mean residual)', report.bias]],
          report.mapeSkippedZeroLabels > 0 ? `MAPE leaves out ${report.mapeSkippedZeroLabels} row${report.mapeSkippedZeroLabels === 1 ? '' : 's'} whose label is 0.` : undefined,
        ),
        { title: 'Residuals (actual − predicted)', headers: ['P5', 'P25', 'P50', 'P75', 'P95'], rows: [[r.p5, r.p25, r.p50, r.p75, r.p95].map(fmt)] },
      ];
    }
    case 'binary':
      return [
        metric(
          [['rows', report.count], ['positives', report.positives], ['ROC AUC', report.rocAuc], ['PR AUC (average precision)', report.prAuc], ['log loss', report.logloss], ['Brier score', report.brier]],
          classes ? `Positive class: ${classes[1]}.` : undefined,
        ),
        {
          title: 'Thresholds',
          headers: ['AT', 'THRESHOLD', 'ACCURACY', 'PRECISION', 'RECALL', 'F1', 'TP', 'FP', 'TN', 'FN'],
          rows: [thresholdRow('chosen', report.atThreshold), thresholdRow('best F1', report.bestF1)],
        },
        {
          title: 'Calibration',
          headers: ['BIN', 'ROWS', 'MEAN PREDICTED', 'FRACTION POSITIVE'],
          rows: report.calibration.map((b) => [`(${fmt(b.low)}, ${fmt(b.high)}]`, String(b.count), fmt(b.meanPredicted), fmt(b.fractionPositive)]),
        },
      ];
    case 'multiclass':
      return [
        metric([['rows', report.count], ['accuracy', report.accuracy], ['macro F1', report.macroF1], ['weighted F1', report.weightedF1], ['log loss', report.logloss]]),
        { title: 'Per class', headers: ['CLASS', 'PRECISION', 'RECALL', 'F1', 'SUPPORT'], rows: report.perClass.map((c) => [c.class, fmt(c.precision), fmt(c.recall), fmt(c.f1), String(c.support)]) },
        {
          title: 'Confusion matrix (rows: actual, columns: predicted)',
          headers: ['ACTUAL', ...report.perClass.map((c) => c.class)],
          rows: report.confusion.map((row, a) => [report.perClass[a]!.class, ...row.map(String)]),
        },
      ];
  }
}

/** Every table of an evaluation: metrics, slices, importance. */
export function evaluationTables(result: EvaluationResult): ReportTable[] {
  const tables = metricTables(result.details, result.classes);
  for (const slice of result.slices) {
    const keys = Object.keys(slice.slices[0]?.metrics ?? {});
    tables.push({
      title: `Slices by ${slice.feature} (${slice.kind})`,
      headers: [slice.feature.toUpperCase(), 'ROWS', ...keys.map((k) => FIGURE_LABELS[k] ?? k)],
      rows: slice.slices.map((s) => [s.value, String(s.rows), ...keys.map((k) => fmt(s.metrics[k]))]),
    });
  }
  const importance = result.importance;
  if (importance) {
    tables.push({
      title: `Permutation importance (${importance.metric} ${fmt(importance.baseline)} before shuffling; mean of ${importance.repeats}, seed ${importance.seed})`,
      headers: ['FEATURE', 'INCREASE', 'STD', `${importance.metric.toUpperCase()} SHUFFLED`],
      rows: importance.features.map((f) => [f.feature, fmt(f.degradation), fmt(f.std), fmt(f.permuted)]),
    });
  }
  return tables;
}

export function evaluationTitle(result: EvaluationResult): string {
  return `${result.model}@${result.version} on ${result.dataset}@${result.datasetVersion}:${result.split}`;
}

/** The self-contained HTML report: tables, and the charts as inline SVG. */
export function evaluationPage(result: EvaluationResult, charts: Chart[]): string {
  const tables = evaluationTables(result)
    .map((t) => `<section><h2>${escapeHtml(t.title)}</h2>${htmlTable(t.headers, t.rows)}${t.note ? `<p class="note">${escapeHtml(t.note)}</p>` : ''}</section>`)
    .join('\n');
  const figures = charts.map((c) => `<figure class="chart" data-chart="${escapeHtml(c.name)}">${c.svg}</figure>`).join('\n');
  return htmlPage(
    `Evaluation of ${evaluationTitle(result)}`,
    `<p>${result.details.count} rows · ${result.details.task}</p>\n<div class="charts">\n${figures}\n</div>\n${tables}`,
    `.charts { display: flex; flex-wrap: wrap; gap: 1.5em; margin-bottom: 2em; } figure { margin: 0; }
section { display: inline-block; vertical-align: top; margin: 0 2em 1em 0; } .note { color: #666; margin-top: -1.5em; }`,
  );
}
