/**
 * Prediction over many rows: all trees flattened into typed arrays and walked a block of rows at
 * a time, so the block stays in cache while every tree passes over it (walking one tree over all
 * rows streams the whole matrix through memory once per tree: 10x slower at 1M x 28).
 */
import { WasmForest } from './forest-wasm.js';
import { predictTree, type Tree } from './tree.js';

/** Rows per block: 1,024 rows of 28 float32 features is 112 KB, in L2 with room to spare. */
const BLOCK_ROWS = 1024;
/** Trees up to this depth are padded to complete trees (2^depth leaves each). */
const MAX_COMPLETE_DEPTH = 10;

/**
 * Trees padded to one depth D, stored heap-like: the children of node p are 2p+1 and 2p+2, so a
 * step needs no child arrays and no branch. A leaf above depth D becomes a node that sends every
 * row left (threshold +Infinity, missing left) with its value copied to the leaves below.
 */
interface CompleteForest {
  kind: 'complete';
  outputs: number;
  count: number;
  depth: number;
  feature: Int32Array;
  threshold: Float64Array;
  /** 1 when a missing value goes right. */
  missingRight: Uint8Array;
  leaf: Float64Array;
  /** The wasm walk for float32 rows of a given width (made on first use). */
  wasm?: WasmForest;
}

/** Deeper trees (loss-guide growth without a depth limit) keep their own arrays. */
interface DeepForest {
  kind: 'deep';
  outputs: number;
  count: number;
  trees: Tree[];
}

export type Forest = CompleteForest | DeepForest;

function depthOf(tree: Tree, node = 0): number {
  return tree.feature[node]! < 0 ? 0 : 1 + Math.max(depthOf(tree, tree.left[node]!), depthOf(tree, tree.right[node]!));
}

/** Tree t adds to output t % outputs. */
export function compileForest(trees: Tree[], outputs: number): Forest {
  const depth = trees.reduce((d, t) => Math.max(d, depthOf(t)), 0);
  if (depth > MAX_COMPLETE_DEPTH) return { kind: 'deep', outputs, count: trees.length, trees };
  const inner = (1 << depth) - 1;
  const leaves = 1 << depth;
  const feature = new Int32Array(trees.length * inner);
  const threshold = new Float64Array(trees.length * inner);
  const missingRight = new Uint8Array(trees.length * inner);
  const leaf = new Float64Array(trees.length * leaves);
  trees.forEach((tree, t) => {
    const place = (node: number, at: number, level: number): void => {
      if (level === depth) {
        leaf[t * leaves + at - inner] = tree.value[node]!;
        return;
      }
      const o = t * inner + at;
      const f = tree.feature[node]!;
      if (f < 0) {
        // A leaf above the bottom: every row goes left, down to copies of its value.
        threshold[o] = Number.POSITIVE_INFINITY;
        place(node, 2 * at + 1, level + 1);
        place(node, 2 * at + 2, level + 1);
        return;
      }
      feature[o] = f;
      threshold[o] = tree.threshold[node]!;
      missingRight[o] = tree.defaultLeft[node] ? 0 : 1;
      place(tree.left[node]!, 2 * at + 1, level + 1);
      place(tree.right[node]!, 2 * at + 2, level + 1);
    };
    place(0, 0, 0);
  });
  return { kind: 'complete', outputs, count: trees.length, depth, feature, threshold, missingRight, leaf };
}

function hasNaN(data: Float32Array | Float64Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (data[i] !== data[i]) return true;
  return false;
}

/**
 * Adds every tree's output for rows [0, rows) of the row-major matrix `data` (cols columns) to
 * raw[i * outputs + t % outputs]. Goes right when x > threshold; a NaN goes the way the tree
 * learned, exactly as predictTree.
 */
export function addForest(forest: Forest, data: Float32Array | Float64Array, rows: number, cols: number, raw: Float64Array): void {
  for (let start = 0; start < rows; start += BLOCK_ROWS) {
    const end = Math.min(rows, start + BLOCK_ROWS);
    if (forest.kind === 'deep') addDeepBlock(forest, data, start, end, cols, raw);
    else if (hasNaN(data, start * cols, end * cols)) addMissingBlock(forest, data, start, end, cols, raw);
    else if (data instanceof Float32Array) wasmOf(forest, cols).add(data, start, end, raw);
    else addCompleteBlock(forest, data, start, end, cols, raw);
  }
}

function wasmOf(forest: CompleteForest, cols: number): WasmForest {
  if (forest.wasm?.cols !== cols) forest.wasm = new WasmForest(forest, cols, BLOCK_ROWS);
  return forest.wasm;
}

/**
 * The JavaScript walk, for float64 rows (the wasm walk compares float32): four rows walk each tree side by side (independent chains of loads, so the CPU
 * overlaps them), and the comparison's boolean moves to the right child without a branch.
 */
function addCompleteBlock(forest: CompleteForest, data: Float32Array | Float64Array, start: number, end: number, cols: number, raw: Float64Array): void {
  const { depth, feature, threshold, leaf, count, outputs: K } = forest;
  const inner = (1 << depth) - 1;
  const leaves = 1 << depth;
  for (let t = 0; t < count; t++) {
    const o = t * inner;
    const l = t * leaves - inner;
    const k = t % K;
    let i = start;
    for (; i + 3 < end; i += 4) {
      const b0 = i * cols;
      const b1 = b0 + cols;
      const b2 = b1 + cols;
      const b3 = b2 + cols;
      let p0 = 0;
      let p1 = 0;
      let p2 = 0;
      let p3 = 0;
      for (let d = 0; d < depth; d++) {
        p0 = 2 * p0 + 1 + ((data[b0 + feature[o + p0]!]! > threshold[o + p0]!) as unknown as number);
        p1 = 2 * p1 + 1 + ((data[b1 + feature[o + p1]!]! > threshold[o + p1]!) as unknown as number);
        p2 = 2 * p2 + 1 + ((data[b2 + feature[o + p2]!]! > threshold[o + p2]!) as unknown as number);
        p3 = 2 * p3 + 1 + ((data[b3 + feature[o + p3]!]! > threshold[o + p3]!) as unknown as number);
      }
      raw[i * K + k] += leaf[l + p0]!;
      raw[(i + 1) * K + k] += leaf[l + p1]!;
      raw[(i + 2) * K + k] += leaf[l + p2]!;
      raw[(i + 3) * K + k] += leaf[l + p3]!;
    }
    for (; i < end; i++) {
      const b = i * cols;
      let p = 0;
      for (let d = 0; d < depth; d++) p = 2 * p + 1 + ((data[b + feature[o + p]!]! > threshold[o + p]!) as unknown as number);
      raw[i * K + k] += leaf[l + p]!;
    }
  }
}

/** A block with missing values: the same walk, a NaN going where the tree learned. */
function addMissingBlock(forest: CompleteForest, data: Float32Array | Float64Array, start: number, end: number, cols: number, raw: Float64Array): void {
  const { depth, feature, threshold, missingRight, leaf, count, outputs: K } = forest;
  const inner = (1 << depth) - 1;
  const leaves = 1 << depth;
  for (let t = 0; t < count; t++) {
    const o = t * inner;
    const l = t * leaves - inner;
    const k = t % K;
    for (let i = start; i < end; i++) {
      const b = i * cols;
      let p = 0;
      for (let d = 0; d < depth; d++) {
        const x = data[b + feature[o + p]!]!;
        p = 2 * p + (x > threshold[o + p]! || (x !== x && missingRight[o + p] === 1) ? 2 : 1);
      }
      raw[i * K + k] += leaf[l + p]!;
    }
  }
}

function addDeepBlock(forest: DeepForest, data: Float32Array | Float64Array, start: number, end: number, cols: number, raw: Float64Array): void {
  const K = forest.outputs;
  forest.trees.forEach((tree, t) => {
    const k = t % K;
    for (let i = start; i < end; i++) raw[i * K + k] += predictTree(tree, data, i * cols);
  });
}
