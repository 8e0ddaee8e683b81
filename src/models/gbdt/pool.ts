/**
 * Shared training memory and the threads that build histograms in it.
 *
 * The binned matrix, the row partition, gradients, hessians and histogram slots live in
 * SharedArrayBuffers. Histogram builds and partitions are split between the threads by rows;
 * the main thread does share 0 while the workers do the rest.
 */
import type { Worker } from 'node:worker_threads';
import { startWorker } from '../../core/worker-start.js';
import { binFeatures } from './binning.js';
import { addBinnedTreeToRaw, gradientRows, type BinnedTree, type RowState } from './boost.js';
import { finishLeaves, type LeafParams } from './leaves.js';
import type { ObjectiveName } from './objectives.js';
import { chunkSeed, mergeStats, QUANTIZE_CHUNK, QUANTIZE_JOB, runQuantize, scaleFromStats, STATS, type GradientScale } from './quantize.js';
import { combineSlots, SLOTS_PER_PAGE, type HistJob, packJobs, runJobs, slotDoubles } from './histogram.js';
import { chunkStart, runPartitions, stitchChunks } from './partition.js';

/** Below about this many cell updates a job runs on the main thread alone. */
const SMALL_WORK = 200_000;
/** Below this many rows a per-row step (gradients, leaves, raw scores) runs on the main thread alone. */
const SMALL_ROWS = 50_000;

export class TrainingMemory {
  readonly bins: Uint8Array;
  /** The bins column-major (binsT[f * n + r]), for partitions; filled by binMatrix. */
  readonly binsT: Uint8Array;
  readonly rows: Uint32Array;
  readonly grad: Float32Array;
  readonly hess: Float32Array;
  /** Labels and raw scores (raw[i * outputs + k]), for the per-row steps on every thread. */
  readonly y: Float64Array;
  readonly raw: Float64Array;
  /** Quantized gradients and hessians packed one double per row (quantize.ts), for histograms. */
  readonly packed: Float64Array;
  /** How to read this iteration's packed sums back, per output k. */
  readonly scales: GradientScale[] = [];
  /** Room for partitioning: a node's rows use scratch[start..end) (shared). */
  readonly scratch: Uint32Array;
  readonly pages: Float64Array[] = [];
  readonly slotSize: number;
  private readonly free: number[] = [];
  private workers: Worker[] = [];
  private pending: { resolve: () => void; reject: (e: Error) => void; left: number; results: unknown[] } | undefined;
  private readonly rowState: RowState;
  private failure: Error | undefined;
  private closing = false;

  constructor(
    readonly n: number,
    readonly F: number,
    readonly outputs: number,
    readonly threads: number,
  ) {
    this.bins = new Uint8Array(new SharedArrayBuffer(n * F));
    this.binsT = new Uint8Array(new SharedArrayBuffer(n * F));
    this.packed = new Float64Array(new SharedArrayBuffer(n * outputs * 8));
    this.rows = new Uint32Array(new SharedArrayBuffer(n * 4));
    this.grad = new Float32Array(new SharedArrayBuffer(n * outputs * 4));
    this.hess = new Float32Array(new SharedArrayBuffer(n * outputs * 4));
    this.scratch = new Uint32Array(new SharedArrayBuffer(n * 4));
    this.y = new Float64Array(new SharedArrayBuffer(n * 8));
    this.raw = new Float64Array(new SharedArrayBuffer(n * outputs * 8));
    this.slotSize = slotDoubles(F);
    this.rowState = { n, K: outputs, y: this.y, raw: this.raw, grad: this.grad, hess: this.hess };
  }

  /** Starts threads - 1 workers (the main thread is the other one). */
  async start(): Promise<void> {
    const ready: Promise<void>[] = [];
    for (let t = 1; t < this.threads; t++) {
      const worker = startWorker(import.meta.url, 'worker');
      const index = this.workers.length;
      this.workers.push(worker);
      ready.push(
        new Promise<void>((resolve, reject) => {
          const onReady = (m: { type: string; message?: string }) => {
            if (m.type === 'ready') {
              worker.off('message', onReady);
              worker.on('message', (msg: { type: string; message?: string; result?: unknown }) => this.onMessage(index, msg));
              resolve();
            } else if (m.type === 'error') reject(new Error(m.message));
          };
          worker.on('message', onReady);
          worker.once('error', reject);
        }),
      );
      worker.on('error', (e) => this.fail(e));
      worker.on('exit', (code) => {
        if (!this.closing) this.fail(new Error(`gbdt worker stopped (exit code ${code})`));
      });
      worker.postMessage({
        type: 'init',
        bins: this.bins.buffer,
        binsT: this.binsT.buffer,
        packed: this.packed.buffer,
        n: this.n,
        F: this.F,
        rows: this.rows.buffer,
        scratch: this.scratch.buffer,
        grad: this.grad.buffer,
        hess: this.hess.buffer,
        y: this.y.buffer,
        raw: this.raw.buffer,
        outputs: this.outputs,
      });
    }
    await Promise.all(ready);
  }

  private onMessage(worker: number, m: { type: string; message?: string; result?: unknown }): void {
    if (m.type === 'error') return this.fail(new Error(`gbdt worker failed: ${m.message}`));
    if (m.type === 'done' && this.pending) this.pending.results[worker] = m.result;
    if (m.type === 'done' && this.pending && --this.pending.left === 0) {
      const p = this.pending;
      this.pending = undefined;
      p.resolve();
    }
  }

  private fail(e: Error): void {
    this.failure ??= e;
    const p = this.pending;
    this.pending = undefined;
    p?.reject(e);
  }

  /**
   * Posts messages[t - 1] to worker t (none where undefined), runs `own` on this thread meanwhile,
   * and returns its result and the workers' (results[t - 1], undefined where no message went).
   */
  private async spread<R>(messages: (object | undefined)[], own: () => R): Promise<{ own: R; results: unknown[] }> {
    if (this.failure) throw this.failure;
    let used = 0;
    for (const m of messages) if (m) used++;
    let results: unknown[] = [];
    let done: Promise<void> | undefined;
    if (used > 0) {
      done = new Promise<void>((resolve, reject) => {
        this.pending = { resolve, reject, left: used, results: [] };
        results = this.pending.results;
      });
      messages.forEach((m, t) => m && this.workers[t]!.postMessage(m));
    }
    const mine = own();
    if (done) await done;
    return { own: mine, results };
  }

  /** Cuts rows [0, n) into one range per thread that takes part (one when there are few rows). */
  private rowRanges(n: number): number[] {
    const T = n < SMALL_ROWS ? 1 : this.threads;
    return Array.from({ length: T + 1 }, (_, t) => Math.floor((t * n) / T));
  }

  /**
   * Gradients and hessians of every row from the raw scores (row ranges over the threads); returns
   * their statistics per output (quantize.ts), merged (max and min: the same for any split), and
   * the loss summed over every row at the raw scores the gradients were taken at.
   */
  async gradients(objective: ObjectiveName): Promise<{ stats: Float64Array; lossSum: number }> {
    const cut = this.rowRanges(this.n);
    const messages = cut.slice(2).map((end, t) => ({ type: 'gradients', objective, start: cut[t + 1]!, end }));
    const { own, results } = await this.spread(messages, () => gradientRows(this.rowState, objective, 0, cut[1]!));
    const stats = own.subarray(0, own.length - 1);
    let lossSum = own[own.length - 1]!;
    for (const r of results as Float64Array[]) {
      mergeStats(stats, r.subarray(0, r.length - 1));
      lossSum += r[r.length - 1]!;
    }
    return { stats, lossSum };
  }

  /** Adds the trees' outputs to the raw scores of every training row (row ranges over the threads). */
  async addTrees(trees: BinnedTree[]): Promise<void> {
    const cut = this.rowRanges(this.n);
    const apply = (start: number, end: number) => {
      for (const tree of trees) addBinnedTreeToRaw(tree, this.bins, this.F, start, end, this.raw, this.outputs);
    };
    await this.spread(
      cut.slice(2).map((end, t) => ({ type: 'trees', trees, start: cut[t + 1]!, end })),
      () => apply(0, cut[1]!),
    );
  }

  /**
   * Exact gradient sums of leaves (ranges packs start, end in rows[]) for output k, whole leaves
   * spread over the threads (each summed in row order by one thread: the same for any count);
   * with `addToRaw`, each leaf's value is added to its rows' raw scores too. Returns G, H per leaf.
   */
  async finishLeaves(ranges: Int32Array, k: number, p: LeafParams, addToRaw: boolean): Promise<Float64Array> {
    const m = ranges.length / 2;
    let total = 0;
    for (let j = 0; j < m; j++) total += ranges[2 * j + 1]! - ranges[2 * j]!;
    const T = total < SMALL_ROWS ? 1 : this.threads;
    const mine: number[][] = Array.from({ length: T }, () => []);
    const load = new Float64Array(T);
    const order = Array.from({ length: m }, (_, j) => j).sort((a, b) => ranges[2 * b + 1]! - ranges[2 * b]! - (ranges[2 * a + 1]! - ranges[2 * a]!) || a - b);
    for (const j of order) {
      let t = 0;
      for (let u = 1; u < T; u++) if (load[u]! < load[t]!) t = u;
      load[t] += ranges[2 * j + 1]! - ranges[2 * j]!;
      mine[t]!.push(j);
    }
    const leafP = { reg_lambda: p.reg_lambda, reg_alpha: p.reg_alpha, learning_rate: p.learning_rate };
    const job = (t: number) => Int32Array.from(mine[t]!.flatMap((j) => [ranges[2 * j]!, ranges[2 * j + 1]!]));
    const run = () => finishLeaves(this.rows, this.grad, this.hess, k * this.n, job(0), leafP, addToRaw ? this.raw : undefined, this.outputs, k);
    const messages = mine.slice(1).map((_, t) => ({ type: 'leaves', ranges: job(t + 1), k, p: leafP, addToRaw }));
    const { own, results } = await this.spread(messages, run);
    const sums = new Float64Array(ranges.length);
    for (let t = 0; t < T; t++) {
      const got = t === 0 ? own : (results[t - 1] as Float64Array);
      mine[t]!.forEach((j, i) => {
        sums[2 * j] = got[2 * i]!;
        sums[2 * j + 1] = got[2 * i + 1]!;
      });
    }
    return sums;
  }

  /** A free histogram slot (grows the pages as needed). */
  allocSlot(): number {
    const slot = this.free.pop();
    if (slot !== undefined) return slot;
    const index = this.pages.length;
    const buffer = new SharedArrayBuffer(SLOTS_PER_PAGE * this.slotSize * 8);
    this.pages.push(new Float64Array(buffer));
    for (const w of this.workers) w.postMessage({ type: 'page', index, buffer });
    for (let s = SLOTS_PER_PAGE - 1; s >= 1; s--) this.free.push(index * SLOTS_PER_PAGE + s);
    return index * SLOTS_PER_PAGE;
  }

  releaseSlot(slot: number): void {
    this.free.push(slot);
  }

  /** The page array and offset of a slot. */
  slot(slot: number): { hist: Float64Array; base: number } {
    return { hist: this.pages[(slot / SLOTS_PER_PAGE) | 0]!, base: (slot % SLOTS_PER_PAGE) * this.slotSize };
  }

  /**
   * Quantizes and packs grad and hess for every output, given their statistics (gradients()):
   * the scales here, then the rows in chunks with seeds of their own, shared between the threads,
   * so the packed values do not depend on the thread count.
   */
  async quantize(seed: number, stats: Float64Array): Promise<void> {
    const { n, outputs } = this;
    const chunks: number[] = [];
    for (let k = 0; k < outputs; k++) {
      const scale = scaleFromStats(stats, k * STATS, n);
      this.scales[k] = scale;
      for (let c = 0, a = 0; a < n; c++, a += QUANTIZE_CHUNK) {
        chunks.push(k * n + a, k * n + Math.min(n, a + QUANTIZE_CHUNK), chunkSeed(seed + k, c), scale.g, scale.h, scale.P, scale.constantHessian ? 1 : 0);
      }
    }
    const m = chunks.length / QUANTIZE_JOB;
    const T = Math.min(this.threads, m);
    const cut = (t: number) => Math.round((t * m) / T) * QUANTIZE_JOB;
    const messages = Array.from({ length: T - 1 }, (_, t) => ({ type: 'quantize', jobs: Float64Array.from(chunks.slice(cut(t + 1), cut(t + 2))) }));
    await this.spread(messages, () => runQuantize(this.grad, this.hess, this.packed, Float64Array.from(chunks.slice(0, cut(1)))));
  }

  /** Fills binsT from bins (column-major copy), in blocks of rows for the caches. */
  private transpose(): void {
    const { bins, binsT, n, F } = this;
    const B = 4096;
    for (let r0 = 0; r0 < n; r0 += B) {
      const r1 = Math.min(n, r0 + B);
      for (let f = 0; f < F; f++) {
        const o = f * n;
        for (let r = r0; r < r1; r++) binsT[o + r] = bins[r * F + f]!;
      }
    }
  }

  /**
   * Builds the jobs' histograms for `features`, split between the threads by rows: a large job
   * is cut into one row range per thread (the others' ranges go to spare slots, added in after),
   * smaller jobs go whole to the least loaded thread. Each thread reads whole rows of the bins,
   * so no cache line is fetched by both. Sums are exact integers (quantize.ts), so the result is
   * the same for any split.
   */
  async build(jobs: HistJob[], features: Int32Array): Promise<void> {
    if (jobs.length === 0) return;
    if (this.failure) throw this.failure;
    const F = features.length;
    let cells = 0;
    for (const j of jobs) cells += (j.end - j.start) * F;
    // Small builds stay on this thread: a message round trip costs more than the work.
    const T = cells < SMALL_WORK ? 1 : this.threads;
    if (T <= 1) {
      runJobs(this.bins, this.F, this.rows, this.packed, this.pages, packJobs(jobs), features, 0, F);
      return;
    }
    const mine: HistJob[][] = Array.from({ length: T }, () => []);
    const load = new Float64Array(T);
    const spare: { target: number; slot: number }[] = [];
    const bySize = [...jobs].sort((a, b) => b.end - b.start - (a.end - a.start));
    for (const job of bySize) {
      const len = job.end - job.start;
      if (len * F * 2 >= cells / T && len >= 4096 * T) {
        for (let t = 0; t < T; t++) {
          const a = job.start + Math.floor((t * len) / T);
          const b = job.start + Math.floor(((t + 1) * len) / T);
          let slot = job.slot;
          if (t > 0) {
            slot = this.allocSlot();
            spare.push({ target: job.slot, slot });
          }
          mine[t]!.push({ start: a, end: b, slot, gradOffset: job.gradOffset });
          load[t] += b - a;
        }
      } else {
        let t = 0;
        for (let u = 1; u < T; u++) if (load[u]! < load[t]!) t = u;
        mine[t]!.push(job);
        load[t] += len;
      }
    }
    const messages = mine.slice(1).map((jobs) => (jobs.length > 0 ? { type: 'build', jobs: packJobs(jobs), features, f0: 0, f1: F } : undefined));
    await this.spread(messages, () => runJobs(this.bins, this.F, this.rows, this.packed, this.pages, packJobs(mine[0]!), features, 0, F));
    for (const { target, slot } of spare) {
      const a = this.slot(target);
      const b = this.slot(slot);
      combineSlots(a.hist, a.base, b.hist, b.base, features, 1);
      this.releaseSlot(slot);
    }
  }

  /**
   * Partitions several nodes' rows (see partitionRows). Large nodes are cut into one chunk per
   * thread (each chunk stable-partitioned by one thread, then the pieces are put in place here);
   * small nodes go whole to the least loaded thread. A stable partition is unique, so the result
   * does not depend on the thread count. `jobs` packs (start, end, feature, bin, defaultLeft) per
   * node; returns left counts.
   */
  async partition(jobs: Int32Array): Promise<Int32Array> {
    if (this.failure) throw this.failure;
    const m = jobs.length / 5;
    let total = 0;
    for (let j = 0; j < jobs.length; j += 5) total += jobs[j + 1]! - jobs[j]!;
    const T = total * 16 < SMALL_WORK ? 1 : this.threads;
    const counts = new Int32Array(m);
    const whole = (i: number, out: number[]) => out.push(jobs[i * 5]!, jobs[i * 5 + 1]!, jobs[i * 5 + 2]!, jobs[i * 5 + 3]!, jobs[i * 5 + 4]!, 0);
    if (T <= 1) {
      const all: number[] = [];
      for (let i = 0; i < m; i++) whole(i, all);
      return runPartitions(this.binsT, this.n, this.rows, this.scratch, Int32Array.from(all));
    }
    const CHUNK_MIN = 32_768;
    const mine: number[][] = Array.from({ length: T }, () => []);
    /** Per thread, which node (and chunk) each of its jobs belongs to: node * T + chunk, chunk -1 for whole. */
    const owner: number[][] = Array.from({ length: T }, () => []);
    const load = new Float64Array(T);
    const chunked: number[] = [];
    const small: number[] = [];
    for (let i = 0; i < m; i++) (jobs[i * 5 + 1]! - jobs[i * 5]! >= CHUNK_MIN * T ? chunked : small).push(i);
    for (const i of chunked) {
      const s = jobs[i * 5]!;
      const e = jobs[i * 5 + 1]!;
      for (let t = 0; t < T; t++) {
        const a = chunkStart(s, e, t, T);
        const b = chunkStart(s, e, t + 1, T);
        // The last chunk places its own rights (see stitchChunks).
        mine[t]!.push(a, b, jobs[i * 5 + 2]!, jobs[i * 5 + 3]!, jobs[i * 5 + 4]!, t < T - 1 ? 1 : 0);
        owner[t]!.push(i, t);
        load[t] += b - a;
      }
    }
    // Largest small nodes first, each to the least loaded thread.
    small.sort((a, b) => jobs[b * 5 + 1]! - jobs[b * 5]! - (jobs[a * 5 + 1]! - jobs[a * 5]!) || a - b);
    for (const i of small) {
      let t = 0;
      for (let u = 1; u < T; u++) if (load[u]! < load[t]!) t = u;
      load[t] += jobs[i * 5 + 1]! - jobs[i * 5]!;
      whole(i, mine[t]!);
      owner[t]!.push(i, -1);
    }
    const messages = mine.slice(1).map((jobs) => (jobs.length > 0 ? { type: 'partition', jobs: Int32Array.from(jobs) } : undefined));
    const { own, results } = await this.spread(messages, () => runPartitions(this.binsT, this.n, this.rows, this.scratch, Int32Array.from(mine[0]!)));
    const chunkLeft = new Int32Array(m * T);
    for (let t = 0; t < T; t++) {
      const got = t === 0 ? own : (results[t - 1] as Int32Array | undefined);
      const ids = owner[t]!;
      for (let k = 0; k < ids.length / 2; k++) {
        const i = ids[2 * k]!;
        const c = ids[2 * k + 1]!;
        if (c < 0) counts[i] = got![k]!;
        else chunkLeft[i * T + c] = got![k]!;
      }
    }
    for (const i of chunked) counts[i] = stitchChunks(this.rows, this.scratch, jobs[i * 5]!, jobs[i * 5 + 1]!, chunkLeft.subarray(i * T, (i + 1) * T));
    return counts;
  }

  /**
   * Bin bounds of every column (from the sample rows, or all) and the binned matrix in `bins`,
   * columns spread over the threads (each column is done whole by one thread). The matrix is
   * copied into shared memory for the workers, then dropped.
   */
  async binMatrix(data: Float32Array | Float64Array, maxBins: number, sample: Uint32Array | undefined): Promise<Float64Array[]> {
    if (this.failure) throw this.failure;
    const T = Math.min(this.threads, this.F);
    const cut = (t: number) => Math.round((t * this.F) / T);
    if (T <= 1) {
      const bounds = binFeatures(data, this.n, this.F, maxBins, sample, this.bins, 0, this.F);
      this.transpose();
      return bounds;
    }
    const length = this.n * this.F;
    const shared =
      data.buffer instanceof SharedArrayBuffer
        ? data.subarray(0, length)
        : data instanceof Float32Array
          ? new Float32Array(new SharedArrayBuffer(length * 4))
          : new Float64Array(new SharedArrayBuffer(length * 8));
    if (shared.buffer !== data.buffer) shared.set(data.subarray(0, length));
    const messages = Array.from({ length: T - 1 }, (_, t) => ({ type: 'bin', data: shared, rows: this.n, maxBins, sample, f0: cut(t + 1), f1: cut(t + 2) }));
    const { own: bounds, results } = await this.spread(messages, () => binFeatures(shared, this.n, this.F, maxBins, sample, this.bins, 0, cut(1)));
    for (const r of results) bounds.push(...(r as Float64Array[]));
    this.transpose();
    return bounds;
  }

  async close(): Promise<void> {
    this.closing = true;
    const workers = this.workers;
    this.workers = [];
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
