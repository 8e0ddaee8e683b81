import type * as TF from '@tensorflow/tfjs';
import { THREADS_ENV, threadBudget } from '../core/threads.js';
import { registerWasmKernels } from './wasm-kernels.js';

let ready: Promise<typeof TF> | undefined;

/**
 * TensorFlow.js on the wasm backend (XNNPACK, SIMD). If wasm cannot start we stop with an error
 * rather than train silently on the much slower pure-JS backend.
 */
export function tensorflow(): Promise<typeof TF> {
  // Loaded on first use: commands that never touch a model start without paying for TF.js.
  ready ??= (async () => {
    const tf = await import('@tensorflow/tfjs');
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    // A job with a thread budget holds XNNPACK to it (only where wasm threads are available).
    if (process.env[THREADS_ENV]) wasm.setThreadsCount(threadBudget());
    // Kernels wasm lacks for training (UnsortedSegmentSum, the gradient of Embedding): registered
    // before the backend starts, idempotently; see wasm-kernels.ts.
    registerWasmKernels(tf);
    const ok = await tf.setBackend('wasm');
    await tf.ready();
    if (!ok || tf.getBackend() !== 'wasm') {
      throw new Error(`TensorFlow.js could not start its wasm backend (got "${tf.getBackend()}")`);
    }
    return tf;
  })();
  return ready;
}

export { seededRandom } from '../core/random.js';

export function shuffledIndices(n: number, random: () => number): Uint32Array {
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
  return order;
}
