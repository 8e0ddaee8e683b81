/**
 * Data-parallel training of plain dense nets on two threads: each batch is cut in two, this
 * thread and a worker (its own TF.js wasm instance) compute the gradients of their halves at once,
 * in shared memory, and this thread adds them and takes the Adam step (FastDenseTrainer). The sum
 * is the batch's gradient, so the result is the one-thread result up to float rounding, and the
 * same for the same seed every run. The threads meet on Atomics (no message per batch).
 */
import type * as TF from '@tensorflow/tfjs';
import type { Worker } from 'node:worker_threads';
import { startWorker } from '../../core/worker-start.js';
import { denseGradients, FastDenseTrainer, sharedFloats, type DenseGradient, type FastTrainOptions } from './fast-train.js';

/** Slots of the control array shared with the worker. */
export const CONTROL = { seq: 0, done: 1, count: 2, total: 3, failed: 4, command: 5, run: 1, exit: 2, size: 6 } as const;

/** Batches smaller than this are not worth splitting (a wake-up costs tens of microseconds). */
const MIN_SPLIT_ROWS = 256;

interface SharedLayer {
  inputs: number;
  units: number;
  relu: boolean;
  kernel: SharedArrayBuffer;
  bias: SharedArrayBuffer;
  kernelT: SharedArrayBuffer;
}

export interface GradientWorkerData {
  control: SharedArrayBuffer;
  loss: SharedArrayBuffer;
  xs: SharedArrayBuffer;
  ys: SharedArrayBuffer;
  layers: SharedLayer[];
  grads: { kernel: SharedArrayBuffer; bias: SharedArrayBuffer }[];
  elementwise: 'js' | 'tf';
}

const buffer = (a: Float32Array) => a.buffer as SharedArrayBuffer;

export class ParallelDenseTrainer {
  private readonly control = new Int32Array(new SharedArrayBuffer(CONTROL.size * 4));
  private readonly loss = new Float64Array(new SharedArrayBuffer(8));
  private readonly xs: Float32Array;
  private readonly ys: Float32Array;
  private readonly own: DenseGradient[];
  private readonly theirs: DenseGradient[];
  private worker: Worker | undefined;
  private seq = 0;
  private workerError: string | undefined;

  private constructor(
    private readonly tf: typeof TF,
    readonly fast: FastDenseTrainer,
    maxBatch: number,
  ) {
    this.xs = sharedFloats(maxBatch * fast.inputs);
    this.ys = sharedFloats(maxBatch * fast.outputs);
    this.own = fast.newGradients();
    this.theirs = fast.newGradients();
  }

  /** A trainer whose second thread is started and ready. */
  static async create(tf: typeof TF, network: TF.LayersModel, options: FastTrainOptions, maxBatch: number): Promise<ParallelDenseTrainer> {
    const trainer = new ParallelDenseTrainer(tf, new FastDenseTrainer(tf, network, options), maxBatch);
    await trainer.start();
    return trainer;
  }

  private async start(): Promise<void> {
    const data: GradientWorkerData = {
      control: this.control.buffer as SharedArrayBuffer,
      loss: this.loss.buffer as SharedArrayBuffer,
      xs: buffer(this.xs),
      ys: buffer(this.ys),
      layers: this.fast.weights.map((l) => ({ inputs: l.inputs, units: l.units, relu: l.relu, kernel: buffer(l.kernel), bias: buffer(l.bias), kernelT: buffer(l.kernelT) })),
      grads: this.theirs.map((g) => ({ kernel: buffer(g.kernel), bias: buffer(g.bias) })),
      elementwise: this.fast.elementwise,
    };
    const worker = startWorker(import.meta.url, 'gradient-worker', data);
    this.worker = worker;
    worker.on('message', (m: { type: string; message?: string }) => {
      if (m.type === 'error') this.workerError = m.message;
    });
    await new Promise<void>((resolve, reject) => {
      worker.on('message', (m: { type: string }) => m.type === 'ready' && resolve());
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`dnn gradient worker stopped (exit code ${code})`)));
    });
  }

  set learningRate(rate: number) {
    this.fast.learningRate = rate;
  }

  /** One Adam step on a batch, as FastDenseTrainer.step, with the gradients computed on two threads. */
  step(xs: Float32Array, ys: Float32Array, size: number): number {
    const fast = this.fast;
    if (size < MIN_SPLIT_ROWS || !this.worker) return fast.step(xs, ys, size);
    const inputs = fast.inputs;
    const outputs = fast.outputs;
    const half = Math.ceil(size / 2);
    const rest = size - half;
    this.xs.set(xs.subarray(half * inputs, size * inputs));
    this.ys.set(ys.subarray(half * outputs, size * outputs));
    const c = this.control;
    c[CONTROL.count] = rest;
    c[CONTROL.total] = size;
    c[CONTROL.command] = CONTROL.run;
    const seq = ++this.seq;
    Atomics.store(c, CONTROL.seq, seq);
    Atomics.notify(c, CONTROL.seq);
    const mine = denseGradients(this.tf, fast.weights, xs, ys, half, size, fast.elementwise, this.own);
    // Node lets the main thread block on Atomics.wait; the worker's half takes about as long as ours.
    for (let waited = 0; Atomics.load(c, CONTROL.done) !== seq; waited++) {
      if (waited === 6) throw new Error('dnn gradient worker did not answer in 60 s');
      Atomics.wait(c, CONTROL.done, seq - 1, 10_000);
    }
    if (c[CONTROL.failed]) throw new Error(`dnn gradient worker failed${this.workerError ? `: ${this.workerError}` : ''}`);
    this.own.forEach((g, l) => {
      const other = this.theirs[l]!;
      for (let i = 0; i < g.kernel.length; i++) g.kernel[i]! += other.kernel[i]!;
      for (let i = 0; i < g.bias.length; i++) g.bias[i]! += other.bias[i]!;
    });
    fast.apply(this.own);
    return (mine + this.loss[0]!) / (size * outputs);
  }

  syncToNetwork(): void {
    this.fast.syncToNetwork();
  }

  syncFromNetwork(): void {
    this.fast.syncFromNetwork();
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    if (!worker) return;
    this.control[CONTROL.command] = CONTROL.exit;
    Atomics.store(this.control, CONTROL.seq, ++this.seq);
    Atomics.notify(this.control, CONTROL.seq);
    await worker.terminate();
  }
}
