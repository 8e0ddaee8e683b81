/**
 * Gradient quantization (LightGBM's quantized training, with a packing of our own).
 *
 * Each row's gradient and hessian become small integers gq and hq (stochastic rounding, seeded,
 * so unbiased and reproducible) packed into one float64 `gq * P + hq` with P a power of two
 * larger than any hessian sum. A histogram cell is then one addition instead of two, the
 * histograms are half the size, and, since every sum is an integer below 2^53, the sums are
 * exact: the same whatever order or thread adds them, and parent minus child is exact.
 *
 * The bit budget follows the row count: sums of n rows must stay below 2^53. With a constant
 * hessian (squared error) the hessian is exactly 1 per row (P > n) and the gradient gets the
 * remaining bits (13 bits at 800,000 rows, 24 for small sets); otherwise the bits are shared.
 * Split search runs on these sums; leaf values are then computed from the exact gradients.
 */

/** How to read packed sums back: real G = gq * g, real H = hq * h; P = 2^hBits. */
export interface GradientScale {
  g: number;
  h: number;
  P: number;
  /** Every hessian equal (squared error): each row's quantized hessian is exactly 1. */
  constantHessian: boolean;
}

/** The most rows quantized training can sum exactly (then gradients get 4 bits). */
export const MAX_QUANTIZED_ROWS = 2 ** 24;

const MAX_LEVELS = 2 ** 24;
/** 2^-32: a uint32 to [0, 1). */
const TO_UNIT = 2.3283064365386963e-10;

/** Smallest power of two >= x (x > 0). */
function powerOfTwoAtLeast(x: number): number {
  return 2 ** Math.ceil(Math.log2(x));
}

/** Bits needed to hold integers 0..x. */
function bitsFor(x: number): number {
  return Math.ceil(Math.log2(x + 1));
}

/** Gradient statistics per output, three numbers each: max |g|, min h, max h. */
export const STATS = 3;

/** Statistics of grad/hess[from, to) into out[at..at + 3); merge several with mergeStats. */
export function gradientStats(grad: ArrayLike<number>, hess: ArrayLike<number>, from: number, to: number, out: Float64Array, at: number): void {
  let maxG = 0;
  let minH = Number.POSITIVE_INFINITY;
  let maxH = 0;
  for (let i = from; i < to; i++) {
    const g = Math.abs(grad[i]!);
    const h = hess[i]!;
    if (g > maxG) maxG = g;
    if (h < minH) minH = h;
    if (h > maxH) maxH = h;
  }
  out[at] = maxG;
  out[at + 1] = minH;
  out[at + 2] = maxH;
}

/** into = the statistics of both (max, min and max: exact in any order). */
export function mergeStats(into: Float64Array, other: Float64Array): void {
  for (let at = 0; at < into.length; at += STATS) {
    into[at] = Math.max(into[at]!, other[at]!);
    into[at + 1] = Math.min(into[at + 1]!, other[at + 1]!);
    into[at + 2] = Math.max(into[at + 2]!, other[at + 2]!);
  }
}

/**
 * The scale of one output's gradients from their statistics (gradientStats): `rowsBound` is
 * the most rows any sum can hold (the training row count).
 */
export function scaleFromStats(stats: Float64Array, at: number, rowsBound: number): GradientScale {
  if (rowsBound > MAX_QUANTIZED_ROWS) throw new Error(`gbdt trains on at most ${MAX_QUANTIZED_ROWS} rows (got ${rowsBound}); sample the rows`);
  const maxG = stats[at]!;
  const minH = stats[at + 1]!;
  const maxH = stats[at + 2]!;
  const countBits = bitsFor(rowsBound);
  const constantHessian = minH === maxH;
  // Hessian levels: one when constant, else half of what the count leaves free.
  const hLevels = constantHessian ? 1 : Math.min(MAX_LEVELS, 2 ** Math.max(1, Math.floor((52 - 2 * countBits) / 2)) - 1);
  const P = 2 ** bitsFor(rowsBound * hLevels);
  // Gradient levels such that rowsBound * gLevels * P + P <= 2^53.
  const gLevels = Math.max(1, Math.min(MAX_LEVELS, Math.floor((2 ** 53 / P - 1) / rowsBound)));
  const g = maxG > 0 ? powerOfTwoAtLeast(maxG / gLevels) : 1;
  const h = constantHessian ? (maxH > 0 ? maxH : 1) : maxH > 0 ? powerOfTwoAtLeast(maxH / hLevels) : 1;
  return { g, h, P, constantHessian };
}

/**
 * The scale of one output's gradients grad/hess[offset, offset + n): `rowsBound` is the most rows
 * any sum can hold (the training row count).
 */
export function gradientScale(grad: ArrayLike<number>, hess: ArrayLike<number>, offset: number, n: number, rowsBound: number): GradientScale {
  const stats = new Float64Array(STATS);
  gradientStats(grad, hess, offset, offset + n, stats, 0);
  return scaleFromStats(stats, 0, rowsBound);
}

/** Rows per quantization chunk: each chunk has its own seed, so threads can share the work. */
export const QUANTIZE_CHUNK = 1 << 16;

/**
 * Quantizes rows [start, end) (within one output's range) with `scale`, the stochastic rounding
 * seeded by `seed` (a chunk's own, see QUANTIZE_CHUNK).
 */
export function quantizeRange(
  grad: ArrayLike<number>,
  hess: ArrayLike<number>,
  packed: Float64Array,
  start: number,
  end: number,
  scale: GradientScale,
  seed: number,
): void {
  const { P, constantHessian } = scale;
  const gInv = 1 / scale.g;
  const hInv = 1 / scale.h;
  // xorshift32 (kept an int32 so V8 stays on integer code): one uniform in [0, 1) per rounding.
  let s = (seed ^ 0x9e3779b9) | 0 || 1;
  if (constantHessian) {
    // Every hessian equals hess[start]: one level each (none when they are all 0).
    const hq = end > start && hess[start]! > 0 ? 1 : 0;
    for (let i = start; i < end; i++) {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      packed[i] = Math.floor(grad[i]! * gInv + (s >>> 0) * TO_UNIT) * P + hq;
    }
  } else {
    for (let i = start; i < end; i++) {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      const gq = Math.floor(grad[i]! * gInv + (s >>> 0) * TO_UNIT);
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      packed[i] = gq * P + Math.floor(hess[i]! * hInv + (s >>> 0) * TO_UNIT);
    }
  }
}

/** The seed of chunk `c` of a quantization seeded `seed`. */
export function chunkSeed(seed: number, c: number): number {
  return (seed + Math.imul(c + 1, 0x9e3779b1)) | 0;
}

/** Quantizes grad/hess[offset, offset + n) into packed[offset, offset + n), chunk by chunk, on this thread. */
export function quantizeGradients(
  grad: ArrayLike<number>,
  hess: ArrayLike<number>,
  offset: number,
  n: number,
  rowsBound: number,
  packed: Float64Array,
  seed: number,
): GradientScale {
  const scale = gradientScale(grad, hess, offset, n, rowsBound);
  for (let c = 0, a = 0; a < n; c++, a += QUANTIZE_CHUNK) quantizeRange(grad, hess, packed, offset + a, offset + Math.min(n, a + QUANTIZE_CHUNK), scale, chunkSeed(seed, c));
  return scale;
}

/** Quantize jobs are packed this many numbers each: start, end, seed, g, h, P, constantHessian. */
export const QUANTIZE_JOB = 7;

/** Runs packed quantize jobs (main thread and workers alike). */
export function runQuantize(grad: ArrayLike<number>, hess: ArrayLike<number>, packed: Float64Array, jobs: Float64Array): void {
  for (let j = 0; j < jobs.length; j += QUANTIZE_JOB) {
    const scale = { g: jobs[j + 3]!, h: jobs[j + 4]!, P: jobs[j + 5]!, constantHessian: jobs[j + 6] === 1 };
    quantizeRange(grad, hess, packed, jobs[j]!, jobs[j + 1]!, scale, jobs[j + 2]!);
  }
}
