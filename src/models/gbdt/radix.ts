/**
 * Sorting a column sample for bin bounds: an LSD radix sort on the bits of float32 values
 * (three passes of 11 bits), several times faster than Float64Array.prototype.sort, which
 * stays the answer for values float32 cannot hold exactly and for short samples.
 */

/** Below this many values the built-in sort is as fast. */
const RADIX_MIN = 2048;
const DIGIT_BITS = 11;
const BUCKETS = 1 << DIGIT_BITS;

/** Sorts `a` (no NaN) ascending in place, as Float64Array.prototype.sort does (-0 before +0). */
export function sortValues(a: Float64Array): void {
  const m = a.length;
  if (m < RADIX_MIN) {
    a.sort();
    return;
  }
  const f32 = new Float32Array(m);
  for (let i = 0; i < m; i++) {
    f32[i] = a[i]!;
    if (f32[i] !== a[i] && a[i] === a[i]) {
      a.sort(); // not float32-exact (or beyond its range)
      return;
    }
  }
  // Float bits to unsigned keys in the same order: negatives flipped whole, positives' sign bit set.
  let keys = new Uint32Array(f32.buffer);
  for (let i = 0; i < m; i++) {
    const u = keys[i]!;
    keys[i] = u & 0x80000000 ? ~u : u | 0x80000000;
  }
  let other = new Uint32Array(m);
  const count = new Int32Array(BUCKETS);
  for (let shift = 0; shift < 32; shift += DIGIT_BITS) {
    count.fill(0);
    for (let i = 0; i < m; i++) count[(keys[i]! >>> shift) & (BUCKETS - 1)]!++;
    for (let d = 0, sum = 0; d < BUCKETS; d++) {
      const c = count[d]!;
      count[d] = sum;
      sum += c;
    }
    for (let i = 0; i < m; i++) {
      const k = keys[i]!;
      other[count[(k >>> shift) & (BUCKETS - 1)]!++] = k;
    }
    const t = keys;
    keys = other;
    other = t;
  }
  for (let i = 0; i < m; i++) {
    const k = keys[i]!;
    keys[i] = k & 0x80000000 ? k & 0x7fffffff : ~k;
  }
  const sorted = new Float32Array(keys.buffer, keys.byteOffset, m);
  for (let i = 0; i < m; i++) a[i] = sorted[i]!;
}
