/**
 * Predictions of plain dense nets (Dense layers, relu or linear hidden, a linear, sigmoid or
 * softmax output: the nets the training kernel handles; the output activation is applied here) on the same wasm SIMD kernel (wasm/dense-train.ts,
 * `forward`): rows go through in blocks of LANE_ROWS with one call per block, where TF.js's
 * predict costs a tensor upload, one kernel call per layer and a download per chunk. Float32
 * weights and sums, as TF.js; the sums run in another order, so values agree to float32 rounding.
 */
import type * as TF from '@tensorflow/tfjs';
import { denseHead, plainDenseUnsupported, readDenseLayers } from './fast-train.js';
import { denseKernelModule, instantiateDenseKernel, kernelMemory, type DenseKernel } from './wasm-kernel.js';
import { kernelLayout, LANE, writeTables, writeWeights, type DenseHead, type KernelLayout } from './wasm-layout.js';

/** Rows per kernel call: a block's activations (64 floats a row) stay in L2. */
const LANE_ROWS = 1024;

export class WasmDensePredictor {
  private readonly kernel: DenseKernel;
  private readonly layout: KernelLayout;
  private readonly f32: Float32Array;
  private readonly i32: Int32Array;
  readonly inputs: number;
  readonly outputs: number;
  /** The output activation, applied here to the kernel's linear outputs. */
  private readonly head: DenseHead;

  private constructor(network: TF.LayersModel) {
    this.head = denseHead(network);
    const layers = readDenseLayers(network);
    this.inputs = layers[0]!.inputs;
    this.outputs = layers[layers.length - 1]!.units;
    // Two lanes of LANE_ROWS (the layout is the trainer's; only lane 0 is used here).
    this.layout = kernelLayout(layers, 2 * LANE_ROWS);
    const memory = kernelMemory(this.layout.bytes);
    this.f32 = new Float32Array(memory.buffer);
    this.i32 = new Int32Array(memory.buffer);
    writeTables(memory.buffer, this.layout);
    writeWeights(this.f32, this.layout, layers);
    this.kernel = instantiateDenseKernel(denseKernelModule(), memory);
  }

  /** A predictor holding a copy of the network's current weights, or undefined when the kernel cannot run it. */
  static from(network: TF.LayersModel): WasmDensePredictor | undefined {
    return plainDenseUnsupported(network, false) === undefined ? new WasmDensePredictor(network) : undefined;
  }

  /** Outputs [rows, outputs] row-major (float32, as the network computes them) of inputs [rows, inputs] row-major. */
  predict(x: Float32Array, rows: number): Float32Array {
    const { f32, layout, inputs, outputs } = this;
    const lane = layout.lanes[0];
    const k = layout.layers[0]!.k;
    const n = layout.layers[layout.layers.length - 1]!.n;
    const input = lane.acts[0]! >> 2;
    const output = lane.acts[lane.acts.length - 1]! >> 2;
    const rowsSlot = (lane.table + LANE.rows) >> 2;
    const out = new Float32Array(rows * outputs);
    for (let start = 0; start < rows; start += LANE_ROWS) {
      const count = Math.min(LANE_ROWS, rows - start);
      const padded = Math.ceil(count / 4) * 4;
      if (k === inputs) f32.set(x.subarray(start * inputs, (start + count) * inputs), input);
      else for (let r = 0; r < count; r++) f32.set(x.subarray((start + r) * inputs, (start + r + 1) * inputs), input + r * k);
      // Padded rows (to whole f32x4 rows) are zeros; their outputs are dropped.
      f32.fill(0, input + count * k, input + padded * k);
      this.i32[rowsSlot] = padded;
      this.kernel.forward(layout.net, lane.table);
      if (n === outputs) out.set(f32.subarray(output, output + count * n), start * outputs);
      else for (let r = 0; r < count; r++) for (let o = 0; o < outputs; o++) out[(start + r) * outputs + o] = f32[output + r * n + o]!;
    }
    if (this.head === 'sigmoid') for (let i = 0; i < out.length; i++) out[i] = 1 / (1 + Math.exp(-out[i]!));
    if (this.head === 'softmax') softmaxRows(out, outputs);
    return out;
  }
}

/** Softmax of each row of `z` ([rows, width] row-major), in place, from the row's largest value (as TF.js). */
function softmaxRows(z: Float32Array, width: number): void {
  for (let start = 0; start < z.length; start += width) {
    let top = z[start]!;
    for (let j = 1; j < width; j++) top = Math.max(top, z[start + j]!);
    let sum = 0;
    for (let j = 0; j < width; j++) sum += Math.exp(z[start + j]! - top);
    for (let j = 0; j < width; j++) z[start + j] = Math.exp(z[start + j]! - top) / sum;
  }
}
