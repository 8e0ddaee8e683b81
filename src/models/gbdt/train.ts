/**
 * trainGbdt: binning, the boosting loop, early stopping.
 */
import { GbdtModel, type FeatureMatrix } from './model.js';
import { makeObjective } from './objectives.js';
import { resolveParams, type GbdtParams } from './params.js';
import { TrainingMemory } from './pool.js';
import { seededRandom } from '../../core/random.js';
import type { BinnedTree } from './boost.js';
import { addTreeToRaw, TreeGrower, type Tree } from './tree.js';

export interface GbdtData {
  x: FeatureMatrix;
  /** Labels: values (regression), 0/1 (binary), class indices (multiclass). */
  y: ArrayLike<number>;
}

export interface TrainOptions {
  eval?: GbdtData;
  /** Called after every iteration (1-based) with the train loss and, given an eval set, the eval loss. */
  onIteration?: (iteration: number, trainLoss: number, evalLoss: number | undefined) => void;
}

/** `count` distinct indices of 0..n-1, seeded, ascending. */
function sampleIndices(n: number, count: number, random: () => number): Uint32Array {
  const all = new Uint32Array(n);
  for (let i = 0; i < n; i++) all[i] = i;
  for (let i = 0; i < count; i++) {
    const j = i + Math.floor(random() * (n - i));
    const t = all[i]!;
    all[i] = all[j]!;
    all[j] = t;
  }
  return all.slice(0, count).sort();
}

function checkData(name: string, d: GbdtData, cols?: number): void {
  const { x, y } = d;
  if (!(Number.isInteger(x.rows) && x.rows >= 1 && Number.isInteger(x.cols) && x.cols >= 1)) throw new Error(`${name}: the matrix needs at least one row and one column`);
  if (x.data.length < x.rows * x.cols) throw new Error(`${name}: matrix data holds ${x.data.length} values, fewer than rows × cols`);
  if (y.length !== x.rows) throw new Error(`${name}: ${y.length} labels for ${x.rows} rows`);
  if (cols !== undefined && x.cols !== cols) throw new Error(`${name}: ${x.cols} columns, the training data has ${cols}`);
}

/** Trains a gradient-boosted trees model (histogram method). */
export async function trainGbdt(train: GbdtData, params: Partial<GbdtParams> = {}, options: TrainOptions = {}): Promise<GbdtModel> {
  const p = resolveParams(params);
  checkData('train', train);
  const { x } = train;
  const n = x.rows;
  const F = x.cols;
  const y = Float64Array.from(train.y);
  if (options.eval) checkData('eval', options.eval, F);
  const evalY = options.eval ? Float64Array.from(options.eval.y) : undefined;
  if (p.early_stopping_rounds !== undefined && !options.eval) throw new Error('early_stopping_rounds needs an eval set');

  let numClass = p.num_class;
  if (p.objective === 'multiclass' && numClass === undefined) {
    let max = 0;
    for (let i = 0; i < n; i++) max = Math.max(max, y[i]!);
    numClass = Math.max(2, max + 1);
  }
  const objective = makeObjective(p.objective, numClass);
  objective.checkLabels(y);
  if (evalY) objective.checkLabels(evalY);
  const K = objective.numOutputs;
  const random = seededRandom(p.seed);

  // Bins: bounds from a seeded row sample, then the whole matrix, row-major.
  const sample = n > p.bin_sample_rows ? sampleIndices(n, p.bin_sample_rows, random) : undefined;
  const threads = n * F >= p.parallel_min_cells ? Math.min(p.threads, F) : 1;
  const mem = new TrainingMemory(n, F, K, threads);
  try {
    await mem.start();
    const bounds = await mem.binMatrix(x.data, p.max_bin, sample);
    const numBins = Int32Array.from(bounds, (b) => b.length);

    const grower = new TreeGrower({ mem, params: p, numBins, bounds });
    const base = objective.initScore(y);
    // Labels and raw scores live in shared memory: the per-row steps run on every thread.
    mem.y.set(y);
    const raw = mem.raw;
    for (let i = 0; i < n; i++) for (let k = 0; k < K; k++) raw[i * K + k] = base[k]!;
    const evalRaw = options.eval ? new Float64Array(options.eval.x.rows * K) : undefined;
    if (evalRaw) for (let i = 0; i < evalRaw.length; i++) evalRaw[i] = base[i % K]!;

    const trees: Tree[] = [];
    const allFeatures = Int32Array.from({ length: F }, (_, f) => f);
    const featureCount = Math.max(1, Math.round(F * p.colsample_bytree));
    // This iteration's row sample (shared by its K trees: each starts again from it).
    const sampledRows = p.subsample < 1 ? new Uint32Array(n) : new Uint32Array(0);
    let best = { loss: Number.POSITIVE_INFINITY, iteration: 0 };
    let iterations = 0;
    // An iteration's training loss comes with the next iteration's gradients (the same pass over
    // the rows, on every thread), so its report waits until then; the last one gets a pass of its own.
    let unreported: { iteration: number; evalLoss: number | undefined } | undefined;
    for (let it = 1; it <= p.n_estimators; it++) {
      const { stats, lossSum } = await mem.gradients(p.objective);
      if (unreported) options.onIteration?.(unreported.iteration, objective.lossOf(lossSum, n), unreported.evalLoss);
      await mem.quantize(Math.floor(random() * 2 ** 32), stats);
      // Row sample of this iteration (shared by its K trees), ascending.
      let count = n;
      const sampled = p.subsample < 1;
      const sample = sampledRows;
      // Sampled iterations add their trees to every row's raw score at the end (binned).
      const binned: BinnedTree[] = [];
      for (let k = 0; k < K; k++) {
        const rows = mem.rows;
        if (sampled) {
          if (k === 0) {
            count = 0;
            for (let i = 0; i < n; i++) if (random() < p.subsample) sample[count++] = i;
            if (count === 0) sample[count++] = Math.floor(random() * n);
          }
          rows.set(sample.subarray(0, count));
        } else for (let i = 0; i < n; i++) rows[i] = i;
        let features = allFeatures;
        if (featureCount < F) {
          const order = allFeatures.slice();
          for (let i = 0; i < featureCount; i++) {
            const j = i + Math.floor(random() * (F - i));
            const t = order[i]!;
            order[i] = order[j]!;
            order[j] = t;
          }
          features = order.slice(0, featureCount).sort();
        }
        // Unsampled, the tree's leaves add their values to their rows' raw scores as they finish.
        const { tree, thresholdBin } = await grower.grow(count, k, features, mem.scales[k]!, !sampled);
        trees.push(tree);
        if (sampled) binned.push({ ...tree, thresholdBin, k });
        if (evalRaw) addTreeToRaw(tree, options.eval!.x.data, options.eval!.x.rows, F, evalRaw, K, k);
      }
      if (binned.length > 0) await mem.addTrees(binned);
      iterations = it;
      const evalLoss = evalRaw ? objective.loss(evalY!, evalRaw) : undefined;
      unreported = { iteration: it, evalLoss };
      if (evalLoss !== undefined && p.early_stopping_rounds !== undefined) {
        if (evalLoss < best.loss) best = { loss: evalLoss, iteration: it };
        else if (it - best.iteration >= p.early_stopping_rounds) break;
      }
    }
    if (unreported) options.onIteration?.(unreported.iteration, objective.loss(y, raw), unreported.evalLoss);
    const kept = p.early_stopping_rounds !== undefined ? best.iteration : iterations;
    const { threads: _t, parallel_min_cells: _c, ...recorded } = p;
    return new GbdtModel(p.objective, K, F, base, trees.slice(0, kept * K), kept, iterations, { ...recorded, num_class: K > 1 ? K : undefined });
  } finally {
    await mem.close();
  }
}
