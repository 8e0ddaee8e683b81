/**
 * The second thread of ParallelDenseTrainer: computes the gradients of its share of each batch on
 * its own TF.js wasm instance, in shared memory, and waits on Atomics between batches (no
 * messages per step). Started by parallel-train.ts (gradient-worker.js once built).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { tensorflow } from '../tf.js';
import { denseGradients, type DenseGradient, type DenseWeights, type Elementwise } from './fast-train.js';
import { CONTROL, type GradientWorkerData } from './parallel-train.js';

const data = workerData as GradientWorkerData;
const control = new Int32Array(data.control);
const loss = new Float64Array(data.loss);
const xs = new Float32Array(data.xs);
const ys = new Float32Array(data.ys);
const layers: DenseWeights[] = data.layers.map((l) => ({
  inputs: l.inputs,
  units: l.units,
  relu: l.relu,
  kernel: new Float32Array(l.kernel),
  bias: new Float32Array(l.bias),
  kernelT: new Float32Array(l.kernelT),
}));
const grads: DenseGradient[] = data.grads.map((g) => ({ kernel: new Float32Array(g.kernel), bias: new Float32Array(g.bias) }));
const elementwise: Elementwise = data.elementwise;

const tf = await tensorflow();
parentPort!.postMessage({ type: 'ready' });
let seen = 0;
for (;;) {
  Atomics.wait(control, CONTROL.seq, seen);
  seen = Atomics.load(control, CONTROL.seq);
  if (control[CONTROL.command] === CONTROL.exit) break;
  try {
    loss[0] = denseGradients(tf, layers, xs, ys, control[CONTROL.count]!, control[CONTROL.total]!, elementwise, grads);
    control[CONTROL.failed] = 0;
  } catch (error) {
    control[CONTROL.failed] = 1;
    parentPort!.postMessage({ type: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  }
  Atomics.store(control, CONTROL.done, seen);
  Atomics.notify(control, CONTROL.done);
}
