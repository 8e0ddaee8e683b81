/**
 * Objectives: gradients and hessians of the loss with respect to the raw scores.
 *
 * Layouts: raw scores are row-major, raw[i * K + k] for row i and output k (K = 1 except for
 * multiclass). Gradients and hessians are class-major so that each class's tree reads one
 * contiguous slice: grad[k * n + i].
 */

export type ObjectiveName = 'regression' | 'binary' | 'multiclass';

export interface Objective {
  readonly name: ObjectiveName;
  /** Outputs per row, and trees per boosting iteration. */
  readonly numOutputs: number;
  /** Name of the reported loss: rmse, logloss, mlogloss. */
  readonly lossName: string;
  /** Starting raw score per output: the mean, the log-odds of the positive rate, the log class priors. */
  initScore(y: ArrayLike<number>): Float64Array;
  /**
   * Writes gradients and hessians (class-major, see above) for rows start..end-1 of the n = y.length
   * rows (all by default; threads take ranges).
   */
  gradients(y: ArrayLike<number>, raw: Float64Array, grad: Float32Array | Float64Array, hess: Float32Array | Float64Array, start?: number, end?: number): void;
  /** The reported loss of raw scores against labels (lower is better). */
  loss(y: ArrayLike<number>, raw: Float64Array): number;
  /** The loss's sum over rows start..end-1 (threads take ranges; lossOf turns the total into the loss). */
  lossSum(y: ArrayLike<number>, raw: Float64Array, start: number, end: number): number;
  /** The reported loss from the sum over all n rows. */
  lossOf(sum: number, n: number): number;
  /** Raw scores to outputs: identity, sigmoid probability, softmax probabilities (in place allowed). */
  transform(raw: Float64Array, out: Float64Array): Float64Array;
  /** Throws on labels the objective cannot take. */
  checkLabels(y: ArrayLike<number>): void;
}

const EPS = 1e-15;
const MIN_HESS = 1e-16;

export const squaredError: Objective = {
  name: 'regression',
  numOutputs: 1,
  lossName: 'rmse',
  initScore(y) {
    let sum = 0;
    for (let i = 0; i < y.length; i++) sum += y[i]!;
    return Float64Array.of(y.length > 0 ? sum / y.length : 0);
  },
  gradients(y, raw, grad, hess, start = 0, end = y.length) {
    for (let i = start; i < end; i++) {
      grad[i] = raw[i]! - y[i]!;
      hess[i] = 1;
    }
  },
  loss(y, raw) {
    return this.lossOf(this.lossSum(y, raw, 0, y.length), y.length);
  },
  lossSum(y, raw, start, end) {
    let sum = 0;
    for (let i = start; i < end; i++) {
      const d = raw[i]! - y[i]!;
      sum += d * d;
    }
    return sum;
  },
  lossOf: (sum, n) => Math.sqrt(sum / n),
  transform(raw, out) {
    if (out !== raw) out.set(raw);
    return out;
  },
  checkLabels(y) {
    for (let i = 0; i < y.length; i++) if (!Number.isFinite(y[i]!)) throw new Error(`label ${i} is not a finite number`);
  },
};

function sigmoid(z: number): number {
  return 1 / (1 + Math.exp(-z));
}

export const binaryLogistic: Objective = {
  name: 'binary',
  numOutputs: 1,
  lossName: 'logloss',
  initScore(y) {
    let sum = 0;
    for (let i = 0; i < y.length; i++) sum += y[i]!;
    const p = Math.min(Math.max(y.length > 0 ? sum / y.length : 0.5, 1e-6), 1 - 1e-6);
    return Float64Array.of(Math.log(p / (1 - p)));
  },
  gradients(y, raw, grad, hess, start = 0, end = y.length) {
    for (let i = start; i < end; i++) {
      const p = sigmoid(raw[i]!);
      grad[i] = p - y[i]!;
      hess[i] = Math.max(p * (1 - p), MIN_HESS);
    }
  },
  loss(y, raw) {
    return this.lossOf(this.lossSum(y, raw, 0, y.length), y.length);
  },
  lossSum(y, raw, start, end) {
    let sum = 0;
    for (let i = start; i < end; i++) {
      const p = Math.min(Math.max(sigmoid(raw[i]!), EPS), 1 - EPS);
      sum -= y[i]! > 0.5 ? Math.log(p) : Math.log(1 - p);
    }
    return sum;
  },
  lossOf: (sum, n) => sum / n,
  transform(raw, out) {
    for (let i = 0; i < raw.length; i++) out[i] = sigmoid(raw[i]!);
    return out;
  },
  checkLabels(y) {
    for (let i = 0; i < y.length; i++) if (y[i] !== 0 && y[i] !== 1) throw new Error(`binary labels must be 0 or 1 (label ${i} is ${y[i]})`);
  },
};

/** Softmax cross-entropy over K classes; labels are class indices 0..K-1. K trees per iteration. */
export function softmax(numClass: number): Objective {
  if (!(Number.isInteger(numClass) && numClass >= 2)) throw new Error('multiclass needs num_class >= 2');
  const K = numClass;
  const p = new Float64Array(K);
  const probs = (raw: Float64Array, i: number) => {
    let max = Number.NEGATIVE_INFINITY;
    for (let k = 0; k < K; k++) max = Math.max(max, raw[i * K + k]!);
    let sum = 0;
    for (let k = 0; k < K; k++) sum += p[k] = Math.exp(raw[i * K + k]! - max);
    for (let k = 0; k < K; k++) p[k]! /= sum;
  };
  return {
    name: 'multiclass',
    numOutputs: K,
    lossName: 'mlogloss',
    initScore(y) {
      const counts = new Float64Array(K);
      for (let i = 0; i < y.length; i++) counts[y[i]!]!++;
      const out = new Float64Array(K);
      for (let k = 0; k < K; k++) out[k] = Math.log(Math.max(counts[k]! / Math.max(y.length, 1), 1e-6));
      return out;
    },
    gradients(y, raw, grad, hess, start = 0, end = y.length) {
      const n = y.length;
      for (let i = start; i < end; i++) {
        probs(raw, i);
        const label = y[i]!;
        for (let k = 0; k < K; k++) {
          const pk = p[k]!;
          grad[k * n + i] = pk - (k === label ? 1 : 0);
          hess[k * n + i] = Math.max(pk * (1 - pk), MIN_HESS);
        }
      }
    },
    loss(y, raw) {
      return this.lossOf(this.lossSum(y, raw, 0, y.length), y.length);
    },
    lossSum(y, raw, start, end) {
      let sum = 0;
      for (let i = start; i < end; i++) {
        probs(raw, i);
        sum -= Math.log(Math.max(p[y[i]!]!, EPS));
      }
      return sum;
    },
    lossOf: (sum, n) => sum / n,
    transform(raw, out) {
      const rows = raw.length / K;
      for (let i = 0; i < rows; i++) {
        probs(raw, i);
        for (let k = 0; k < K; k++) out[i * K + k] = p[k]!;
      }
      return out;
    },
    checkLabels(y) {
      for (let i = 0; i < y.length; i++) {
        const v = y[i]!;
        if (!(Number.isInteger(v) && v >= 0 && v < K)) throw new Error(`multiclass labels must be integers 0..${K - 1} (label ${i} is ${v})`);
      }
    },
  };
}

export function makeObjective(name: ObjectiveName, numClass?: number): Objective {
  switch (name) {
    case 'regression':
      return squaredError;
    case 'binary':
      return binaryLogistic;
    case 'multiclass':
      return softmax(numClass ?? 0);
    default:
      throw new Error(`unknown objective "${String(name)}" (regression, binary, multiclass)`);
  }
}
