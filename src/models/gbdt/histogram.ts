/**
 * The histogram kernel, shared by the main thread and the workers so both run the same code.
 *
 * A histogram slot holds, for each feature f and bin b (0..255, 255 = missing), the sum of the
 * rows' packed quantized gradient-hessian pairs (see quantize.ts) at slot[f * 256 + b]. The sums
 * are integers below 2^53, so they are exact in any order.
 */

export const BINS_PER_FEATURE = 256;

/** Doubles in one histogram slot for `numFeatures` features. */
export function slotDoubles(numFeatures: number): number {
  return numFeatures * BINS_PER_FEATURE;
}

/**
 * Builds the histogram of rows[start..end) for the features features[f0..f1) into
 * hist[base ...] (the slot's other features are left alone). `bins` is row-major, F columns;
 * `packed` holds each row's packed gradient at gradOffset + row.
 */
export function buildHistogram(
  bins: Uint8Array,
  F: number,
  rows: Uint32Array,
  start: number,
  end: number,
  packed: Float64Array,
  gradOffset: number,
  hist: Float64Array,
  base: number,
  features: Int32Array,
  f0: number,
  f1: number,
): void {
  if (f1 <= f0) return;
  for (let j = f0; j < f1; j++) {
    const o = base + features[j]! * 256;
    hist.fill(0, o, o + 256);
  }
  const lo = features[f0]!;
  const hi = features[f1 - 1]! + 1;
  if (hi - lo === f1 - f0) {
    // Contiguous features (the usual case): four bins per 32-bit load, two rows per step.
    const h0 = base + lo * 256;
    const quads = (hi - lo) >> 2;
    const rest = lo + quads * 4;
    const kEnd = h0 + quads * 1024;
    const view = new DataView(bins.buffer, bins.byteOffset, bins.byteLength);
    let i = start;
    // Four rows per step: four independent gathers in flight (deep nodes wait on memory).
    for (; i + 3 < end; i += 4) {
      const r0 = rows[i]!;
      const r1 = rows[i + 1]!;
      const r2 = rows[i + 2]!;
      const r3 = rows[i + 3]!;
      const v0 = packed[gradOffset + r0]!;
      const v1 = packed[gradOffset + r1]!;
      const v2 = packed[gradOffset + r2]!;
      const v3 = packed[gradOffset + r3]!;
      let b0 = r0 * F + lo;
      let b1 = r1 * F + lo;
      let b2 = r2 * F + lo;
      let b3 = r3 * F + lo;
      let k0 = h0;
      for (; k0 < kEnd; k0 += 1024, b0 += 4, b1 += 4, b2 += 4, b3 += 4) {
        const w0 = view.getUint32(b0, true);
        const w1 = view.getUint32(b1, true);
        const w2 = view.getUint32(b2, true);
        const w3 = view.getUint32(b3, true);
        hist[k0 + (w0 & 255)] += v0;
        hist[k0 + 256 + ((w0 >>> 8) & 255)] += v0;
        hist[k0 + 512 + ((w0 >>> 16) & 255)] += v0;
        hist[k0 + 768 + (w0 >>> 24)] += v0;
        hist[k0 + (w1 & 255)] += v1;
        hist[k0 + 256 + ((w1 >>> 8) & 255)] += v1;
        hist[k0 + 512 + ((w1 >>> 16) & 255)] += v1;
        hist[k0 + 768 + (w1 >>> 24)] += v1;
        hist[k0 + (w2 & 255)] += v2;
        hist[k0 + 256 + ((w2 >>> 8) & 255)] += v2;
        hist[k0 + 512 + ((w2 >>> 16) & 255)] += v2;
        hist[k0 + 768 + (w2 >>> 24)] += v2;
        hist[k0 + (w3 & 255)] += v3;
        hist[k0 + 256 + ((w3 >>> 8) & 255)] += v3;
        hist[k0 + 512 + ((w3 >>> 16) & 255)] += v3;
        hist[k0 + 768 + (w3 >>> 24)] += v3;
      }
      for (let f = rest; f < hi; f++, b0++, b1++, b2++, b3++, k0 += 256) {
        hist[k0 + bins[b0]!] += v0;
        hist[k0 + bins[b1]!] += v1;
        hist[k0 + bins[b2]!] += v2;
        hist[k0 + bins[b3]!] += v3;
      }
    }
    for (; i + 1 < end; i += 2) {
      const r = rows[i]!;
      const v = packed[gradOffset + r]!;
      const r2 = rows[i + 1]!;
      const v2 = packed[gradOffset + r2]!;
      let b = r * F + lo;
      let c = r2 * F + lo;
      let k0 = h0;
      for (; k0 < kEnd; k0 += 1024, b += 4, c += 4) {
        const w = view.getUint32(b, true);
        hist[k0 + (w & 255)] += v;
        hist[k0 + 256 + ((w >>> 8) & 255)] += v;
        hist[k0 + 512 + ((w >>> 16) & 255)] += v;
        hist[k0 + 768 + (w >>> 24)] += v;
        const x = view.getUint32(c, true);
        hist[k0 + (x & 255)] += v2;
        hist[k0 + 256 + ((x >>> 8) & 255)] += v2;
        hist[k0 + 512 + ((x >>> 16) & 255)] += v2;
        hist[k0 + 768 + (x >>> 24)] += v2;
      }
      for (let f = rest; f < hi; f++, b++, c++, k0 += 256) {
        hist[k0 + bins[b]!] += v;
        hist[k0 + bins[c]!] += v2;
      }
    }
    for (; i < end; i++) {
      const r = rows[i]!;
      const v = packed[gradOffset + r]!;
      let b = r * F + lo;
      let k0 = h0;
      for (; k0 < kEnd; k0 += 1024, b += 4) {
        const w = view.getUint32(b, true);
        hist[k0 + (w & 255)] += v;
        hist[k0 + 256 + ((w >>> 8) & 255)] += v;
        hist[k0 + 512 + ((w >>> 16) & 255)] += v;
        hist[k0 + 768 + (w >>> 24)] += v;
      }
      for (let f = rest; f < hi; f++, b++, k0 += 256) hist[k0 + bins[b]!] += v;
    }
  } else {
    for (let i = start; i < end; i++) {
      const r = rows[i]!;
      const v = packed[gradOffset + r]!;
      const b = r * F;
      for (let j = f0; j < f1; j++) {
        const f = features[j]!;
        hist[base + f * 256 + bins[b + f]!] += v;
      }
    }
  }
}

/** a[aBase ...] += sign × b[bBase ...] over the features' cells (exact: the sums are integers). */
export function combineSlots(a: Float64Array, aBase: number, b: Float64Array, bBase: number, features: Int32Array, sign: 1 | -1): void {
  for (let j = 0; j < features.length; j++) {
    const o = features[j]! * BINS_PER_FEATURE;
    const ao = aBase + o;
    const bo = bBase + o;
    for (let c = 0; c < BINS_PER_FEATURE; c++) a[ao + c] += sign * b[bo + c]!;
  }
}

/** One histogram to build: rows[start..end) into slot `slot`, gradients from `gradOffset`. */
export interface HistJob {
  start: number;
  end: number;
  slot: number;
  gradOffset: number;
}

/** Jobs packed four numbers each, for postMessage. */
export function packJobs(jobs: HistJob[]): Int32Array {
  const out = new Int32Array(jobs.length * 4);
  jobs.forEach((j, i) => out.set([j.start, j.end, j.slot, j.gradOffset], i * 4));
  return out;
}

/** Slots live in pages of this many, each page one SharedArrayBuffer. */
export const SLOTS_PER_PAGE = 8;

/** Runs packed jobs for features[f0..f1) over the paged slots. */
export function runJobs(
  bins: Uint8Array,
  F: number,
  rows: Uint32Array,
  packed: Float64Array,
  pages: Float64Array[],
  jobs: Int32Array,
  features: Int32Array,
  f0: number,
  f1: number,
): void {
  const size = slotDoubles(F);
  for (let j = 0; j < jobs.length; j += 4) {
    const slot = jobs[j + 2]!;
    const page = pages[(slot / SLOTS_PER_PAGE) | 0]!;
    buildHistogram(bins, F, rows, jobs[j]!, jobs[j + 1]!, packed, jobs[j + 3]!, page, (slot % SLOTS_PER_PAGE) * size, features, f0, f1);
  }
}
