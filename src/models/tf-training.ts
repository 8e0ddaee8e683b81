import type * as TF from '@tensorflow/tfjs';
import { AtelierError } from '../core/errors.js';
import { loadLayersModel } from './dnn/files.js';
import type { EarlyStopping, EpochReport, Task } from './family.js';

/**
 * Networks stop early by default (the config's `training.early_stopping` left out): on small data
 * a net fitted for all its epochs overfits, so the best epoch on a slice of the training rows is kept.
 */
export const NETWORK_EARLY_STOPPING: EarlyStopping = { patience: 20, validation: 0.2 };

/** Regression labels are standardised for training (stable gradients); classifiers keep 0/1. */
export function targetScale(task: Task, y: Float64Array): { mean: number; std: number } {
  if (task !== 'regression') return { mean: 0, std: 1 };
  // Indexed loops: for-of over a typed array goes through its iterator (tens of ms for 800k labels).
  let mean = 0;
  for (let i = 0; i < y.length; i++) mean += y[i]!;
  mean /= y.length;
  let variance = 0;
  for (let i = 0; i < y.length; i++) variance += (y[i]! - mean) ** 2;
  return { mean, std: Math.sqrt(variance / y.length) || 1 };
}

/** The Keras loss of a task's head. */
export function lossFunction(task: Task): string {
  return task === 'regression' ? 'meanSquaredError' : task === 'binary' ? 'binaryCrossentropy' : 'categoricalCrossentropy';
}

/** Loads a saved network (model.json + weights.bin in `dir`) and copies its weights into `network`. */
export async function warmStartFrom(tf: typeof TF, network: TF.LayersModel, dir: string): Promise<void> {
  const source = await loadLayersModel(tf, dir);
  try {
    copyWeights(source, network);
  } finally {
    source.dispose();
  }
}

/** Copies a saved network's weights into a new one of the same shape, or says what differs. */
export function copyWeights(source: TF.LayersModel, network: TF.LayersModel): void {
  const from = source.getWeights();
  const to = network.getWeights();
  const shape = (ws: TF.Tensor[]) => ws.map((w) => w.shape.join('x')).join(', ');
  if (from.length !== to.length || shape(from) !== shape(to)) {
    throw new AtelierError(
      'CONFIG_INVALID',
      `--warm-start: the registered network has weights [${shape(from)}], this config builds [${shape(to)}]; warm start needs the same features and layers`,
      { field: 'model' },
    );
  }
  network.setWeights(from);
}

/**
 * Early stopping's bookkeeping: keeps a copy of the weights of the best epoch so far, says when
 * `patience` epochs have passed without improvement, and puts the best weights back at the end.
 */
export class BestWeights {
  private loss = Number.POSITIVE_INFINITY;
  private epoch = 0;
  private weights: TF.Tensor[] = [];

  constructor(private readonly patience: number | undefined) {}

  /** Records an epoch's monitored loss; true when training should stop. */
  observe(epoch: number, loss: number, network: TF.LayersModel): boolean {
    if (this.patience === undefined) return false;
    if (loss < this.loss) {
      this.weights.forEach((w) => w.dispose());
      this.loss = loss;
      this.epoch = epoch;
      this.weights = network.getWeights().map((w) => w.clone());
      return false;
    }
    return epoch - this.epoch >= this.patience;
  }

  /** Restores the best weights (when early stopping kept any); returns the best epoch. */
  restore(network: TF.LayersModel, lastEpoch: number): number {
    if (this.weights.length === 0) return lastEpoch;
    network.setWeights(this.weights);
    this.dispose();
    return this.epoch;
  }

  dispose(): void {
    this.weights.forEach((w) => w.dispose());
    this.weights = [];
  }
}

/** Dropout layers get a new seed every step (TF.js's seeded dropout draws the same mask for the same seed). */
export function dropoutLayers(network: TF.LayersModel): { layer: { seed?: number }; seed: number }[] {
  return network.layers
    .filter((l) => l.getClassName() === 'Dropout')
    .map((l) => ({ layer: l as unknown as { seed?: number }, seed: (l as unknown as { seed: number }).seed }));
}


/**
 * An epoch's training loss from the summed batch losses: MSE in standardised units back to RMSE
 * in the label's own units, cross-entropy as is. A non-finite loss means training diverged.
 */
export function epochTrainLoss(task: Task, summed: number, rows: number, std: number, epoch: number): number {
  const loss = task === 'regression' ? Math.sqrt(summed / rows) * std : summed / rows;
  if (!Number.isFinite(loss)) {
    throw new AtelierError('TRAINING_FAILED', `training diverged at epoch ${epoch} (loss ${loss}); lower training.learning_rate`, {
      field: 'training.learning_rate',
    });
  }
  return loss;
}

/** The epoch report of a TF.js family, with its weights for TensorBoard histograms. */
export function networkEpochReport(task: Task, network: TF.LayersModel, epoch: number, epochs: number, trainLoss: number, evalLoss?: number): EpochReport {
  return {
    epoch,
    epochs,
    trainLoss,
    evalLoss,
    lossName: task === 'regression' ? 'rmse' : 'logloss',
    parameters: () => network.weights.map((w) => ({ name: w.originalName ?? w.name, values: w.read().dataSync() as Float32Array })),
  };
}
