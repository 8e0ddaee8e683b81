import type { InputLayout, Matrix } from '../features/transform.js';

export type { InputLayout };

export type Task = 'regression' | 'binary' | 'multiclass';

/** One epoch's (or iteration's) figures: RMSE in the label's units, or log loss. */
export interface EpochReport {
  epoch: number;
  epochs: number;
  trainLoss: number;
  evalLoss?: number;
  /** Name of the loss, for display and metric keys: "rmse", "logloss". */
  lossName: string;
  /** The learned parameters now, by name (nets: each weight tensor), for weight histograms. */
  parameters?: () => { name: string; values: ArrayLike<number> }[];
}

export interface FitInput<P> {
  /** The columns of `train.x`, feature by feature (families that treat categories apart use it). */
  layout?: InputLayout[];
  task: Task;
  /** Number of classes (2 for binary); 0 for regression. */
  numClasses: number;
  /** Labels: the target value (regression) or the class index (classification). */
  train: { x: Matrix; y: Float64Array };
  eval?: { x: Matrix; y: Float64Array };
  params: P;
  training: {
    epochs: number;
    batchSize: number;
    optimizer: string;
    learningRate: number;
    seed: number;
    earlyStoppingPatience?: number;
    threads?: number;
    /** Learning-rate schedule over epochs and AdamW's decoupled weight decay (nets). */
    schedule?: 'constant' | 'exponential' | 'cosine';
    decayRate?: number;
    weightDecay?: number;
  };
  onEpoch?: (report: EpochReport) => void;
  /** A saved model of the same family (its model/ folder) whose weights training starts from. */
  warmStart?: string;
}

export interface FitSummary {
  epochsRun: number;
  bestEpoch: number;
  stoppedEarly: boolean;
}

export interface PredictOptions {
  /**
   * One code path whatever the number of rows, so that a row's answer does not depend on the
   * batch it falls in (batch prediction's last chunk is short). Otherwise a family may answer
   * small batches another way (the DNN's forward pass in JavaScript, to float32 rounding).
   */
  uniform?: boolean;
}

/**
 * A trained model of any family: what bundles load and what serving calls. `predict` returns
 * `rows * outputWidth` values, row-major: the prediction (regression), the probability of the
 * positive class (binary), or one probability per class (multiclass).
 */
export interface TrainedModel {
  readonly family: string;
  readonly outputWidth: number;
  /** Synchronous: batch prediction calls it from inside a DuckDB scan (a scalar function). */
  predict(x: Matrix, options?: PredictOptions): Float64Array;
  /** Writes the family's own files into `dir` (the bundle's model/ folder). */
  save(dir: string): Promise<void>;
  /** Counts and shapes of the learned parameters, for the registry. */
  parameterSummary(): Record<string, unknown>;
  dispose(): void;
}

/**
 * Early stopping: epochs (or rounds) without improvement, and the fraction of training rows
 * watched. A family's default may leave the patience to the family (GBDT sets it by learning rate).
 */
export interface EarlyStopping {
  patience?: number;
  validation: number;
}

/** A model family is one object: fit and load. */
export interface ModelFamily<P> {
  readonly name: string;
  readonly tasks: readonly Task[];
  /**
   * Early stopping when the config leaves `training.early_stopping` out, for this model config (a
   * family opts in by giving its default; GBDT only when the config does not fix n_estimators);
   * without it, only a config that asks for early stopping gets it.
   */
  earlyStopping?(params: P): EarlyStopping | undefined;
  /** Whether fit can start from a saved model's weights (FitInput.warmStart). */
  readonly warmStart: boolean;
  fit(input: FitInput<P>): Promise<{ model: TrainedModel; summary: FitSummary }>;
  load(dir: string): Promise<TrainedModel>;
}

export function outputWidthOf(task: Task, numClasses: number): number {
  return task === 'multiclass' ? numClasses : 1;
}
