/**
 * One regression tree: its arrays, how it is grown on the binned data, and raw-feature prediction.
 */
import { MISSING_BIN } from './binning.js';
import { BINS_PER_FEATURE, combineSlots } from './histogram.js';
import { leafValue, threshold } from './leaves.js';
import type { GbdtParams } from './params.js';
import type { TrainingMemory } from './pool.js';
import type { GradientScale } from './quantize.js';

/**
 * A tree as parallel arrays, node 0 the root. Leaves have feature -1 and left = right = -1.
 * An internal node sends a row left when x[feature] <= threshold, and a missing (NaN) value
 * left when defaultLeft is 1. `value` is the (shrunk) leaf value, `gain` the split's loss
 * reduction, `cover` the hessian sum of the node's training rows.
 */
export interface Tree {
  feature: Int32Array;
  threshold: Float64Array;
  defaultLeft: Uint8Array;
  left: Int32Array;
  right: Int32Array;
  value: Float64Array;
  gain: Float64Array;
  cover: Float64Array;
}

/** Leaf or raw-feature value of `tree` for row `r` of a row-major matrix. */
export function predictTree(tree: Tree, data: Float32Array | Float64Array, base: number): number {
  const { feature, threshold, defaultLeft, left, right } = tree;
  let node = 0;
  let f = feature[0]!;
  while (f >= 0) {
    const x = data[base + f]!;
    node = x <= threshold[node]! ? left[node]! : x !== x ? (defaultLeft[node] ? left[node]! : right[node]!) : right[node]!;
    f = feature[node]!;
  }
  return tree.value[node]!;
}

/** Adds the tree's output for every row to raw[i * K + k]. */
export function addTreeToRaw(tree: Tree, data: Float32Array | Float64Array, rows: number, cols: number, raw: Float64Array, K: number, k: number): void {
  for (let i = 0; i < rows; i++) raw[i * K + k] += predictTree(tree, data, i * cols);
}

interface Split {
  gain: number;
  feature: number;
  bin: number;
  defaultLeft: boolean;
  GL: number;
  HL: number;
}

interface Node {
  id: number;
  depth: number;
  start: number;
  end: number;
  G: number;
  H: number;
  slot: number;
  split: Split | undefined;
}

/** What a grower needs besides the shared memory. */
export interface GrowContext {
  mem: TrainingMemory;
  params: GbdtParams;
  /** Value bins per feature; bin upper bounds per feature (raw units). */
  numBins: Int32Array;
  bounds: Float64Array[];
}

/** Grows trees on the binned rows rows[0..count) of the shared memory. */
export class TreeGrower {
  private readonly feature: number[] = [];
  private readonly thresholdBin: number[] = [];
  private readonly defaultLeft: number[] = [];
  private readonly left: number[] = [];
  private readonly right: number[] = [];
  private readonly value: number[] = [];
  private readonly gain: number[] = [];
  private readonly cover: number[] = [];

  private features: Int32Array = new Int32Array(0);
  private gradOffset = 0;
  private scale: GradientScale = { g: 1, h: 1, P: 1, constantHessian: true };

  constructor(private readonly ctx: GrowContext) {}

  private score(G: number, H: number): number {
    const t = threshold(G, this.ctx.params.reg_alpha);
    const d = H + this.ctx.params.reg_lambda;
    return d > 0 ? (t * t) / d : 0;
  }

  private newNode(depth: number, start: number, end: number, G: number, H: number): Node {
    const id = this.feature.length;
    this.feature.push(-1);
    this.thresholdBin.push(0);
    this.defaultLeft.push(0);
    this.left.push(-1);
    this.right.push(-1);
    this.value.push(leafValue(G, H, this.ctx.params));
    this.gain.push(0);
    this.cover.push(H);
    return { id, depth, start, end, G, H, slot: -1, split: undefined };
  }

  /** Whether a node may be split at all (depth, hessian and row count). */
  private splittable(node: Node): boolean {
    const p = this.ctx.params;
    if (p.max_depth > 0 && node.depth >= p.max_depth) return false;
    if (node.end - node.start < 2) return false;
    return node.H >= 2 * p.min_child_weight;
  }

  /** Best split of a node from its histogram (in node.slot), or undefined. */
  private findSplit(node: Node): Split | undefined {
    const p = this.ctx.params;
    const { hist, base } = this.ctx.mem.slot(node.slot);
    const mcw = p.min_child_weight;
    const G = node.G;
    const H = node.H;
    const parent = this.score(G, H);
    let bestGain = p.min_split_gain;
    let bestFeature = -1;
    let bestBin = 0;
    let bestLeft = false;
    let bestGL = 0;
    let bestHL = 0;
    let bestMissing = false;
    const { g: sg, h: sh, P } = this.scale;
    const inverseP = 1 / P;
    const features = this.features;
    for (let j = 0; j < features.length; j++) {
      const f = features[j]!;
      const o = base + f * BINS_PER_FEATURE;
      const nb = this.ctx.numBins[f]!;
      // Packed sums hold gq * P + hq (quantize.ts); integers, so these reads are exact.
      const vm = hist[o + MISSING_BIN]!;
      const gmq = Math.floor(vm * inverseP);
      const gm = gmq * sg;
      const hm = (vm - gmq * P) * sh;
      const missing = vm !== 0;
      let glq = 0;
      let hlq = 0;
      for (let t = 0; t < nb; t++) {
        const v = hist[o + t]!;
        if (v === 0 && t < nb - 1) continue; // no rows here: same partition as the previous bin
        const gq = Math.floor(v * inverseP);
        glq += gq;
        hlq += v - gq * P;
        const gl = glq * sg;
        const hl = hlq * sh;
        // Missing values right.
        if (t < nb - 1 || missing) {
          const hr = H - hl;
          if (hl >= mcw && hr >= mcw && hl > 0 && hr > 0) {
            const gain = this.score(gl, hl) + this.score(G - gl, hr) - parent;
            if (gain > bestGain) {
              bestGain = gain;
              bestFeature = f;
              bestBin = t;
              bestLeft = false;
              bestGL = gl;
              bestHL = hl;
              bestMissing = missing;
            }
          }
        }
        // Missing values left.
        if (missing && t < nb - 1) {
          const gl2 = gl + gm;
          const hl2 = hl + hm;
          const hr = H - hl2;
          if (hl2 >= mcw && hr >= mcw && hl2 > 0 && hr > 0) {
            const gain = this.score(gl2, hl2) + this.score(G - gl2, hr) - parent;
            if (gain > bestGain) {
              bestGain = gain;
              bestFeature = f;
              bestBin = t;
              bestLeft = true;
              bestGL = gl2;
              bestHL = hl2;
              bestMissing = true;
            }
          }
        }
      }
    }
    if (bestFeature < 0) return undefined;
    // No missing values seen here: send future ones to the side that had more training weight.
    if (!bestMissing) bestLeft = bestHL >= H - bestHL;
    return { gain: bestGain, feature: bestFeature, bin: bestBin, defaultLeft: bestLeft, GL: bestGL, HL: bestHL };
  }

  /** Partitions the split nodes' rows (in parallel across nodes) and makes their children. */
  private async applySplits(nodes: Node[]): Promise<[Node, Node, Node][]> {
    const jobs = new Int32Array(nodes.length * 5);
    nodes.forEach((node, i) => {
      const s = node.split!;
      jobs.set([node.start, node.end, s.feature, s.bin, s.defaultLeft ? 1 : 0], i * 5);
    });
    const counts = await this.ctx.mem.partition(jobs);
    return nodes.map((node, i) => {
      const s = node.split!;
      const l = node.start + counts[i]!;
      const id = node.id;
      this.feature[id] = s.feature;
      this.thresholdBin[id] = s.bin;
      this.defaultLeft[id] = s.defaultLeft ? 1 : 0;
      this.gain[id] = s.gain;
      const a = this.newNode(node.depth + 1, node.start, l, s.GL, s.HL);
      const b = this.newNode(node.depth + 1, l, node.end, node.G - s.GL, node.H - s.HL);
      this.left[id] = a.id;
      this.right[id] = b.id;
      return [node, a, b];
    });
  }

  /**
   * Histograms of the children of split nodes: the smaller child is built, the larger is the
   * parent minus the smaller, computed in the parent's slot. Then the children's best splits.
   */
  private async childHistograms(pairs: [Node, Node, Node][]): Promise<void> {
    const mem = this.ctx.mem;
    const jobs = [];
    const work: { parent: Node; small: Node; large: Node }[] = [];
    for (const [parent, a, b] of pairs) {
      const wantA = this.splittable(a);
      const wantB = this.splittable(b);
      if (!wantA && !wantB) {
        mem.releaseSlot(parent.slot);
        parent.slot = -1;
        continue;
      }
      const [small, large] = a.end - a.start <= b.end - b.start ? [a, b] : [b, a];
      small.slot = mem.allocSlot();
      jobs.push({ start: small.start, end: small.end, slot: small.slot, gradOffset: this.gradOffset });
      work.push({ parent, small, large });
    }
    await mem.build(jobs, this.features);
    const features = this.features;
    for (const { parent, small, large } of work) {
      const p = mem.slot(parent.slot);
      const s = mem.slot(small.slot);
      combineSlots(p.hist, p.base, s.hist, s.base, features, -1);
      large.slot = parent.slot;
      parent.slot = -1;
      for (const child of [small, large]) {
        child.split = this.splittable(child) ? this.findSplit(child) : undefined;
        if (!child.split) {
          mem.releaseSlot(child.slot);
          child.slot = -1;
        }
      }
    }
  }

  /**
   * Grows one tree for output k on rows[0..count), considering `features`. Leaf values come from
   * the exact gradients; with `addToRaw` (every row is in the tree) they are added to the raw
   * scores of the leaves' rows on the way. Returns the tree with bin thresholds (thresholdBin)
   * beside the raw ones.
   */
  async grow(count: number, k: number, features: Int32Array, scale: GradientScale, addToRaw: boolean): Promise<{ tree: Tree; thresholdBin: Uint8Array }> {
    this.reset();
    this.features = features;
    this.gradOffset = k * this.ctx.mem.n;
    this.scale = scale;
    const { mem, params } = this.ctx;
    const root = this.newNode(0, 0, count, 0, 0);
    if (count >= 2) {
      root.slot = mem.allocSlot();
      await mem.build([{ start: 0, end: count, slot: root.slot, gradOffset: this.gradOffset }], features);
      // Split search works on the quantized sums throughout, the root's included (its hessian
      // sum too, for min_child_weight, as for every other node).
      const { hist, base } = mem.slot(root.slot);
      let total = 0;
      for (let b = 0, o = base + features[0]! * BINS_PER_FEATURE; b < BINS_PER_FEATURE; b++) total += hist[o + b]!;
      const gq = Math.floor(total / scale.P);
      root.G = gq * scale.g;
      root.H = (total - gq * scale.P) * scale.h;
      root.split = this.splittable(root) ? this.findSplit(root) : undefined;
      if (!root.split) {
        mem.releaseSlot(root.slot);
        root.slot = -1;
      }
    }
    const leaves: Node[] = [];
    if (params.growth === 'depthwise') {
      let frontier = [root];
      while (frontier.length > 0) {
        const next: Node[] = [];
        const splitting: Node[] = [];
        for (const node of frontier) {
          if (node.split) splitting.push(node);
          else leaves.push(node);
        }
        if (splitting.length === 0) break;
        const pairs = await this.applySplits(splitting);
        for (const [, a, b] of pairs) next.push(a, b);
        await this.childHistograms(pairs);
        frontier = next;
      }
    } else {
      const open: Node[] = [root];
      let numLeaves = 1;
      while (numLeaves < params.num_leaves) {
        let best = -1;
        for (let i = 0; i < open.length; i++) {
          const s = open[i]!.split;
          if (s && (best < 0 || s.gain > open[best]!.split!.gain)) best = i;
        }
        if (best < 0) break;
        const node = open[best]!;
        open.splice(best, 1);
        const [[, a, b]] = await this.applySplits([node]);
        numLeaves++;
        open.push(a, b);
        if (numLeaves < params.num_leaves) await this.childHistograms([[node, a, b]]);
        else {
          mem.releaseSlot(node.slot);
          node.slot = -1;
        }
      }
      for (const node of open) {
        if (node.slot >= 0) mem.releaseSlot(node.slot);
        node.slot = -1;
      }
      leaves.push(...open);
    }
    leaves.sort((a, b) => a.id - b.id);
    // Leaf values and covers from the exact gradients (the splits came from quantized ones).
    const ranges = Int32Array.from(leaves.flatMap((leaf) => [leaf.start, leaf.end]));
    const sums = await mem.finishLeaves(ranges, k, params, addToRaw);
    leaves.forEach((leaf, j) => {
      this.value[leaf.id] = leafValue(sums[2 * j]!, sums[2 * j + 1]!, params);
      this.cover[leaf.id] = sums[2 * j + 1]!;
    });
    for (let id = this.feature.length - 1; id >= 0; id--) {
      if (this.feature[id]! >= 0) this.cover[id] = this.cover[this.left[id]!]! + this.cover[this.right[id]!]!;
    }
    return this.finish();
  }

  private reset(): void {
    for (const a of [this.feature, this.thresholdBin, this.defaultLeft, this.left, this.right, this.value, this.gain, this.cover]) a.length = 0;
  }

  private finish(): { tree: Tree; thresholdBin: Uint8Array } {
    const n = this.feature.length;
    const threshold = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const f = this.feature[i]!;
      threshold[i] = f >= 0 ? this.ctx.bounds[f]![this.thresholdBin[i]!]! : 0;
    }
    const value = Float64Array.from(this.value);
    for (let i = 0; i < n; i++) if (this.feature[i]! >= 0) value[i] = 0;
    return {
      tree: {
        feature: Int32Array.from(this.feature),
        threshold,
        defaultLeft: Uint8Array.from(this.defaultLeft),
        left: Int32Array.from(this.left),
        right: Int32Array.from(this.right),
        value,
        gain: Float64Array.from(this.gain),
        cover: Float64Array.from(this.cover),
      },
      thresholdBin: Uint8Array.from(this.thresholdBin),
    };
  }
}
