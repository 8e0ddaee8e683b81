/**
 * Feature binning: raw float columns to small integer bin indices (LightGBM's bin.cpp design).
 *
 * A feature's bins are described by their upper bounds, ascending, the last one +Infinity:
 * a value x falls in the first bin b with x <= upper[b]. Missing values (NaN) go to the
 * dedicated bin MISSING_BIN, whatever the number of value bins.
 */

import { sortValues } from './radix.js';

/** Bin index reserved for missing values (NaN). Value bins are 0..upper.length-1 <= 254. */
export const MISSING_BIN = 255;
/** At most this many value bins per feature (one index stays reserved for missing values). */
export const MAX_VALUE_BINS = 255;

/**
 * Bin upper bounds from the sorted distinct values of a feature and how often each occurs.
 * Equal-frequency-ish, like LightGBM's GreedyFindBin: values at least as frequent as a mean bin
 * get a bin of their own, the rest are grouped greedily so each bin holds about the same count;
 * a bound sits halfway between the last value of a bin and the first value of the next.
 * With at most `maxBins` distinct values, each gets its own bin (after `minDataInBin` grouping).
 * The result is ascending, has at most `maxBins` entries, and ends with +Infinity.
 */
export function findBinBounds(values: ArrayLike<number>, counts: ArrayLike<number>, maxBins = MAX_VALUE_BINS, minDataInBin = 3): Float64Array {
  const n = values.length;
  if (counts.length !== n) throw new Error('findBinBounds: values and counts differ in length');
  if (!(maxBins >= 1)) throw new Error('findBinBounds: maxBins must be at least 1');
  for (let i = 1; i < n; i++) if (!(values[i]! > values[i - 1]!)) throw new Error('findBinBounds: values must be sorted, distinct and not NaN');
  const bounds: number[] = [];
  const push = (b: number) => {
    // Halfway points can round onto a neighbour; keep the list strictly ascending.
    if (bounds.length === 0 || b > bounds[bounds.length - 1]!) bounds.push(b);
  };
  if (n === 0 || maxBins === 1) return Float64Array.of(Number.POSITIVE_INFINITY);
  if (n <= maxBins) {
    let current = 0;
    for (let i = 0; i < n - 1; i++) {
      current += counts[i]!;
      if (current >= minDataInBin) {
        push(midpoint(values[i]!, values[i + 1]!));
        current = 0;
      }
    }
  } else {
    let total = 0;
    for (let i = 0; i < n; i++) total += counts[i]!;
    let restBins = maxBins;
    let restCount = total;
    const big = new Uint8Array(n);
    const bigThreshold = total / maxBins;
    for (let i = 0; i < n; i++) {
      if (counts[i]! >= bigThreshold) {
        big[i] = 1;
        restBins--;
        restCount -= counts[i]!;
      }
    }
    let meanBinSize = restBins > 0 ? restCount / restBins : Number.POSITIVE_INFINITY;
    const upper: number[] = [];
    const lower: number[] = [values[0]!];
    let current = 0;
    for (let i = 0; i < n - 1; i++) {
      if (!big[i]) restCount -= counts[i]!;
      current += counts[i]!;
      if (big[i] || current >= meanBinSize || (big[i + 1] && current >= Math.max(1, meanBinSize * 0.5))) {
        upper.push(values[i]!);
        lower.push(values[i + 1]!);
        if (upper.length >= maxBins - 1) break;
        current = 0;
        if (!big[i]) {
          restBins--;
          meanBinSize = restBins > 0 ? restCount / restBins : Number.POSITIVE_INFINITY;
        }
      }
    }
    for (let i = 0; i < upper.length; i++) push(midpoint(upper[i]!, lower[i + 1]!));
  }
  bounds.push(Number.POSITIVE_INFINITY);
  return Float64Array.from(bounds);
}

function midpoint(a: number, b: number): number {
  const m = a + (b - a) / 2;
  // Keep a < m <= ... so that `a <= bound` holds and `b <= bound` does not.
  return m >= b ? a : m;
}

/** Sorted distinct non-NaN values of a column sample and their counts. */
export function distinctCounts(sample: Float64Array): { values: Float64Array; counts: Float64Array } {
  let m = 0;
  for (let i = 0; i < sample.length; i++) if (sample[i] === sample[i]) m++;
  const sorted = new Float64Array(m);
  for (let i = 0, j = 0; i < sample.length; i++) if (sample[i] === sample[i]) sorted[j++] = sample[i]!;
  sortValues(sorted);
  let distinct = 0;
  for (let i = 0; i < m; i++) if (i === 0 || sorted[i] !== sorted[i - 1]) distinct++;
  const values = new Float64Array(distinct);
  const counts = new Float64Array(distinct);
  for (let i = 0, d = -1; i < m; i++) {
    if (i === 0 || sorted[i] !== sorted[i - 1]) values[++d] = sorted[i]!;
    counts[d]!++;
  }
  return { values, counts };
}

/** The bin of one value: MISSING_BIN for NaN, else the first b with x <= upper[b]. */
export function binOf(x: number, upper: Float64Array): number {
  if (x !== x) return MISSING_BIN;
  let lo = 0;
  let hi = upper.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (x <= upper[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * Bins one column into `out` (a Uint8Array of bin indices). The column is read with a stride so
 * a row-major matrix column can be binned in place: value i is column[offset + i * stride], and
 * its bin goes to out[outOffset + i * outStride].
 */
export function binColumn(
  column: Float32Array | Float64Array,
  upper: Float64Array,
  out: Uint8Array,
  rows = column.length,
  offset = 0,
  stride = 1,
  outOffset = 0,
  outStride = 1,
): Uint8Array {
  if (upper.length > MAX_VALUE_BINS) throw new Error(`binColumn: at most ${MAX_VALUE_BINS} value bins`);
  // Bounds padded to 255 with +Infinity: an eight-step branch-free binary search counts the
  // bounds below x, which is the first bin whose upper bound is >= x.
  const padded = new Float64Array(MAX_VALUE_BINS).fill(Number.POSITIVE_INFINITY);
  padded.set(upper);
  if (column instanceof Float32Array) binStrided32(column, padded, out, rows, offset, stride, outOffset, outStride);
  else binStrided64(column, padded, out, rows, offset, stride, outOffset, outStride);
  return out;
}

function binStrided32(column: Float32Array, u: Float64Array, out: Uint8Array, rows: number, offset: number, stride: number, outOffset: number, outStride: number): void {
  for (let i = 0, src = offset, dst = outOffset; i < rows; i++, src += stride, dst += outStride) {
    const x = column[src]!;
    let lo = 0;
    lo += 128 & -(u[lo + 127]! < x);
    lo += 64 & -(u[lo + 63]! < x);
    lo += 32 & -(u[lo + 31]! < x);
    lo += 16 & -(u[lo + 15]! < x);
    lo += 8 & -(u[lo + 7]! < x);
    lo += 4 & -(u[lo + 3]! < x);
    lo += 2 & -(u[lo + 1]! < x);
    lo += 1 & -(u[lo]! < x);
    out[dst] = x === x ? lo : MISSING_BIN;
  }
}

function binStrided64(column: Float64Array, u: Float64Array, out: Uint8Array, rows: number, offset: number, stride: number, outOffset: number, outStride: number): void {
  for (let i = 0, src = offset, dst = outOffset; i < rows; i++, src += stride, dst += outStride) {
    const x = column[src]!;
    let lo = 0;
    lo += 128 & -(u[lo + 127]! < x);
    lo += 64 & -(u[lo + 63]! < x);
    lo += 32 & -(u[lo + 31]! < x);
    lo += 16 & -(u[lo + 15]! < x);
    lo += 8 & -(u[lo + 7]! < x);
    lo += 4 & -(u[lo + 3]! < x);
    lo += 2 & -(u[lo + 1]! < x);
    lo += 1 & -(u[lo]! < x);
    out[dst] = x === x ? lo : MISSING_BIN;
  }
}

/** Bin bounds for every column of a row-major matrix, from at most `sampleRows` seeded-chosen rows. */
export function fitBinBounds(
  data: Float32Array | Float64Array,
  rows: number,
  cols: number,
  maxBins: number,
  sampleRows: Uint32Array | undefined,
): Float64Array[] {
  const m = sampleRows ? sampleRows.length : rows;
  const sample = new Float64Array(m);
  const out: Float64Array[] = [];
  for (let f = 0; f < cols; f++) {
    if (sampleRows) for (let i = 0; i < m; i++) sample[i] = data[sampleRows[i]! * cols + f]!;
    else for (let i = 0; i < m; i++) sample[i] = data[i * cols + f]!;
    const { values, counts } = distinctCounts(sample);
    out.push(findBinBounds(values, counts, maxBins, 3));
  }
  return out;
}

/**
 * Bounds (from the sample rows, or all rows) and bins for the columns f0..f1-1 of a row-major
 * matrix, written into the row-major `out` (same column count). Returns the bounds of those columns.
 */
export function binFeatures(
  data: Float32Array | Float64Array,
  rows: number,
  cols: number,
  maxBins: number,
  sampleRows: Uint32Array | undefined,
  out: Uint8Array,
  f0: number,
  f1: number,
): Float64Array[] {
  const m = sampleRows ? sampleRows.length : rows;
  const sample = new Float64Array(m);
  const bounds: Float64Array[] = [];
  for (let f = f0; f < f1; f++) {
    if (sampleRows) for (let i = 0; i < m; i++) sample[i] = data[sampleRows[i]! * cols + f]!;
    else for (let i = 0; i < m; i++) sample[i] = data[i * cols + f]!;
    const { values, counts } = distinctCounts(sample);
    const b = findBinBounds(values, counts, maxBins);
    binColumn(data, b, out, rows, f, cols, f, cols);
    bounds.push(b);
  }
  return bounds;
}
