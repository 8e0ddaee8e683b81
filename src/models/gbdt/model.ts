/**
 * A trained boosted-trees model: raw-feature prediction, JSON form, feature importance.
 * Prediction needs no binning state: thresholds are stored in raw feature units.
 */
import { makeObjective, type Objective, type ObjectiveName } from './objectives.js';
import { addForest, compileForest, type Forest } from './forest.js';
import type { Tree } from './tree.js';

/** A row-major matrix: value (i, j) at data[i * cols + j]; NaN = missing. */
export interface FeatureMatrix {
  data: Float32Array | Float64Array;
  rows: number;
  cols: number;
}

export interface TreeJSON {
  /** Split feature per node, -1 for a leaf. */
  feature: number[];
  /** x <= threshold goes left; null stands for +Infinity (missing-vs-present splits). */
  threshold: (number | null)[];
  /** 1 when missing values go left. */
  default_left: number[];
  left: number[];
  right: number[];
  /** Leaf value (learning rate applied); 0 on internal nodes. */
  value: number[];
  /** Split gain (loss reduction); 0 on leaves. */
  gain: number[];
  /** Hessian sum of the node's training rows. */
  cover: number[];
}

export interface GbdtModelJSON {
  format: 'atelier-gbdt';
  version: 1;
  objective: ObjectiveName;
  num_class: number;
  num_features: number;
  /** Raw score every row starts from, one per output. */
  base_score: number[];
  /** Trees of iteration it for output k at index it * outputs + k. */
  trees: TreeJSON[];
  /** Iterations kept (the best one with early stopping), and iterations trained. */
  best_iteration: number;
  iterations_trained: number;
  loss_name: string;
  params: Record<string, unknown>;
}

function checkMatrix(x: FeatureMatrix, cols: number): void {
  if (x.cols !== cols) throw new Error(`the model takes ${cols} features, the matrix has ${x.cols} columns`);
  if (x.data.length < x.rows * x.cols) throw new Error(`matrix data holds ${x.data.length} values, fewer than rows × cols = ${x.rows * x.cols}`);
}

export class GbdtModel {
  readonly objective: Objective;
  /** The trees flattened for prediction, built on first use. */
  private forest: Forest | undefined;
  constructor(
    readonly objectiveName: ObjectiveName,
    /** Outputs per row: num_class for multiclass, else 1. */
    readonly outputs: number,
    readonly numFeatures: number,
    readonly baseScore: Float64Array,
    readonly trees: Tree[],
    readonly bestIteration: number,
    readonly iterationsTrained: number,
    readonly params: Record<string, unknown> = {},
  ) {
    this.objective = makeObjective(objectiveName, outputs > 1 ? outputs : undefined);
  }

  /** Boosting iterations in the model. */
  get iterations(): number {
    return this.trees.length / this.outputs;
  }

  /** Raw scores, row-major rows × outputs (margins: before sigmoid / softmax). */
  predictRaw(x: FeatureMatrix): Float64Array {
    checkMatrix(x, this.numFeatures);
    const K = this.outputs;
    const out = new Float64Array(x.rows * K);
    for (let i = 0; i < x.rows; i++) for (let k = 0; k < K; k++) out[i * K + k] = this.baseScore[k]!;
    this.forest ??= compileForest(this.trees, K);
    addForest(this.forest, x.data, x.rows, x.cols, out);
    return out;
  }

  /** Outputs: the value (regression), P(y = 1) (binary), class probabilities row-major (multiclass). */
  predict(x: FeatureMatrix): Float64Array {
    const raw = this.predictRaw(x);
    return this.objective.transform(raw, raw);
  }

  /** Most probable class per row (multiclass), or probability >= 0.5 (binary). */
  predictClass(x: FeatureMatrix): Int32Array {
    const p = this.predict(x);
    const K = this.outputs;
    const out = new Int32Array(x.rows);
    for (let i = 0; i < x.rows; i++) {
      if (K === 1) out[i] = p[i]! >= 0.5 ? 1 : 0;
      else {
        let best = 0;
        for (let k = 1; k < K; k++) if (p[i * K + k]! > p[i * K + best]!) best = k;
        out[i] = best;
      }
    }
    return out;
  }

  /** Total split gain per feature over all trees (unnormalised). */
  featureImportance(): Float64Array {
    const out = new Float64Array(this.numFeatures);
    for (const tree of this.trees) for (let i = 0; i < tree.feature.length; i++) if (tree.feature[i]! >= 0) out[tree.feature[i]!] += tree.gain[i]!;
    return out;
  }

  toJSON(): GbdtModelJSON {
    return {
      format: 'atelier-gbdt',
      version: 1,
      objective: this.objectiveName,
      num_class: this.outputs,
      num_features: this.numFeatures,
      base_score: Array.from(this.baseScore),
      trees: this.trees.map((t) => ({
        feature: Array.from(t.feature),
        threshold: Array.from(t.threshold, (v) => (v === Number.POSITIVE_INFINITY ? null : v)),
        default_left: Array.from(t.defaultLeft),
        left: Array.from(t.left),
        right: Array.from(t.right),
        value: Array.from(t.value),
        gain: Array.from(t.gain),
        cover: Array.from(t.cover),
      })),
      best_iteration: this.bestIteration,
      iterations_trained: this.iterationsTrained,
      loss_name: this.objective.lossName,
      params: this.params,
    };
  }

  /** From toJSON()'s object or its JSON text. */
  static fromJSON(input: GbdtModelJSON | string): GbdtModel {
    const json = (typeof input === 'string' ? JSON.parse(input) : input) as GbdtModelJSON;
    if (json.format !== 'atelier-gbdt' || json.version !== 1) throw new Error('not an atelier-gbdt model (format/version)');
    const trees: Tree[] = json.trees.map((t, i) => {
      const n = t.feature.length;
      for (const key of ['threshold', 'default_left', 'left', 'right', 'value'] as const) {
        if (t[key].length !== n) throw new Error(`tree ${i}: ${key} has ${t[key].length} entries, feature has ${n}`);
      }
      const tree: Tree = {
        feature: Int32Array.from(t.feature),
        threshold: Float64Array.from(t.threshold, (v) => (v === null ? Number.POSITIVE_INFINITY : v)),
        defaultLeft: Uint8Array.from(t.default_left),
        left: Int32Array.from(t.left),
        right: Int32Array.from(t.right),
        value: Float64Array.from(t.value),
        gain: Float64Array.from(t.gain ?? new Array<number>(n).fill(0)),
        cover: Float64Array.from(t.cover ?? new Array<number>(n).fill(0)),
      };
      for (let j = 0; j < n; j++) {
        const f = tree.feature[j]!;
        if (f >= json.num_features) throw new Error(`tree ${i} node ${j}: feature ${f} out of range`);
        if (f >= 0 && !(tree.left[j]! > j && tree.left[j]! < n && tree.right[j]! > j && tree.right[j]! < n)) {
          throw new Error(`tree ${i} node ${j}: children must come after their parent`);
        }
      }
      return tree;
    });
    if (trees.length % json.num_class !== 0) throw new Error('tree count is not a multiple of num_class');
    return new GbdtModel(json.objective, json.num_class, json.num_features, Float64Array.from(json.base_score), trees, json.best_iteration, json.iterations_trained, json.params ?? {});
  }
}
