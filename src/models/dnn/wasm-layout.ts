/**
 * Where a dense net lives in the memory of the wasm training kernel (wasm/dense-train.ts), and the
 * tables the kernel reads. The offsets here mirror the constants at the top of that file.
 *
 * Every width is padded to a multiple of 4 floats (one f32x4) with zeros, and each half of a batch
 * (a "lane") to a multiple of 4 rows: the kernel then has no scalar tails. Padding stays zero
 * through training (zero inputs and zero output gradients give zero gradients).
 */

/** A dense layer as the kernel sees it: real sizes and activation. */
export interface KernelLayer {
  inputs: number;
  units: number;
  relu: boolean;
}

export const NET = { layers: 0, params: 4, w: 8, m: 12, v: 16, lane0: 20, lane1: 24, head: 28, lr: 32, beta1: 36, beta2: 40, omb1: 44, omb2: 48, acc1: 52, acc2: 56, eps: 60, layer0: 64, layerSize: 32 } as const;
export const LAYER = { k: 0, n: 4, relu: 8, w: 12, b: 16, wt: 20 } as const;
export const LANE = { rows: 0, count: 4, grad: 8, dz0: 12, dz1: 16, y: 20, outputs: 24, scale: 32, squared: 40, data: 48, labels: 52, order: 56, acts: 64 } as const;

/** The kernel's heads (NET.head): the loss on the last layer's linear outputs. */
export const HEAD = { linear: 0, sigmoid: 1, softmax: 2 } as const;
export type DenseHead = keyof typeof HEAD;

export const pad4 = (n: number): number => Math.ceil(n / 4) * 4;

/** Rows of the first lane for a batch of `size`: half, rounded up to whole f32x4 rows. */
export function firstLaneRows(size: number): number {
  return Math.min(size, pad4(Math.ceil(size / 2)));
}

export interface LaneLayout {
  table: number;
  /** Room for the row numbers of the lane's rows in the training set (u32). */
  order: number;
  grad: number;
  y: number;
  /** Two buffers for output gradients, [rows, widest layer]. */
  dz: [number, number];
  /** acts[0]: the inputs; acts[l + 1]: layer l's output (byte addresses). */
  acts: number[];
}

export interface PaddedLayer extends KernelLayer {
  k: number;
  n: number;
  /** Byte offsets in the parameter block (and in the gradients and moments, laid out alike). */
  wOffset: number;
  bOffset: number;
  wt: number;
}

export interface KernelLayout {
  layers: PaddedLayer[];
  /** Floats in the parameter block. */
  params: number;
  net: number;
  w: number;
  m: number;
  v: number;
  lanes: [LaneLayout, LaneLayout];
  /** Most rows one lane holds. */
  laneRows: number;
  /** The training set's inputs [rows, padded inputs] and labels [rows, outputs], when it is in memory (else 0). */
  data: number;
  labels: number;
  bytes: number;
}

/**
 * Lays out a net for batches of up to `maxBatch` rows, and room for a training set of `dataRows`
 * rows (0: none): byte addresses, 16-aligned.
 */
export function kernelLayout(layers: KernelLayer[], maxBatch: number, dataRows = 0): KernelLayout {
  let top = 0;
  const take = (bytes: number): number => {
    const at = top;
    top += Math.ceil(bytes / 16) * 16;
    return at;
  };
  take(64); // nothing at address 0
  const net = take(NET.layer0 + layers.length * NET.layerSize);
  const tables = [take(LANE.acts + (layers.length + 1) * 4), take(LANE.acts + (layers.length + 1) * 4)];
  let params = 0;
  const padded: PaddedLayer[] = layers.map((l) => {
    const k = pad4(l.inputs);
    const n = pad4(l.units);
    const wOffset = params * 4;
    params += k * n;
    const bOffset = params * 4;
    params += n;
    return { ...l, k, n, wOffset, bOffset, wt: 0 };
  });
  const w = take(params * 4);
  const m = take(params * 4);
  const v = take(params * 4);
  for (const l of padded) l.wt = take(l.k * l.n * 4);
  const laneRows = pad4(Math.ceil(maxBatch / 2));
  const outputs = layers[layers.length - 1]!.units;
  const widest = Math.max(...padded.map((l) => Math.max(l.k, l.n)));
  const lanes = tables.map((table): LaneLayout => {
    const grad = take(params * 4);
    const y = take(laneRows * outputs * 4);
    const dz: [number, number] = [take(laneRows * widest * 4), take(laneRows * widest * 4)];
    const acts = [take(laneRows * padded[0]!.k * 4), ...padded.map((l) => take(laneRows * l.n * 4))];
    return { table, order: take(laneRows * 4), grad, y, dz, acts };
  }) as [LaneLayout, LaneLayout];
  const data = dataRows ? take(dataRows * padded[0]!.k * 4) : 0;
  const labels = dataRows ? take(dataRows * outputs * 4) : 0;
  return { layers: padded, params, net, w, m, v, lanes, laneRows, data, labels, bytes: top };
}

/** Writes the net and lane tables (everything but the per-step fields) into the kernel's memory. */
export function writeTables(memory: ArrayBuffer | SharedArrayBuffer, layout: KernelLayout): void {
  const i32 = new Int32Array(memory);
  const at = (address: number, value: number) => (i32[address >> 2] = value);
  const { net } = layout;
  at(net + NET.layers, layout.layers.length);
  at(net + NET.params, layout.params);
  at(net + NET.w, layout.w);
  at(net + NET.m, layout.m);
  at(net + NET.v, layout.v);
  at(net + NET.lane0, layout.lanes[0].table);
  at(net + NET.lane1, layout.lanes[1].table);
  layout.layers.forEach((l, i) => {
    const rec = net + NET.layer0 + i * NET.layerSize;
    at(rec + LAYER.k, l.k);
    at(rec + LAYER.n, l.n);
    at(rec + LAYER.relu, l.relu ? 1 : 0);
    at(rec + LAYER.w, l.wOffset);
    at(rec + LAYER.b, l.bOffset);
    at(rec + LAYER.wt, l.wt);
  });
  for (const lane of layout.lanes) {
    at(lane.table + LANE.grad, lane.grad);
    at(lane.table + LANE.dz0, lane.dz[0]);
    at(lane.table + LANE.dz1, lane.dz[1]);
    at(lane.table + LANE.y, lane.y);
    at(lane.table + LANE.outputs, layout.layers[layout.layers.length - 1]!.units);
    at(lane.table + LANE.labels, layout.labels);
    at(lane.table + LANE.order, lane.order);
    lane.acts.forEach((a, l) => at(lane.table + LANE.acts + l * 4, a));
  }
}

/** Writes dense layers' weights into the parameter block at layout.w (the padding stays zero). */
export function writeWeights(f32: Float32Array, layout: KernelLayout, layers: readonly { kernel: Float32Array; bias: Float32Array }[]): void {
  layout.layers.forEach((l, i) => {
    const w = (layout.w + l.wOffset) >> 2;
    for (let r = 0; r < l.inputs; r++) f32.set(layers[i]!.kernel.subarray(r * l.units, (r + 1) * l.units), w + r * l.n);
    f32.set(layers[i]!.bias, (layout.w + l.bOffset) >> 2);
  });
}
