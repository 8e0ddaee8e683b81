/**
 * The dense fast path on our own wasm SIMD kernel (wasm/dense-train.ts): plain dense nets (relu
 * or linear hidden layers; a linear output with MSE, or a sigmoid or softmax output with
 * cross-entropy; Adam), the cases fastPathUnsupported accepts. Weights, Adam moments, activations and gradients live in one WebAssembly.Memory; a step
 * is one call into wasm (or, on two threads, one call on each thread plus the update), with no
 * TF.js kernel and no per-op round trip.
 *
 * Each batch is always cut into the same two halves ("lanes", see firstLaneRows); the kernel
 * computes each half's gradient, adds lane 0's and lane 1's in that order and takes one Adam step.
 * On two threads a worker computes lane 1 on the same shared memory while this thread computes
 * lane 0. The arithmetic is the same either way, so one and two threads give bit-identical
 * weights, and the same seed gives the same model every run.
 *
 * The layers model is only touched by syncToNetwork (setWeights): model.json/weights.bin stay the
 * layers format.
 */
import type * as TF from '@tensorflow/tfjs';
import type { Worker } from 'node:worker_threads';
import { denseHead, readDenseLayers, writeDenseLayers, type FastTrainOptions } from './fast-train.js';
import { CONTROL, denseKernelModule, instantiateDenseKernel, kernelMemory, releaseKernelMemory, type DenseKernel } from './wasm-kernel.js';
import { firstLaneRows, HEAD, kernelLayout, LANE, NET, pad4, writeTables, writeWeights, type KernelLayout, type LaneLayout } from './wasm-layout.js';
import { startKernelWorker, type KernelWorkerData } from './wasm-worker.js';

export interface WasmTrainOptions extends Omit<FastTrainOptions, 'elementwise'> {
  /** 1 or 2: two runs lane 1 on a worker thread (same result). */
  threads: number;
  /** The largest batch step() will get. */
  maxBatch: number;
  /**
   * The training set (inputs [rows, inputs], scaled labels [rows, outputs]), copied once into the
   * kernel's memory so that each thread gathers its half of a batch itself (stepRows with these
   * same arrays and an order). Not copied above DATA_IN_KERNEL_MAX_BYTES: rows are then gathered
   * in JavaScript. The arrays must not change while the trainer lives.
   */
  data?: { x: Float32Array; y: Float32Array };
  /**
   * Room for `data` is laid out but the copy waits for copyData(): until then rows are gathered
   * in JavaScript (same result). Writing memory the first time is slow here (page faults: about
   * 5 ms per MB), which one epoch does not repay; the family copies from the second epoch.
   */
  deferCopy?: boolean;
}

/** The largest training set copied into the kernel's memory (wasm32 memory ends at 4 GiB). */
export const DATA_IN_KERNEL_MAX_BYTES = 1 << 30;

/**
 * A batch as rows of a data set: `x` row-major [*, inputs], `y` [*, outputs] (scaled labels);
 * the batch is rows order[start..start + size) or, without an order, start..start + size.
 */
export interface BatchRows {
  x: Float32Array;
  y: Float32Array;
  order?: Uint32Array;
  start: number;
  size: number;
}

export class WasmDenseTrainer {
  private readonly memory: WebAssembly.Memory;
  private readonly kernel: DenseKernel;
  private readonly layout: KernelLayout;
  private readonly f32: Float32Array;
  private readonly i32: Int32Array;
  private readonly f64: Float64Array;
  private readonly u32: Uint32Array;
  /** The training set the memory has room for, and whether it has been copied there. */
  private readonly source: { x: Float32Array; y: Float32Array } | undefined;
  private sourceCopied = false;
  private readonly control = new Int32Array(new SharedArrayBuffer(CONTROL.size * 4));
  private worker: Worker | undefined;
  private workerError: string | undefined;
  private seq = 0;
  private closed = false;
  private rate: number;
  /** Units of the last layer. */
  readonly outputs: number;
  /** The output activation, whose loss the kernel takes: mean squared error (linear) or cross-entropy. */
  private readonly crossEntropy: boolean;
  private readonly maxBatch: number;

  private constructor(
    private readonly tf: typeof TF,
    private readonly network: TF.LayersModel,
    options: WasmTrainOptions,
  ) {
    const layers = readDenseLayers(network);
    const data = options.data;
    this.source = data && data.x.length * 4 <= DATA_IN_KERNEL_MAX_BYTES ? data : undefined;
    this.outputs = layers[layers.length - 1]!.units;
    const head = denseHead(network);
    this.crossEntropy = head !== 'linear';
    this.layout = kernelLayout(layers, options.maxBatch, this.source ? this.source.y.length / this.outputs : 0);
    this.maxBatch = options.maxBatch;
    // A worker's instance uses the same memory.
    // The training set's region is written whole by copyData (not zeroed: writing untouched memory is slow here).
    this.memory = kernelMemory(this.layout.bytes, this.layout.data || this.layout.bytes);
    const buffer = this.memory.buffer;
    this.f32 = new Float32Array(buffer);
    this.i32 = new Int32Array(buffer);
    this.f64 = new Float64Array(buffer);
    this.u32 = new Uint32Array(buffer);
    writeTables(buffer, this.layout);
    this.i32[(this.layout.net + NET.head) >> 2] = HEAD[head];
    if (!options.deferCopy) this.copyData();
    const net = this.layout.net;
    const beta1 = options.beta1 ?? 0.9;
    const beta2 = options.beta2 ?? 0.999;
    this.f32[(net + NET.beta1) >> 2] = beta1;
    this.f32[(net + NET.beta2) >> 2] = beta2;
    // tf.train.adam multiplies by 1 - beta as a float32 scalar, and starts beta^t at beta.
    this.f32[(net + NET.omb1) >> 2] = 1 - beta1;
    this.f32[(net + NET.omb2) >> 2] = 1 - beta2;
    this.f32[(net + NET.acc1) >> 2] = beta1;
    this.f32[(net + NET.acc2) >> 2] = beta2;
    this.f32[(net + NET.eps) >> 2] = options.epsilon ?? tf.backend().epsilon();
    this.rate = options.learningRate;
    this.f32[(net + NET.lr) >> 2] = options.learningRate;
    this.kernel = instantiateDenseKernel(denseKernelModule(), this.memory);
    this.loadWeights(layers);
  }

  /** A trainer with its memory laid out, the network's weights loaded and, for two threads, its worker ready. */
  static async create(tf: typeof TF, network: TF.LayersModel, options: WasmTrainOptions): Promise<WasmDenseTrainer> {
    const trainer = new WasmDenseTrainer(tf, network, options);
    if (options.threads > 1) await trainer.start();
    return trainer;
  }

  private async start(): Promise<void> {
    const data: KernelWorkerData = {
      module: denseKernelModule(),
      memory: this.memory,
      control: this.control.buffer as SharedArrayBuffer,
      net: this.layout.net,
      lane: this.layout.lanes[1].table,
    };
    const worker = startKernelWorker(data);
    this.worker = worker;
    worker.on('message', (m: { type: string; message?: string }) => {
      if (m.type === 'error') this.workerError = m.message;
    });
    await new Promise<void>((resolve, reject) => {
      worker.on('message', (m: { type: string }) => m.type === 'ready' && resolve());
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`dnn kernel worker stopped (exit code ${code})`)));
    });
  }

  get learningRate(): number {
    return this.rate;
  }

  set learningRate(rate: number) {
    this.rate = rate;
    this.f32[(this.layout.net + NET.lr) >> 2] = rate;
  }

  get threads(): number {
    return this.worker ? 2 : 1;
  }

  /**
   * One Adam step on a batch: `xs` row-major [size, inputs], `ys` [size, outputs] (regression:
   * scaled labels; binary: 0 or 1; multiclass: one-hot). Returns the batch's loss before the step
   * (mean squared error or cross-entropy, what trainOnBatch returns).
   */
  step(xs: Float32Array, ys: Float32Array, size: number): number {
    return this.stepRows({ x: xs, y: ys, start: 0, size });
  }

  /**
   * One Adam step on the batch's rows, gathered straight into the kernel's memory. On two threads
   * the worker's half is gathered first and the worker started, then this thread gathers its own
   * half while the worker computes.
   */
  stepRows(batch: BatchRows): number {
    const { layout, kernel } = this;
    this.checkSize(batch.size);
    const first = firstLaneRows(batch.size);
    const scale = this.lossScale(batch.size);
    let squared: number;
    if (!this.worker) {
      this.fillLane(layout.lanes[0], batch, 0, first, scale);
      this.fillLane(layout.lanes[1], batch, first, batch.size - first, scale);
      squared = kernel.step(layout.net);
    } else {
      this.fillLane(layout.lanes[1], batch, first, batch.size - first, scale);
      const c = this.control;
      c[CONTROL.command] = CONTROL.run;
      const seq = ++this.seq;
      Atomics.store(c, CONTROL.seq, seq);
      Atomics.notify(c, CONTROL.seq);
      this.fillLane(layout.lanes[0], batch, 0, first, scale);
      const mine = kernel.gradient(layout.net, layout.lanes[0].table);
      if (Atomics.compareExchange(c, CONTROL.claim, seq - 1, seq) === seq - 1) {
        // The worker has not started lane 1 (descheduled on a busy machine): compute it here, the same arithmetic.
        kernel.gradient(layout.net, layout.lanes[1].table);
      } else {
        // Node lets the main thread block on Atomics.wait; the worker's half takes about as long as ours.
        // (done may lag by more than a step: the worker skips the steps this thread claimed.)
        for (let timeouts = 0; ; ) {
          const done = Atomics.load(c, CONTROL.done);
          if (done === seq) break;
          if (Atomics.wait(c, CONTROL.done, done, 10_000) === 'timed-out' && ++timeouts === 6) throw new Error('dnn kernel worker did not answer in 60 s');
        }
        if (c[CONTROL.failed]) throw new Error(`dnn kernel worker failed${this.workerError ? `: ${this.workerError}` : ''}`);
      }
      kernel.update(layout.net);
      squared = mine + this.f64[(layout.lanes[1].table + LANE.squared) >> 3]!;
    }
    return this.meanLoss(squared, batch.size);
  }

  /** d(loss)/d(output) per unit of error: the mean over rows and outputs (MSE) or over rows (cross-entropy). */
  private lossScale(size: number): number {
    return this.crossEntropy ? 1 / size : 2 / (size * this.outputs);
  }

  /** The batch's loss (what trainOnBatch returns) from the lanes' summed loss. */
  private meanLoss(summed: number, size: number): number {
    return this.crossEntropy ? summed / size : summed / (size * this.outputs);
  }

  /**
   * The batch's gradient without a step (the two lanes' sum, as update() adds them), unpadded per
   * layer, and its mean squared error: what step() would apply, for checking the kernel.
   */
  gradients(xs: Float32Array, ys: Float32Array, size: number): { loss: number; layers: { kernel: Float32Array; bias: Float32Array }[] } {
    const { layout, kernel, f32 } = this;
    this.checkSize(size);
    const batch = { x: xs, y: ys, start: 0, size };
    const first = firstLaneRows(size);
    this.fillLane(layout.lanes[0], batch, 0, first, this.lossScale(size));
    this.fillLane(layout.lanes[1], batch, first, size - first, this.lossScale(size));
    const squared = kernel.gradient(layout.net, layout.lanes[0].table) + kernel.gradient(layout.net, layout.lanes[1].table);
    const [g0, g1] = layout.lanes.map((lane) => lane.grad >> 2) as [number, number];
    const sum = (offset: number, i: number) => Math.fround(f32[g0 + (offset >> 2) + i]! + f32[g1 + (offset >> 2) + i]!);
    const layers = layout.layers.map((l) => {
      const kernelGrad = new Float32Array(l.inputs * l.units);
      for (let r = 0; r < l.inputs; r++) for (let c = 0; c < l.units; c++) kernelGrad[r * l.units + c] = sum(l.wOffset, r * l.n + c);
      return { kernel: kernelGrad, bias: Float32Array.from({ length: l.units }, (_v, c) => sum(l.bOffset, c)) };
    });
    return { loss: this.meanLoss(squared, size), layers };
  }

  /** The lanes hold half of maxBatch rows each: a larger batch would write past them. */
  private checkSize(size: number): void {
    if (size > this.maxBatch) throw new Error(`dnn kernel: a batch of ${size} rows, laid out for ${this.maxBatch}`);
  }

  /**
   * Copies the training set (options.data) into the kernel's memory, inputs padded to whole f32x4
   * rows; from then on each thread gathers its rows there. Once; nothing without room for it.
   */
  copyData(): void {
    const data = this.source;
    if (!data || this.sourceCopied) return;
    const { inputs, k } = this.layout.layers[0]!;
    const at = this.layout.data >> 2;
    const rows = data.y.length / this.outputs;
    if (k === inputs) this.f32.set(data.x.subarray(0, rows * inputs), at);
    else {
      this.f32.fill(0, at, at + rows * k);
      for (let r = 0; r < rows; r++) this.f32.set(data.x.subarray(r * inputs, (r + 1) * inputs), at + r * k);
    }
    this.f32.set(data.y, this.layout.labels >> 2);
    this.sourceCopied = true;
  }

  /**
   * Puts the batch's rows `from`..`from + count` into a lane, padded to whole f32x4 rows (zeros):
   * their row numbers, for the kernel to gather, when the training set is in its memory; else the
   * rows themselves.
   */
  private fillLane(lane: LaneLayout, batch: BatchRows, from: number, count: number, scale: number): void {
    const rows = pad4(count);
    const { inputs, k } = this.layout.layers[0]!;
    const outputs = this.outputs;
    const { f32 } = this;
    this.i32[(lane.table + LANE.rows) >> 2] = rows;
    this.i32[(lane.table + LANE.count) >> 2] = count;
    this.f64[(lane.table + LANE.scale) >> 3] = scale;
    const inKernel = this.sourceCopied && batch.order !== undefined && batch.x === this.source?.x && batch.y === this.source.y;
    this.i32[(lane.table + LANE.data) >> 2] = inKernel ? this.layout.data : 0;
    if (inKernel) {
      this.u32.set(batch.order!.subarray(batch.start + from, batch.start + from + count), lane.order >> 2);
      return;
    }
    const x = lane.acts[0]! >> 2;
    const y = lane.y >> 2;
    const { order, start, x: bx, y: by } = batch;
    if (!order && k === inputs) {
      f32.set(bx.subarray((start + from) * inputs, (start + from + count) * inputs), x);
      f32.set(by.subarray((start + from) * outputs, (start + from + count) * outputs), y);
    } else {
      // Plain loops: a subarray per row costs more than the copy.
      for (let i = 0; i < count; i++) {
        const r = order ? order[start + from + i]! : start + from + i;
        const src = r * inputs;
        const dst = x + i * k;
        for (let c = 0; c < inputs; c++) f32[dst + c] = bx[src + c]!;
        for (let o = 0; o < outputs; o++) f32[y + i * outputs + o] = by[r * outputs + o]!;
      }
    }
    f32.fill(0, x + count * k, x + rows * k);
  }

  /** Writes weights into the kernel's parameter block (padding stays zero) and refreshes the transposes. */
  private loadWeights(layers: { kernel: Float32Array; bias: Float32Array }[]): void {
    writeWeights(this.f32, this.layout, layers);
    this.kernel.transposeKernels(this.layout.net);
  }

  /** The current weights, unpadded (kernel [inputs, units] row-major, bias [units]), per layer. */
  weights(): { inputs: number; units: number; kernel: Float32Array; bias: Float32Array }[] {
    const { f32, layout } = this;
    return layout.layers.map((l) => {
      const w = (layout.w + l.wOffset) >> 2;
      const kernel = new Float32Array(l.inputs * l.units);
      for (let r = 0; r < l.inputs; r++) kernel.set(f32.subarray(w + r * l.n, w + r * l.n + l.units), r * l.units);
      const b = (layout.w + l.bOffset) >> 2;
      return { inputs: l.inputs, units: l.units, kernel, bias: f32.slice(b, b + l.units) };
    });
  }

  /** Writes the trained weights into the layers model (for predict, save, early stopping). */
  syncToNetwork(): void {
    writeDenseLayers(this.tf, this.network, this.weights());
  }

  /** Reloads the weights from the layers model (after a warm start or a restore); Adam's state is kept. */
  syncFromNetwork(): void {
    this.loadWeights(readDenseLayers(this.network));
  }

  /** Stops the worker thread, if any, and gives the memory back for another trainer: nothing may be called after. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const worker = this.worker;
    this.worker = undefined;
    if (worker) {
      this.control[CONTROL.command] = CONTROL.exit;
      Atomics.store(this.control, CONTROL.seq, ++this.seq);
      Atomics.notify(this.control, CONTROL.seq);
      await worker.terminate();
    }
    releaseKernelMemory(this.memory);
  }
}
