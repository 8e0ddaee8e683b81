import { quantileSorted } from '../features/steps.js';
import { regressionMetrics } from './metrics.js';

/** Quantiles of the residuals (actual − predicted), in the label's units. */
export interface ResidualQuantiles {
  p5: number;
  p25: number;
  p50: number;
  p75: number;
  p95: number;
}

export interface RegressionReport {
  task: 'regression';
  count: number;
  rmse: number;
  mae: number;
  /** Mean absolute percentage error over the rows whose label is not zero; null when all are. */
  mape: number | null;
  /** Rows left out of MAPE because their label is zero (a percentage of zero is undefined). */
  mapeSkippedZeroLabels: number;
  r2: number;
  /** Mean residual (actual − predicted): positive when the model predicts too low on average. */
  bias: number;
  residuals: ResidualQuantiles;
}

const QUANTILES: [keyof ResidualQuantiles, number][] = [
  ['p5', 0.05],
  ['p25', 0.25],
  ['p50', 0.5],
  ['p75', 0.75],
  ['p95', 0.95],
];

export function regressionReport(predicted: ArrayLike<number>, actual: ArrayLike<number>): RegressionReport {
  const n = actual.length;
  const { rmse, mae, r2 } = regressionMetrics(predicted, actual);
  const residuals = new Float64Array(n);
  let percentages = 0;
  let zeros = 0;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const residual = actual[i]! - predicted[i]!;
    residuals[i] = residual;
    sum += residual;
    if (actual[i] === 0) zeros++;
    else percentages += Math.abs(residual / actual[i]!);
  }
  residuals.sort();
  return {
    task: 'regression',
    count: n,
    rmse,
    mae,
    mape: n > zeros ? percentages / (n - zeros) : null,
    mapeSkippedZeroLabels: zeros,
    r2,
    bias: n > 0 ? sum / n : Number.NaN,
    residuals: Object.fromEntries(QUANTILES.map(([name, q]) => [name, quantileSorted(residuals, q)])) as unknown as ResidualQuantiles,
  };
}
