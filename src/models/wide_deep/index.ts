/**
 * Wide & deep (Cheng et al. 2016; TF Estimators' DNNLinearCombinedRegressor / Classifier) on
 * TF.js wasm. The wide part is linear over the one_hot columns and, for each index column, a
 * per-category weight table; the deep part is an MLP over the dense columns and a learned
 * embedding of each index column; their logits are summed under the task's head. The network and
 * its inputs: network.ts. Parameters and their defaults: params.ts.
 *
 * Training follows the dnn family: the label standardised for regression, batches in a seeded
 * order, loss reported as RMSE (label units) or log loss, learning-rate schedules, AdamW as Adam
 * plus decoupled decay (here of kernels and embedding tables), warm start from a saved model of
 * the same inputs, early stopping on FitInput.eval keeping the best weights, the same seed giving
 * the same weights. Departures from TF's estimator: one
 * optimizer (training.optimizer) for both parts, where TF defaults to FTRL (wide) and Adagrad
 * (deep); TF.js has no FTRL. Dropout masks change every step (TF.js's seeded dropout would repeat
 * one mask; see docs/wasm-kernels.md).
 *
 * Files: model.json + weights.bin (TF.js layers format, stock layers only) and wide_deep.json
 * (input plan, label scale, head).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as TF from '@tensorflow/tfjs';
import { AtelierError } from '../../core/errors.js';
import type { Matrix } from '../../features/transform.js';
import { loadLayersModel, saveLayersModel } from '../dnn/files.js';
import { outputWidthOf, type FitInput, type FitSummary, type ModelFamily, type Task, type TrainedModel } from '../family.js';
import { taskLoss } from '../losses.js';
import { seededRandom, shuffledIndices, tensorflow } from '../tf.js';
import { scheduledRate, setLearningRate } from '../dnn/network.js';
import { buildNetwork, decayWeights, inputWidths, makeOptimizer, planInputs, splitRows, type InputPlan } from './network.js';
import { resolveParams, type WideDeepParams } from './params.js';
import { BestWeights, dropoutLayers, epochTrainLoss, lossFunction, NETWORK_EARLY_STOPPING, networkEpochReport, targetScale, warmStartFrom } from '../tf-training.js';

export { WIDE_DEEP_ACTIVATIONS, WIDE_DEEP_PARAMS, defaultParams, embeddingDimFor, resolveParams, type WideDeepActivation, type WideDeepParams } from './params.js';
export { OPTIMIZERS, planInputs, type InputPlan } from './network.js';

export const META_FILE = 'wide_deep.json';
const PREDICT_BATCH = 8192;

/** Label scale (regression: standardised; classifiers {0, 1}) and the head. */
interface WideDeepMeta {
  formatVersion: 1;
  task: Task;
  outputs: number;
  mean: number;
  std: number;
  plan: InputPlan;
  params: WideDeepParams;
}

export class WideDeepModel implements TrainedModel {
  readonly family = 'wide_deep';
  readonly outputWidth: number;
  constructor(
    private readonly tf: typeof TF,
    readonly network: TF.LayersModel,
    readonly meta: WideDeepMeta,
  ) {
    this.outputWidth = meta.outputs;
  }

  /** The network's raw output for rows start.. of x (tensors disposed). */
  private run(x: Matrix, start: number, rows: number): Float32Array {
    const parts = splitRows(this.meta.plan, x, start, rows);
    const widths = inputWidths(this.meta.plan);
    return this.tf.tidy(() => {
      const inputs = parts.map((p, k) => this.tf.tensor2d(p, [rows, widths[k]!]));
      return (this.network.predict(inputs) as TF.Tensor).dataSync() as Float32Array;
    });
  }

  predict(x: Matrix): Float64Array {
    if (x.cols !== this.meta.plan.cols) {
      throw new AtelierError('INPUT_INVALID', `wide_deep model expects ${this.meta.plan.cols} input columns, got ${x.cols}`);
    }
    const width = this.outputWidth;
    const out = new Float64Array(x.rows * width);
    for (let start = 0; start < x.rows; start += PREDICT_BATCH) {
      const rows = Math.min(PREDICT_BATCH, x.rows - start);
      const raw = this.run(x, start, rows);
      for (let i = 0; i < rows * width; i++) out[start * width + i] = raw[i]! * this.meta.std + this.meta.mean;
    }
    return out;
  }

  async save(dir: string): Promise<void> {
    await saveLayersModel(this.tf, this.network, dir);
    writeFileSync(join(dir, META_FILE), JSON.stringify(this.meta));
  }

  parameterSummary(): Record<string, unknown> {
    const count = (prefix: RegExp) => this.network.layers.filter((l) => prefix.test(l.name)).reduce((n, l) => n + l.countParams(), 0);
    return {
      parameters: this.network.countParams(),
      wideParameters: count(/^wide_/),
      deepParameters: count(/^(embedding_|hidden_|deep_logits)/),
      embeddings: this.meta.plan.index.map((f) => ({ feature: f.name, categories: f.size, dim: f.dim })),
      layers: this.network.layers.filter((l) => l.countParams() > 0).map((l) => ({ name: l.name, class: l.getClassName(), params: l.countParams() })),
      target: { mean: this.meta.mean, std: this.meta.std },
    };
  }

  dispose(): void {
    this.network.dispose();
  }
}

function checkInput(input: FitInput<unknown>): void {
  const { train, task } = input;
  if (!input.layout) {
    throw new AtelierError(
      'TRAINING_FAILED',
      'wide_deep needs FitInput.layout (which matrix columns are dense numbers, one_hot groups or category indices); pass inputLayout(transform)',
    );
  }
  if (train.x.rows < 1 || train.y.length !== train.x.rows) {
    throw new AtelierError('DATA_TOO_SMALL', `wide_deep: ${train.x.rows} training rows and ${train.y.length} labels`, { expected: 'at least 1 row' });
  }
  const classes = task === 'binary' ? 2 : input.numClasses;
  if (task === 'multiclass' && !(Number.isInteger(classes) && classes >= 2)) {
    throw new AtelierError('TRAINING_FAILED', `wide_deep: multiclass needs at least 2 classes, got ${input.numClasses}`);
  }
  for (let i = 0; i < train.y.length; i++) {
    const v = train.y[i]!;
    const ok = task === 'regression' ? Number.isFinite(v) : Number.isInteger(v) && v >= 0 && v < classes;
    if (!ok) {
      const expected = task === 'regression' ? 'a finite number' : `a class index 0..${classes - 1}`;
      throw new AtelierError('TRAINING_FAILED', `wide_deep: label of training row ${i} is ${v}, expected ${expected}`, { row: i, expected });
    }
  }
}

/** Copies a saved model's weights into a new network built from the same plan, or says what differs. */
async function warmStartChecked(tf: typeof TF, network: TF.LayersModel, plan: InputPlan, dir: string): Promise<void> {
  const saved = JSON.parse(readFileSync(join(dir, META_FILE), 'utf8')) as WideDeepMeta;
  if (JSON.stringify(saved.plan) !== JSON.stringify(plan)) {
    throw new AtelierError('CONFIG_INVALID', '--warm-start: the registered wide_deep model was trained on other input columns (features, categories or embedding widths differ)', {
      field: 'model',
    });
  }
  await warmStartFrom(tf, network, dir);
}

export const wideDeepFamily: ModelFamily<WideDeepParams> = {
  name: 'wide_deep',
  warmStart: true,
  earlyStopping: () => NETWORK_EARLY_STOPPING,
  tasks: ['regression', 'binary', 'multiclass'],

  async fit(input: FitInput<WideDeepParams>) {
    checkInput(input);
    let params: WideDeepParams;
    let plan: InputPlan;
    try {
      params = resolveParams((input.params ?? {}) as Partial<WideDeepParams> & { family?: string });
      plan = planInputs(input.layout!, input.train.x.cols, params);
    } catch (e) {
      throw new AtelierError('CONFIG_INVALID', (e as Error).message);
    }
    const { train, training } = input;
    // Category indices must be valid in the training rows (a mismatch means a wrong layout).
    try {
      splitRows(plan, train.x, 0, train.x.rows, undefined, true);
    } catch (e) {
      throw new AtelierError('TRAINING_FAILED', (e as Error).message);
    }
    const tf = await tensorflow();
    const outputs = outputWidthOf(input.task, input.numClasses);
    const { mean, std } = targetScale(input.task, train.y);
    const meta: WideDeepMeta = { formatVersion: 1, task: input.task, outputs, mean, std, plan, params };

    const network = buildNetwork(tf, plan, params, training.seed, outputs, input.task);
    const loss = lossFunction(input.task);
    let optimizer: TF.Optimizer;
    try {
      optimizer = makeOptimizer(tf, training.optimizer, training.learningRate);
    } catch (e) {
      network.dispose();
      throw new AtelierError('CONFIG_INVALID', (e as Error).message, { field: 'training.optimizer' });
    }
    network.compile({ optimizer, loss });
    if (input.warmStart) {
      try {
        await warmStartChecked(tf, network, plan, input.warmStart);
      } catch (e) {
        network.dispose();
        throw e;
      }
    }
    const model = new WideDeepModel(tf, network, meta);
    const random = seededRandom(training.seed);
    const dropouts = dropoutLayers(network);
    const widths = inputWidths(plan);

    const best = new BestWeights(training.earlyStoppingPatience);
    let epochsRun = 0;
    let stoppedEarly = false;
    let step = 0;
    try {
      for (let epoch = 1; epoch <= training.epochs; epoch++) {
        const rate = scheduledRate(training.learningRate, epoch, training.epochs, training.schedule, training.decayRate);
        setLearningRate(optimizer, rate);
        const order = shuffledIndices(train.x.rows, random);
        let total = 0;
        for (let start = 0; start < order.length; start += training.batchSize) {
          const size = Math.min(training.batchSize, order.length - start);
          const parts = splitRows(plan, train.x, start, size, order);
          const ys = new Float32Array(size * outputs);
          for (let i = 0; i < size; i++) {
            const r = order[start + i]!;
            if (input.task === 'multiclass') ys[i * outputs + train.y[r]!] = 1;
            else ys[i] = (train.y[r]! - mean) / std;
          }
          step++;
          for (const d of dropouts) d.layer.seed = d.seed + 7919 * step;
          const xt = parts.map((p, k) => tf.tensor2d(p, [size, widths[k]!]));
          const yt = tf.tensor2d(ys, [size, outputs]);
          const value = await network.trainOnBatch(xt, yt);
          xt.forEach((t) => t.dispose());
          yt.dispose();
          if (training.optimizer === 'adamw') decayWeights(tf, network, rate * (training.weightDecay ?? 0.01));
          total += (Array.isArray(value) ? value[0]! : value) * size;
        }
        const trainLoss = epochTrainLoss(input.task, total, order.length, std, epoch);
        const evalLoss = input.eval ? taskLoss(input.task, await model.predict(input.eval.x), outputs, input.eval.y).value : undefined;
        epochsRun = epoch;
        input.onEpoch?.(networkEpochReport(input.task, network, epoch, training.epochs, trainLoss, evalLoss));
        if (best.observe(epoch, evalLoss ?? trainLoss, network)) {
          stoppedEarly = true;
          break;
        }
      }
    } catch (e) {
      best.dispose();
      network.dispose();
      throw e;
    } finally {
      // The saved config keeps the seeds the network was built with.
      for (const d of dropouts) d.layer.seed = d.seed;
    }
    const bestEpoch = best.restore(network, epochsRun);
    const summary: FitSummary = { epochsRun, bestEpoch, stoppedEarly };
    return { model, summary };
  },

  async load(dir: string) {
    const tf = await tensorflow();
    const meta = JSON.parse(readFileSync(join(dir, META_FILE), 'utf8')) as WideDeepMeta;
    if (meta.formatVersion !== 1) throw new AtelierError('BUNDLE_INVALID', `${join(dir, META_FILE)}: unknown formatVersion ${String(meta.formatVersion)}`);
    const network = await loadLayersModel(tf, dir);
    return new WideDeepModel(tf, network, meta);
  },
};
