/**
 * The per-iteration row kernels (shared by the main thread and the workers, each on a range of
 * rows): trees added to the raw scores, then the objective's gradients and their statistics.
 */
import { MISSING_BIN } from './binning.js';
import { makeObjective, type Objective, type ObjectiveName } from './objectives.js';
import { gradientStats, STATS } from './quantize.js';

/** A grown tree as the binned data sees it, for output k. */
export interface BinnedTree {
  feature: Int32Array;
  thresholdBin: Uint8Array;
  defaultLeft: Uint8Array;
  left: Int32Array;
  right: Int32Array;
  value: Float64Array;
  k: number;
}

/** Adds the tree's output for training rows [start, end) (binned, row-major) to raw[i * K + k]. */
export function addBinnedTreeToRaw(tree: BinnedTree, bins: Uint8Array, F: number, start: number, end: number, raw: Float64Array, K: number): void {
  const { feature, thresholdBin, defaultLeft, left, right, value, k } = tree;
  for (let i = start; i < end; i++) {
    let node = 0;
    let f = feature[0]!;
    const b0 = i * F;
    while (f >= 0) {
      const b = bins[b0 + f]!;
      node = (b === MISSING_BIN ? defaultLeft[node] === 1 : b <= thresholdBin[node]!) ? left[node]! : right[node]!;
      f = feature[node]!;
    }
    raw[i * K + k] += value[node]!;
  }
}

const objectives = new Map<string, Objective>();

/** The objective by name and output count (one instance per thread: softmax keeps scratch). */
export function objectiveOf(name: ObjectiveName, K: number): Objective {
  const key = `${name}/${K}`;
  let o = objectives.get(key);
  if (!o) objectives.set(key, (o = makeObjective(name, K > 1 ? K : undefined)));
  return o;
}

/** Where the row kernels read and write (all n rows; K outputs). */
export interface RowState {
  n: number;
  K: number;
  y: Float64Array;
  raw: Float64Array;
  grad: Float32Array;
  hess: Float32Array;
}

/**
 * Gradients and hessians of rows [start, end) from their raw scores, and per output k their
 * statistics (gradientStats) at out[k * STATS ...]; last, out[K * STATS] holds the rows' loss sum
 * at those raw scores (the previous iteration's training loss, so no pass of its own).
 */
export function gradientRows(s: RowState, objective: ObjectiveName, start: number, end: number): Float64Array {
  const o = objectiveOf(objective, s.K);
  o.gradients(s.y, s.raw, s.grad, s.hess, start, end);
  const out = new Float64Array(s.K * STATS + 1);
  for (let k = 0; k < s.K; k++) gradientStats(s.grad, s.hess, k * s.n + start, k * s.n + end, out, k * STATS);
  out[s.K * STATS] = o.lossSum(s.y, s.raw, start, end);
  return out;
}
