import type { TopLevelSpec } from 'vega-lite';
import { renderSvg } from '../charts/render.js';
import type { MetricPoint } from '../store/types.js';
import type { ImportanceResult } from './importance.js';
import type { BinaryReport, CalibrationBin } from './metrics-binary.js';
import type { TaskReport } from './task-report.js';

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v5.json';
const SIZE = { width: 280, height: 240 };
/** The scatter of residuals shows at most this many rows, evenly spaced. */
export const RESIDUAL_POINTS = 2000;

export interface Chart {
  /** File-friendly name: roc, pr, calibration, confusion, residuals, importance, training. */
  name: string;
  title: string;
  svg: string;
}

/** The dashed y = x line of ROC and calibration charts. */
const DIAGONAL = {
  data: { values: [{ x: 0, y: 0 }, { x: 1, y: 1 }] },
  mark: { type: 'line' as const, strokeDash: [4, 4], color: '#999' },
  encoding: { x: { field: 'x', type: 'quantitative' as const }, y: { field: 'y', type: 'quantitative' as const } },
};

function unitAxis(field: string, title: string) {
  return { field, type: 'quantitative' as const, title, scale: { domain: [0, 1] } };
}

export function rocSpec(report: BinaryReport): TopLevelSpec {
  return {
    $schema: SCHEMA,
    title: `ROC curve (AUC ${report.rocAuc.toFixed(3)})`,
    ...SIZE,
    layer: [
      DIAGONAL,
      {
        data: { values: report.curves.roc.map((p, i) => ({ ...p, i })) },
        mark: { type: 'line', color: '#1f77b4' },
        encoding: { x: unitAxis('fpr', 'false positive rate'), y: unitAxis('tpr', 'true positive rate'), order: { field: 'i', type: 'quantitative' } },
      },
    ],
  };
}

export function prSpec(report: BinaryReport): TopLevelSpec {
  return {
    $schema: SCHEMA,
    title: `Precision-recall (AP ${report.prAuc.toFixed(3)})`,
    ...SIZE,
    data: { values: report.curves.pr.map((p, i) => ({ ...p, i })) },
    mark: { type: 'line', interpolate: 'step-after', color: '#ff7f0e' },
    encoding: { x: unitAxis('recall', 'recall'), y: unitAxis('precision', 'precision'), order: { field: 'i', type: 'quantitative' } },
  };
}

export function calibrationSpec(bins: CalibrationBin[], brier: number): TopLevelSpec {
  return {
    $schema: SCHEMA,
    title: `Calibration (Brier ${brier.toFixed(3)})`,
    ...SIZE,
    layer: [
      DIAGONAL,
      {
        data: { values: bins.filter((b) => b.count > 0) },
        mark: { type: 'line', point: true, color: '#2ca02c' },
        encoding: { x: unitAxis('meanPredicted', 'mean predicted probability'), y: unitAxis('fractionPositive', 'fraction positive'), tooltip: [{ field: 'count', type: 'quantitative' }] },
      },
    ],
  };
}

/** Rows are actual classes, columns predicted ones; each cell shows its count. */
export function confusionSpec(classes: string[], matrix: number[][]): TopLevelSpec {
  const values = matrix.flatMap((row, a) => row.map((count, p) => ({ actual: classes[a], predicted: classes[p], count })));
  const max = Math.max(1, ...values.map((v) => v.count));
  const axis = (field: string) => ({ field, type: 'nominal' as const, sort: classes });
  return {
    $schema: SCHEMA,
    title: 'Confusion matrix',
    width: { step: Math.max(28, Math.min(60, 280 / classes.length)) },
    height: { step: Math.max(28, Math.min(60, 280 / classes.length)) },
    data: { values },
    encoding: { x: axis('predicted'), y: axis('actual') },
    layer: [
      { mark: 'rect', encoding: { color: { field: 'count', type: 'quantitative', scale: { scheme: 'blues' }, title: 'rows' } } },
      {
        mark: { type: 'text', baseline: 'middle' },
        encoding: {
          text: { field: 'count', type: 'quantitative' },
          color: { condition: { test: `datum.count > ${max / 2}`, value: 'white' }, value: 'black' },
        },
      },
    ],
    config: { scale: { bandPaddingInner: 0, bandPaddingOuter: 0 } },
  };
}

/** Residuals (actual − predicted) against predictions, at most RESIDUAL_POINTS rows. */
export function residualSpec(predicted: ArrayLike<number>, actual: ArrayLike<number>): TopLevelSpec {
  const n = actual.length;
  const step = Math.max(1, n / RESIDUAL_POINTS);
  const values: { predicted: number; residual: number }[] = [];
  for (let k = 0; k * step < n; k++) {
    const i = Math.floor(k * step);
    values.push({ predicted: predicted[i]!, residual: actual[i]! - predicted[i]! });
  }
  return {
    $schema: SCHEMA,
    title: 'Residuals against predictions',
    ...SIZE,
    layer: [
      {
        data: { values },
        mark: { type: 'point', filled: true, opacity: 0.6, size: 20, color: '#1f77b4' },
        encoding: {
          x: { field: 'predicted', type: 'quantitative', title: 'predicted', scale: { zero: false } },
          y: { field: 'residual', type: 'quantitative', title: 'actual − predicted' },
        },
      },
      { data: { values: [{ y: 0 }] }, mark: { type: 'rule', color: '#d62728' }, encoding: { y: { field: 'y', type: 'quantitative' } } },
    ],
  };
}

export function importanceSpec(importance: ImportanceResult): TopLevelSpec {
  return {
    $schema: SCHEMA,
    title: `Permutation importance (${importance.metric} increase)`,
    width: 280,
    height: { step: 16 },
    data: { values: importance.features },
    mark: { type: 'bar', color: '#9467bd', tooltip: true },
    encoding: {
      y: { field: 'feature', type: 'nominal', sort: '-x', title: null },
      x: { field: 'degradation', type: 'quantitative', title: `${importance.metric} increase when shuffled` },
    },
  };
}

/**
 * The run's per-epoch (or per-iteration) losses, one line per series (`train_rmse`,
 * `validation_rmse`), the y axis named by the loss they draw, and the kept epoch (the best one,
 * when early stopping restored it) marked by a rule.
 */
export function trainingSpec(points: MetricPoint[], bestEpoch?: number | null): TopLevelSpec {
  const losses = [...new Set(points.map((p) => p.key.replace(/^(train|validation)_/, '')))];
  const curves = {
    data: { values: points },
    mark: { type: 'line' as const, point: points.length <= 30 },
    encoding: {
      x: { field: 'step', type: 'quantitative' as const, title: 'epoch / iteration' },
      y: { field: 'value', type: 'quantitative' as const, title: `${losses.join(', ')} (loss)`, scale: { zero: false } },
      color: { field: 'key', type: 'nominal' as const, title: null, legend: { orient: 'bottom' as const } },
    },
  };
  if (bestEpoch === undefined || bestEpoch === null) return { $schema: SCHEMA, title: 'Training curves', ...SIZE, ...curves };
  const kept = { values: [{ step: bestEpoch, label: `kept: epoch ${bestEpoch}` }] };
  return {
    $schema: SCHEMA,
    title: 'Training curves',
    ...SIZE,
    layer: [
      curves,
      { data: kept, mark: { type: 'rule', color: '#555', strokeDash: [4, 3] }, encoding: { x: { field: 'step', type: 'quantitative' } } },
      {
        data: kept,
        mark: { type: 'text', align: 'left', dx: 4, dy: -4, baseline: 'bottom', color: '#555' },
        encoding: { x: { field: 'step', type: 'quantitative' }, y: { value: 0 }, text: { field: 'label' } },
      },
    ],
  } as TopLevelSpec;
}

/** The per-step series of a run's metrics (the final figures, logged once, are left out). */
export function curvePoints(points: MetricPoint[]): MetricPoint[] {
  return points.filter((p) => !p.key.startsWith('final_'));
}

export interface ChartInputs {
  report: TaskReport;
  /** Class names (binary: negative then positive) for the confusion matrix. */
  classes?: string[];
  /** Regression: the predictions and labels, for the residual scatter. */
  predicted?: ArrayLike<number>;
  actual?: ArrayLike<number>;
  importance?: ImportanceResult;
  /** The training run's metric points. */
  training?: MetricPoint[];
  /** The epoch whose weights were kept (early stopping's best), marked on the curves. */
  bestEpoch?: number | null;
}

/** The charts that fit the task, in reading order, rendered to SVG. */
export async function evaluationCharts(inputs: ChartInputs): Promise<Chart[]> {
  const { report } = inputs;
  const specs: [string, TopLevelSpec][] = [];
  if (report.task === 'binary') {
    specs.push(['roc', rocSpec(report)], ['pr', prSpec(report)], ['calibration', calibrationSpec(report.calibration, report.brier)]);
    const t = report.atThreshold;
    specs.push(['confusion', confusionSpec(inputs.classes ?? ['0', '1'], [[t.trueNegatives, t.falsePositives], [t.falseNegatives, t.truePositives]])]);
  } else if (report.task === 'multiclass') {
    specs.push(['confusion', confusionSpec(report.perClass.map((c) => c.class), report.confusion)]);
  } else if (inputs.predicted && inputs.actual) {
    specs.push(['residuals', residualSpec(inputs.predicted, inputs.actual)]);
  }
  if (inputs.importance && inputs.importance.features.length > 0) specs.push(['importance', importanceSpec(inputs.importance)]);
  const curves = curvePoints(inputs.training ?? []);
  if (curves.length > 0) specs.push(['training', trainingSpec(curves, inputs.bestEpoch)]);
  const charts: Chart[] = [];
  for (const [name, spec] of specs) charts.push({ name, title: String(spec.title), svg: await renderSvg(spec) });
  return charts;
}
