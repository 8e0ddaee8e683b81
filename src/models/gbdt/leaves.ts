/**
 * Leaf values from exact gradient sums, and the per-tree leaf pass (shared by the main thread and
 * the workers): each leaf's exact sums and, when every row is in the tree, its value added to the
 * raw scores of its rows.
 */

/** Soft threshold of a gradient sum by the L1 penalty. */
export function threshold(g: number, alpha: number): number {
  if (alpha === 0) return g;
  if (g > alpha) return g - alpha;
  if (g < -alpha) return g + alpha;
  return 0;
}

/** The penalties and shrinkage a leaf value needs. */
export interface LeafParams {
  reg_lambda: number;
  reg_alpha: number;
  learning_rate: number;
}

/** Leaf value −T(G)/(H+λ) × learning_rate. */
export function leafValue(G: number, H: number, p: LeafParams): number {
  const d = H + p.reg_lambda;
  return d > 0 ? (-threshold(G, p.reg_alpha) / d) * p.learning_rate : 0;
}

/**
 * For each leaf (ranges packs start, end of rows[]): the exact sums of grad and hess at
 * gradOffset + row, summed in row order (one thread per leaf, so the same for any thread count),
 * into sums[2j], sums[2j + 1]. With `raw` given, the leaf's value is added to raw[row * K + k].
 */
export function finishLeaves(
  rows: Uint32Array,
  grad: Float32Array,
  hess: Float32Array,
  gradOffset: number,
  ranges: Int32Array,
  p: LeafParams,
  raw: Float64Array | undefined,
  K: number,
  k: number,
): Float64Array {
  const sums = new Float64Array(ranges.length);
  for (let j = 0; j < ranges.length; j += 2) {
    const start = ranges[j]!;
    const end = ranges[j + 1]!;
    let G = 0;
    let H = 0;
    for (let i = start; i < end; i++) {
      const r = rows[i]! + gradOffset;
      G += grad[r]!;
      H += hess[r]!;
    }
    sums[j] = G;
    sums[j + 1] = H;
    if (raw) {
      const v = leafValue(G, H, p);
      for (let i = start; i < end; i++) raw[rows[i]! * K + k] += v;
    }
  }
  return sums;
}
