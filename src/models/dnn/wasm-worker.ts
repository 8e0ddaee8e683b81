/**
 * The second thread of WasmDenseTrainer: its own instance of the dense kernel on the trainer's
 * shared memory. For each batch it computes lane 1's gradients (the second half of the batch)
 * and signals; the trainer adds them to lane 0's and runs Adam. It meets the trainer on Atomics
 * (no message per step). Whichever thread claims a step's lane 1 first computes it: on a busy
 * machine a worker that wakes late leaves it to the trainer instead of holding it up.
 *
 * The worker is a few lines of plain JavaScript run with `eval: true`, not a module file: it then
 * starts in tens of milliseconds from source and from dist alike (a TypeScript worker under tsx
 * took 400 ms to register tsx, a third of a 200k-row epoch).
 */
import { Worker } from 'node:worker_threads';
import { CONTROL } from './wasm-kernel.js';

export interface KernelWorkerData {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  control: SharedArrayBuffer;
  net: number;
  lane: number;
}

const SOURCE = `
const { parentPort, workerData: d } = require('node:worker_threads');
const C = ${JSON.stringify(CONTROL)};
const control = new Int32Array(d.control);
const kernel = new WebAssembly.Instance(d.module, { env: { memory: d.memory } }).exports;
parentPort.postMessage({ type: 'ready' });
let seen = 0;
for (;;) {
  Atomics.wait(control, C.seq, seen);
  seen = Atomics.load(control, C.seq);
  if (control[C.command] === C.exit) break;
  // The trainer computes lane 1 itself when it gets there first (this thread woke late).
  if (Atomics.compareExchange(control, C.claim, seen - 1, seen) !== seen - 1) continue;
  try {
    kernel.gradient(d.net, d.lane);
    control[C.failed] = 0;
  } catch (error) {
    control[C.failed] = 1;
    parentPort.postMessage({ type: 'error', message: String((error && error.stack) || error) });
  }
  Atomics.store(control, C.done, seen);
  Atomics.notify(control, C.done);
}
`;

/** Starts the worker; it posts {type: 'ready'} once its kernel instance exists. */
export function startKernelWorker(data: KernelWorkerData): Worker {
  return new Worker(SOURCE, { eval: true, workerData: data });
}
