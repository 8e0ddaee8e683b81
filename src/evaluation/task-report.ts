import type { Task } from '../models/family.js';
import { binaryReport, type BinaryReport } from './metrics-binary.js';
import { multiclassReport, type MulticlassReport } from './metrics-multiclass.js';
import { regressionReport, type RegressionReport } from './metrics-regression.js';

/** Everything `atelier evaluate` measures on one set of rows, by task. */
export type TaskReport = RegressionReport | BinaryReport | MulticlassReport;

export interface TaskReportOptions {
  /** Class names in index order (classifiers). */
  classes?: string[];
  /** Binary: call a row positive when P(positive) >= threshold (default 0.5). */
  threshold?: number;
}

/** The task's report of row-major model `outputs` (`width` per row) against labels `y`. */
export function taskReport(task: Task, outputs: ArrayLike<number>, width: number, y: ArrayLike<number>, options: TaskReportOptions = {}): TaskReport {
  if (task === 'regression') return regressionReport(outputs, y);
  if (task === 'binary') return binaryReport(outputs, y, options.threshold);
  const classes = options.classes ?? Array.from({ length: width }, (_v, k) => String(k));
  return multiclassReport(outputs, classes, y);
}

/** The few headline figures of a report, flat: what a slice table shows per slice. */
export function headlineFigures(report: TaskReport): Record<string, number | null> {
  switch (report.task) {
    case 'regression':
      return { rmse: report.rmse, mae: report.mae, mape: report.mape, r2: report.r2, bias: report.bias };
    case 'binary':
      return {
        positives: report.positives,
        rocAuc: finiteOrNull(report.rocAuc),
        prAuc: finiteOrNull(report.prAuc),
        logloss: report.logloss,
        accuracy: report.atThreshold.accuracy,
        precision: report.atThreshold.precision,
        recall: report.atThreshold.recall,
        f1: report.atThreshold.f1,
      };
    case 'multiclass':
      return { accuracy: report.accuracy, macroF1: report.macroF1, weightedF1: report.weightedF1, logloss: report.logloss };
  }
}

function finiteOrNull(value: number): number | null {
  return Number.isFinite(value) ? value : null;
}

/** The rows `select` of row-major outputs with `width` values per row. */
export function gatherOutputs(outputs: Float64Array, width: number, select: Uint32Array): Float64Array {
  const out = new Float64Array(select.length * width);
  for (let i = 0; i < select.length; i++) out.set(outputs.subarray(select[i]! * width, (select[i]! + 1) * width), i * width);
  return out;
}
