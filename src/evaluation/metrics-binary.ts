import { logLoss } from '../models/losses.js';
import { rocAuc } from './metrics.js';

/** The confusion counts and rates when rows with P(positive) >= `threshold` are called positive. */
export interface ThresholdMetrics {
  threshold: number;
  accuracy: number;
  precision: number;
  recall: number;
  f1: number;
  truePositives: number;
  falsePositives: number;
  trueNegatives: number;
  falseNegatives: number;
}

/** One bin of the reliability curve: predictions in (low, high] (the first bin includes 0). */
export interface CalibrationBin {
  low: number;
  high: number;
  count: number;
  /** Mean predicted probability in the bin; null when the bin is empty. */
  meanPredicted: number | null;
  /** Share of positives among the bin's rows; null when the bin is empty. */
  fractionPositive: number | null;
}

export interface RocPoint {
  /** null for the curve's start, where no row is called positive. */
  threshold: number | null;
  fpr: number;
  tpr: number;
}

export interface PrPoint {
  threshold: number;
  recall: number;
  precision: number;
}

export interface BinaryReport {
  task: 'binary';
  count: number;
  positives: number;
  rocAuc: number;
  /** Average precision: the area under the precision-recall step curve (scikit-learn's definition). */
  prAuc: number;
  logloss: number;
  brier: number;
  atThreshold: ThresholdMetrics;
  /** The threshold with the highest F1 on these rows (the highest such threshold on a tie). */
  bestF1: ThresholdMetrics;
  calibration: CalibrationBin[];
  /** ROC and precision-recall curves, thinned to at most CURVE_POINTS points each. */
  curves: { roc: RocPoint[]; pr: PrPoint[] };
}

export const CALIBRATION_BINS = 10;
const CURVE_POINTS = 200;

/** Counts at each distinct score, from the highest: calling every row at or above it positive. */
function operatingPoints(scores: ArrayLike<number>, positives: ArrayLike<number>): { threshold: number; tp: number; fp: number }[] {
  const order = Array.from({ length: scores.length }, (_v, i) => i).sort((a, b) => scores[b]! - scores[a]!);
  const points: { threshold: number; tp: number; fp: number }[] = [];
  let tp = 0;
  let fp = 0;
  for (let i = 0; i < order.length; i++) {
    const row = order[i]!;
    if (positives[row] === 1) tp++;
    else fp++;
    const next = order[i + 1];
    if (next === undefined || scores[next] !== scores[row]) points.push({ threshold: scores[row]!, tp, fp });
  }
  return points;
}

function confusionAt(threshold: number, tp: number, fp: number, positives: number, count: number): ThresholdMetrics {
  const fn = positives - tp;
  const tn = count - positives - fp;
  const precision = tp + fp > 0 ? tp / (tp + fp) : 0;
  const recall = positives > 0 ? tp / positives : 0;
  return {
    threshold,
    accuracy: (tp + tn) / count,
    precision,
    recall,
    f1: tp > 0 ? (2 * tp) / (2 * tp + fp + fn) : 0,
    truePositives: tp,
    falsePositives: fp,
    trueNegatives: tn,
    falseNegatives: fn,
  };
}

export function thresholdMetrics(scores: ArrayLike<number>, positives: ArrayLike<number>, threshold: number): ThresholdMetrics {
  let tp = 0;
  let fp = 0;
  let p = 0;
  for (let i = 0; i < scores.length; i++) {
    if (positives[i] === 1) p++;
    if (scores[i]! >= threshold) {
      if (positives[i] === 1) tp++;
      else fp++;
    }
  }
  return confusionAt(threshold, tp, fp, p, scores.length);
}

/** The reliability curve over equal-width bins, as scikit-learn's calibration_curve (bins closed on the right). */
export function calibrationBins(scores: ArrayLike<number>, positives: ArrayLike<number>, bins = CALIBRATION_BINS): CalibrationBin[] {
  const edges = Array.from({ length: bins - 1 }, (_v, k) => (k + 1) * (1 / bins));
  const count = new Float64Array(bins);
  const predicted = new Float64Array(bins);
  const positive = new Float64Array(bins);
  for (let i = 0; i < scores.length; i++) {
    let bin = 0;
    while (bin < edges.length && edges[bin]! < scores[i]!) bin++;
    count[bin]!++;
    predicted[bin]! += scores[i]!;
    positive[bin]! += positives[i] === 1 ? 1 : 0;
  }
  return Array.from({ length: bins }, (_v, k) => ({
    low: k / bins,
    high: (k + 1) / bins,
    count: count[k]!,
    meanPredicted: count[k]! > 0 ? predicted[k]! / count[k]! : null,
    fractionPositive: count[k]! > 0 ? positive[k]! / count[k]! : null,
  }));
}

/** At most `limit` points, evenly spaced along the list, keeping the first and the last. */
export function thin<T>(points: T[], limit = CURVE_POINTS): T[] {
  if (points.length <= limit) return points;
  return Array.from({ length: limit }, (_v, k) => points[Math.round((k * (points.length - 1)) / (limit - 1))]!);
}

/** Binary metrics of P(positive) `scores` against 0/1 `positives`, calling positive at `threshold`. */
export function binaryReport(scores: ArrayLike<number>, positives: ArrayLike<number>, threshold = 0.5): BinaryReport {
  const count = scores.length;
  let p = 0;
  let brier = 0;
  for (let i = 0; i < count; i++) {
    if (positives[i] === 1) p++;
    brier += (scores[i]! - (positives[i] === 1 ? 1 : 0)) ** 2;
  }
  const points = operatingPoints(scores, positives);
  let averagePrecision = 0;
  let previousRecall = 0;
  let best = confusionAt(Number.POSITIVE_INFINITY, 0, 0, p, count);
  const roc: RocPoint[] = [{ threshold: null, fpr: 0, tpr: 0 }];
  const pr: PrPoint[] = [];
  for (const point of points) {
    const at = confusionAt(point.threshold, point.tp, point.fp, p, count);
    averagePrecision += (at.recall - previousRecall) * at.precision;
    previousRecall = at.recall;
    if (at.f1 > best.f1) best = at;
    roc.push({ threshold: point.threshold, fpr: count > p ? point.fp / (count - p) : Number.NaN, tpr: p > 0 ? at.recall : Number.NaN });
    pr.push({ threshold: point.threshold, recall: at.recall, precision: at.precision });
  }
  return {
    task: 'binary',
    count,
    positives: p,
    rocAuc: rocAuc(scores, positives),
    prAuc: p > 0 ? averagePrecision : Number.NaN,
    logloss: logLoss(scores, 1, positives),
    brier: brier / count,
    atThreshold: thresholdMetrics(scores, positives, threshold),
    bestF1: best,
    calibration: calibrationBins(scores, positives),
    curves: { roc: thin(roc), pr: thin(pr) },
  };
}
