/**
 * The wasm dense training kernel (wasm/dense-train.ts, AssemblyScript), built by `npm run
 * build:wasm` into dist/wasm/dense-train.wasm. This module finds and compiles it once per thread
 * and instantiates it on a given memory; it does nothing at import time.
 */
import { relaxedSimd, wasmModule } from '../wasm-module.js';

/** What the kernel exports; addresses are byte offsets into its (imported) memory. */
export interface DenseKernel {
  /** One lane's (half batch's) gradients; returns its sum of squared errors. */
  gradient(net: number, lane: number): number;
  /** Adam with lane 0's plus lane 1's gradients, then the transposed kernels refreshed. */
  update(net: number): void;
  transposeKernels(net: number): void;
  /** gradient(lane 0), gradient(lane 1), update: a whole step on one thread. */
  step(net: number): number;
  /** Inference: the lane's input rows through every layer (outputs in the lane's last activations). */
  forward(net: number, lane: number): void;
}

/**
 * Slots of the Int32Array that the trainer and its worker meet on: `seq` the step published (lane
 * 1 filled), `claim` the last step whose lane 1 a thread took (compare-exchange from seq - 1: the
 * first of the two to try computes it), `done` the last step the worker computed.
 */
export const CONTROL = { seq: 0, done: 1, failed: 2, command: 3, claim: 4, run: 1, exit: 2, size: 5 } as const;

/**
 * The compiled kernel module (compiled on first use; a Module can be posted to a worker): the
 * fused multiply-add build where relaxed SIMD is available, else the plain SIMD one.
 */
export function denseKernelModule(): WebAssembly.Module {
  return relaxedSimd() ? wasmModule('dense-train-fma', 'the dense training kernel (fused multiply-add)') : wasmModule('dense-train', 'the dense training kernel');
}

/** An instance of the kernel working on `memory` (shared: several instances, one per thread, may use it). */
export function instantiateDenseKernel(module: WebAssembly.Module, memory: WebAssembly.Memory): DenseKernel {
  return new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as DenseKernel;
}

/**
 * The memory of the last closed trainer, kept for the next (cross-validation folds, repeated
 * fits): on this project's VMs writing fresh memory the first time costs about 5 ms per MB (page
 * faults), as much as training on it for an epoch; memory written before costs a memset.
 */
let spare: WebAssembly.Memory | undefined;
/** The largest memory kept for reuse. */
const SPARE_MAX_BYTES = 512 << 20;

/**
 * A memory of at least `bytes` for the kernel, never grown, zero up to `clean` (the rest is the
 * caller's to write): the spare one when it is large enough, else a new one (all zero). Shared:
 * the kernel is built for threads, so it imports a shared memory even where one thread uses it.
 */
export function kernelMemory(bytes: number, clean = bytes): WebAssembly.Memory {
  const pages = Math.ceil(bytes / 65536);
  if (spare && spare.buffer.byteLength >= pages * 65536) {
    const memory = spare;
    spare = undefined;
    new Uint8Array(memory.buffer, 0, clean).fill(0);
    return memory;
  }
  return new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
}

/** Gives back a memory no thread uses any more, for kernelMemory to reuse (the larger one is kept). */
export function releaseKernelMemory(memory: WebAssembly.Memory): void {
  const bytes = memory.buffer.byteLength;
  if (bytes <= SPARE_MAX_BYTES && (!spare || spare.buffer.byteLength < bytes)) spare = memory;
}
