import { readFileSync, writeFileSync } from 'node:fs';
import { threadBudget } from '../../core/threads.js';
import { join } from 'node:path';
import type * as TF from '@tensorflow/tfjs';
import type { DnnModelConfig } from '../../core/config.js';
import { AtelierError } from '../../core/errors.js';
import type { Matrix } from '../../features/transform.js';
import { outputWidthOf, type FitInput, type FitSummary, type ModelFamily, type PredictOptions, type Task, type TrainedModel } from '../family.js';
import { taskLoss } from '../losses.js';
import { seededRandom, shuffledIndices, tensorflow } from '../tf.js';
import { fastPathUnsupported } from './fast-train.js';
import { WasmDenseTrainer } from './wasm-train.js';
import { WasmDensePredictor } from './wasm-predict.js';
import { DenseForward } from './dense-forward.js';
import { loadLayersModel, saveLayersModel } from './files.js';
import { buildNetwork, decayKernels, makeOptimizer, scheduledRate, setLearningRate } from './network.js';
import { BestWeights, dropoutLayers, epochTrainLoss, lossFunction, NETWORK_EARLY_STOPPING, networkEpochReport, targetScale, warmStartFrom } from '../tf-training.js';
import { breathe } from '../../core/breathe.js';

/**
 * The label is standardised for regression (stable gradients); predictions are mapped back.
 * Classifiers keep {mean: 0, std: 1} and output probabilities (sigmoid or softmax).
 */
interface TargetScale {
  mean: number;
  std: number;
}

interface HeadInfo {
  task: Task;
  outputs: number;
}

const PREDICT_BATCH = 65536;
/**
 * Batches up to this many rows run through the JavaScript forward pass (dense-forward.ts); larger
 * ones through the wasm kernel when the net is a plain dense regressor (wasm-predict.ts), else TF.js.
 */
export const JS_FORWARD_MAX_ROWS = 16;

class DnnModel implements TrainedModel {
  readonly family = 'dnn';
  readonly outputWidth: number;
  /** The JavaScript forward pass for small batches, made on first use (after training, so it copies the final weights). */
  private forward: DenseForward | undefined | null = null;
  /** The wasm kernel for larger batches of plain dense nets, made on first use like `forward`. */
  private kernel: WasmDensePredictor | undefined | null = null;
  /** Set while fit() changes the weights: predictions then go through TF.js, which reads them live. */
  training = false;
  constructor(
    private readonly tf: typeof TF,
    private readonly network: TF.LayersModel,
    private readonly target: TargetScale,
    private readonly head: HeadInfo,
  ) {
    this.outputWidth = head.outputs;
  }

  predict(x: Matrix, options: PredictOptions = {}): Float64Array {
    if (x.rows <= JS_FORWARD_MAX_ROWS && !this.training && !options.uniform) {
      if (this.forward === null) this.forward = DenseForward.from(this.network);
      if (this.forward && this.forward.inputs === x.cols) return this.unscaled(this.forward.predict(x.data, x.rows));
    }
    if (!this.training) {
      if (this.kernel === null) this.kernel = WasmDensePredictor.from(this.network);
      if (this.kernel && this.kernel.inputs === x.cols) return this.unscaled(this.kernel.predict(x.data, x.rows));
    }
    return this.predictTf(x);
  }

  /** Network outputs mapped back to the label's scale. */
  private unscaled(raw: Float32Array): Float64Array {
    const out = new Float64Array(raw.length);
    for (let i = 0; i < raw.length; i++) out[i] = raw[i]! * this.target.std + this.target.mean;
    return out;
  }

  /** Predictions through TF.js's own predict (every network; the reference the faster paths are held to). */
  predictTf(x: Matrix): Float64Array {
    const width = this.outputWidth;
    const out = new Float64Array(x.rows * width);
    for (let start = 0; start < x.rows; start += PREDICT_BATCH) {
      const rows = Math.min(PREDICT_BATCH, x.rows - start);
      const raw = this.tf.tidy(() => {
        const input = this.tf.tensor2d(x.data.subarray(start * x.cols, (start + rows) * x.cols), [rows, x.cols]);
        // batchSize: predict would otherwise slice the input into batches of 32, one op chain each.
        return (this.network.predict(input, { batchSize: rows }) as TF.Tensor).dataSync() as Float32Array;
      });
      for (let i = 0; i < rows * width; i++) out[start * width + i] = raw[i]! * this.target.std + this.target.mean;
    }
    return out;
  }

  async save(dir: string): Promise<void> {
    await saveLayersModel(this.tf, this.network, dir);
    writeFileSync(join(dir, 'target.json'), JSON.stringify({ ...this.target, ...this.head }));
  }

  parameterSummary(): Record<string, unknown> {
    return {
      parameters: this.network.countParams(),
      layers: this.network.layers.map((l) => ({ name: l.name, class: l.getClassName(), params: l.countParams() })),
      target: this.target,
    };
  }

  dispose(): void {
    this.network.dispose();
  }
}

/**
 * One batch for TF.js: inputs, and targets scaled (regression) or one-hot (multiclass), written
 * into buffers reused for every batch (tensor2d copies them).
 */
function batchOf(x: Matrix, y: Float64Array, order: Uint32Array, start: number, size: number, target: TargetScale, head: HeadInfo, into: { xs: Float32Array; ys: Float32Array }) {
  const cols = x.cols;
  const data = x.data;
  const xs = into.xs.subarray(0, size * cols);
  const ys = into.ys.subarray(0, size * head.outputs);
  if (head.task === 'multiclass') ys.fill(0);
  for (let i = 0; i < size; i++) {
    const r = order[start + i]!;
    for (let c = 0, from = r * cols, to = i * cols; c < cols; c++) xs[to + c] = data[from + c]!;
    if (head.task === 'multiclass') ys[i * head.outputs + y[r]!] = 1;
    else ys[i] = (y[r]! - target.mean) / target.std;
  }
  return { xs, ys };
}

/**
 * Labels as the kernel reads them, [rows, outputs]: regression's scaled to the network's units,
 * binary's 0 or 1, multiclass's one-hot (the targets batchOf gives TF.js).
 */
function kernelLabels(y: Float64Array, target: TargetScale, head: HeadInfo): Float32Array {
  // Plain loops: Float32Array.from with a mapping function took 0.5 s for 400k labels.
  const labels = new Float32Array(y.length * (head.task === 'multiclass' ? head.outputs : 1));
  if (head.task === 'multiclass') for (let i = 0; i < y.length; i++) labels[i * head.outputs + y[i]!] = 1;
  else for (let i = 0; i < y.length; i++) labels[i] = (y[i]! - target.mean) / target.std;
  return labels;
}

/** Below this many training rows a second thread is not worth starting (default thread count). */
const TWO_THREADS_FROM_ROWS = 100_000;
/** Batches this small are not split between threads (a wake-up costs tens of microseconds). */
const TWO_THREADS_FROM_BATCH = 256;

/**
 * Threads for the wasm kernel: as asked (at most 2), else 2 on a large training set when the
 * machine has two cores. The model does not depend on it: the kernel computes the same two halves
 * of each batch either way.
 */
function kernelThreads(asked: number | undefined, rows: number, batchSize: number): number {
  if (batchSize < TWO_THREADS_FROM_BATCH) return 1;
  if (asked !== undefined) return Math.min(asked, 2);
  return rows >= TWO_THREADS_FROM_ROWS && threadBudget() >= 2 ? 2 : 1;
}

export const dnnFamily: ModelFamily<DnnModelConfig> = {
  name: 'dnn',
  warmStart: true,
  earlyStopping: () => NETWORK_EARLY_STOPPING,
  tasks: ['regression', 'binary', 'multiclass'],

  async fit(input: FitInput<DnnModelConfig>) {
    const tf = await tensorflow();
    const { train, training } = input;
    const head: HeadInfo = { task: input.task, outputs: outputWidthOf(input.task, input.numClasses) };
    const target: TargetScale = targetScale(input.task, train.y);

    const network = buildNetwork(tf, train.x.cols, input.params, training.seed, head.outputs, input.task);
    const optimizer = makeOptimizer(tf, training.optimizer, training.learningRate);
    network.compile({ optimizer, loss: lossFunction(input.task) });
    if (input.warmStart) await warmStartFrom(tf, network, input.warmStart);
    // Plain dense nets with Adam train on our own wasm SIMD kernel (wasm-train.ts), which gathers
    // each batch's rows from its copy of the training set and labels (kernelLabels); anything
    // else takes TF.js's own trainOnBatch.
    const onKernel = fastPathUnsupported(network, input.task, training.optimizer) === undefined;
    const scaledLabels = onKernel ? kernelLabels(train.y, target, head) : undefined;
    const fast = scaledLabels
      ? await WasmDenseTrainer.create(tf, network, {
          learningRate: training.learningRate,
          threads: kernelThreads(input.params.threads ?? input.training.threads, train.x.rows, training.batchSize),
          maxBatch: Math.min(training.batchSize, train.x.rows),
          data: { x: train.x.data, y: scaledLabels },
          deferCopy: true,
        })
      : undefined;
    const model = new DnnModel(tf, network, target, head);
    model.training = true;
    const random = seededRandom(training.seed);
    // TF.js's seeded dropout draws the same mask for the same seed: a new seed every step.
    const dropouts = dropoutLayers(network);
    let step = 0;

    const buffers = fast ? undefined : { xs: new Float32Array(training.batchSize * train.x.cols), ys: new Float32Array(training.batchSize * head.outputs) };
    const best = new BestWeights(training.earlyStoppingPatience);
    let epochsRun = 0;
    let stoppedEarly = false;
    try {
      for (let epoch = 1; epoch <= training.epochs; epoch++) {
        const rate = scheduledRate(training.learningRate, epoch, training.epochs, training.schedule, training.decayRate);
        if (fast) fast.learningRate = rate;
        else setLearningRate(optimizer, rate);
        // The first epoch gathers rows in JavaScript; a second one repays copying the set into the kernel.
        if (epoch === 2) fast?.copyData();
        const order = shuffledIndices(train.x.rows, random);
        let squared = 0;
        for (let start = 0; start < order.length; start += training.batchSize) {
          const size = Math.min(training.batchSize, order.length - start);
          let batchLoss: number;
          if (fast) {
            batchLoss = fast.stepRows({ x: train.x.data, y: scaledLabels!, order, start, size });
          } else {
            const { xs, ys } = batchOf(train.x, train.y, order, start, size, target, head, buffers!);
            const xt = tf.tensor2d(xs, [size, train.x.cols]);
            const yt = tf.tensor2d(ys, [size, head.outputs]);
            step++;
            for (const d of dropouts) d.layer.seed = d.seed + 7919 * step;
            const loss = await network.trainOnBatch(xt, yt);
            xt.dispose();
            yt.dispose();
            if (training.optimizer === 'adamw') decayKernels(tf, network, rate * (training.weightDecay ?? 0.01));
            batchLoss = Array.isArray(loss) ? loss[0]! : loss;
          }
          squared += batchLoss * size;
          const pause = breathe();
          if (pause) await pause;
        }
        // The fast path keeps its own weights; predict, histograms and early stopping read the network.
        fast?.syncToNetwork();
        let trainLoss: number;
        try {
          trainLoss = epochTrainLoss(input.task, squared, order.length, target.std, epoch);
        } catch (error) {
          network.dispose();
          throw error;
        }
        const evalLoss = input.eval ? taskLoss(input.task, await model.predict(input.eval.x), head.outputs, input.eval.y).value : undefined;
        epochsRun = epoch;
        input.onEpoch?.(networkEpochReport(input.task, network, epoch, training.epochs, trainLoss, evalLoss));
        if (best.observe(epoch, evalLoss ?? trainLoss, network)) {
          stoppedEarly = true;
          break;
        }
      }
    } finally {
      await fast?.close();
    }
    // The saved config keeps the seeds the network was built with.
    for (const d of dropouts) d.layer.seed = d.seed;
    const bestEpoch = best.restore(network, epochsRun);
    model.training = false;
    const summary: FitSummary = { epochsRun, bestEpoch, stoppedEarly };
    return { model, summary };
  },

  async load(dir: string) {
    const tf = await tensorflow();
    const network = await loadLayersModel(tf, dir);
    const saved = JSON.parse(readFileSync(join(dir, 'target.json'), 'utf8')) as TargetScale & Partial<HeadInfo>;
    const head: HeadInfo = { task: saved.task ?? 'regression', outputs: saved.outputs ?? 1 };
    return new DnnModel(tf, network, { mean: saved.mean, std: saved.std }, head);
  },
};
