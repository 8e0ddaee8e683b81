/**
 * Row partition kernels, shared by the main thread and the workers: a node's rows split by one
 * split into the left-going rows (in order) followed by the right-going rows (in order).
 */

/** Partition jobs are packed this many numbers each: start, end, feature, bin, defaultLeft, chunk. */
export const PARTITION_JOB = 6;

/** goesLeft[b]: 1 when bin b goes left (per split; one per thread). */
const goesLeft = new Uint8Array(256);

/**
 * Stable partition of rows[start..end) by one split: rows going left keep their order at the
 * front, rows going right follow them in order. scratch[start..end) is used as room.
 * `binsT` is the column-major copy of the bins (n rows per column), read at increasing
 * addresses since a node's rows are ascending.
 * With `chunk` set, the right-going rows are left in scratch[start..) (in order) for the caller
 * to place (see stitchChunks). Returns the number of rows that went left.
 * Branch-free in the row loop: the side comes from a 256-entry table (a compare there compiles
 * to a branch, mispredicted about half the time, which measured twice as slow).
 */
export function partitionRows(
  binsT: Uint8Array,
  n: number,
  rows: Uint32Array,
  scratch: Uint32Array,
  start: number,
  end: number,
  feature: number,
  bin: number,
  defaultLeft: number,
  chunk: number,
): number {
  const side = goesLeft;
  for (let b = 0; b < 255; b++) side[b] = b <= bin ? 1 : 0;
  side[255] = defaultLeft ? 1 : 0; // the missing bin
  let l = start;
  let r = start;
  const col = feature * n;
  for (let i = start; i < end; i++) {
    const row = rows[i]!;
    const left = side[binsT[col + row]!]!;
    rows[l] = row;
    scratch[r] = row;
    l += left;
    r += 1 - left;
  }
  // (a plain loop: set/copyWithin on shared memory are slow in V8)
  if (!chunk) for (let i = start, o = l; i < r; i++, o++) rows[o] = scratch[i]!;
  return l - start;
}

/** Runs packed partition jobs and returns left counts. */
export function runPartitions(binsT: Uint8Array, n: number, rows: Uint32Array, scratch: Uint32Array, jobs: Int32Array): Int32Array {
  const out = new Int32Array(jobs.length / PARTITION_JOB);
  for (let j = 0, k = 0; j < jobs.length; j += PARTITION_JOB, k++) {
    out[k] = partitionRows(binsT, n, rows, scratch, jobs[j]!, jobs[j + 1]!, jobs[j + 2]!, jobs[j + 3]!, jobs[j + 4]!, jobs[j + 5]!);
  }
  return out;
}

/** Where chunk t of `chunks` chunks of rows [start, end) begins. */
export function chunkStart(start: number, end: number, t: number, chunks: number): number {
  return start + Math.floor((t * (end - start)) / chunks);
}

/**
 * Puts a node partitioned in chunks in place: chunks 0..T-2 were partitioned with `chunk` set
 * (lefts at rows[a..], rights at scratch[a..]), the last one without (its rights are already
 * where they end up). Lefts move down in order, then the other chunks' rights follow them.
 * `lefts[t]` is chunk t's left count. Returns the node's left count.
 */
export function stitchChunks(rows: Uint32Array, scratch: Uint32Array, start: number, end: number, lefts: Int32Array): number {
  const T = lefts.length;
  let dest = start + lefts[0]!;
  for (let t = 1; t < T; t++) {
    const a = chunkStart(start, end, t, T);
    const l = lefts[t]!;
    for (let j = a; j < a + l; j++, dest++) rows[dest] = rows[j]!;
  }
  const count = dest - start;
  for (let t = 0; t < T - 1; t++) {
    const a = chunkStart(start, end, t, T);
    const r = chunkStart(start, end, t + 1, T) - a - lefts[t]!;
    for (let j = a; j < a + r; j++, dest++) rows[dest] = scratch[j]!;
  }
  return count;
}
