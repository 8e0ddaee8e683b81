/**
 * The second thread of WasmDenseTrainer: its own instance of the dense kernel on the trainer's
 * shared memory. For each batch it computes lane 1's gradients (the second half of the batch)
 * and signals; the trainer adds them to lane 0's and runs Adam. It meets the trainer on Atomics
 * (no message per step). Started by wasm-train.ts (wasm-worker.js once built).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { CONTROL, instantiateDenseKernel } from './wasm-kernel.js';

export interface KernelWorkerData {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  control: SharedArrayBuffer;
  net: number;
  lane: number;
}

const data = workerData as KernelWorkerData;
const control = new Int32Array(data.control);
const kernel = instantiateDenseKernel(data.module, data.memory);
parentPort!.postMessage({ type: 'ready' });
let seen = 0;
for (;;) {
  Atomics.wait(control, CONTROL.seq, seen);
  seen = Atomics.load(control, CONTROL.seq);
  if (control[CONTROL.command] === CONTROL.exit) break;
  try {
    kernel.gradient(data.net, data.lane);
    control[CONTROL.failed] = 0;
  } catch (error) {
    control[CONTROL.failed] = 1;
    parentPort!.postMessage({ type: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  }
  Atomics.store(control, CONTROL.done, seen);
  Atomics.notify(control, CONTROL.done);
}
