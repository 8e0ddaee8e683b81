import { logLoss } from '../models/losses.js';
import { predictedClasses } from './metrics.js';

export interface ClassMetrics {
  class: string;
  precision: number;
  recall: number;
  f1: number;
  /** Rows whose label is this class. */
  support: number;
}

export interface MulticlassReport {
  task: 'multiclass';
  count: number;
  accuracy: number;
  /** Unweighted mean of the per-class F1, over the classes that occur in the labels or predictions (as scikit-learn). */
  macroF1: number;
  /** Mean of the per-class F1 weighted by each class's support. */
  weightedF1: number;
  logloss: number;
  perClass: ClassMetrics[];
  /** `confusion[actual][predicted]` row counts, in the order of `perClass`. */
  confusion: number[][];
}

/** Multiclass metrics of row-major probabilities (`classes.length` per row) against class indices. */
export function multiclassReport(probabilities: ArrayLike<number>, classes: string[], actual: ArrayLike<number>): MulticlassReport {
  const k = classes.length;
  const n = actual.length;
  const predicted = predictedClasses(probabilities, k, n);
  const confusion = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  let correct = 0;
  for (let i = 0; i < n; i++) {
    confusion[actual[i]!]![predicted[i]!]!++;
    if (predicted[i] === actual[i]) correct++;
  }
  const perClass = classes.map((name, c) => {
    const tp = confusion[c]![c]!;
    const support = confusion[c]!.reduce((a, b) => a + b, 0);
    const called = confusion.reduce((a, row) => a + row[c]!, 0);
    const precision = called > 0 ? tp / called : 0;
    const recall = support > 0 ? tp / support : 0;
    return { class: name, precision, recall, f1: tp > 0 ? (2 * tp) / (support + called) : 0, support, called };
  });
  const seen = perClass.filter((c) => c.support > 0 || c.called > 0);
  return {
    task: 'multiclass',
    count: n,
    accuracy: correct / n,
    macroF1: seen.reduce((a, c) => a + c.f1, 0) / seen.length,
    weightedF1: perClass.reduce((a, c) => a + c.f1 * c.support, 0) / n,
    logloss: logLoss(probabilities, k, actual),
    perClass: perClass.map(({ called: _called, ...c }) => c),
    confusion,
  };
}
