import type { ModelConfig } from '../core/config.js';
import { AtelierError } from '../core/errors.js';
import { gather } from '../data/table.js';
import { taskMetrics, type Metrics } from '../evaluation/metrics.js';
import { inputLayout, type FittedTransform } from '../features/transform.js';
import type { EpochReport, FitSummary, TrainedModel } from '../models/family.js';
import { modelFamily } from '../models/registry.js';
import { carveValidation, earlyStoppingOf, fitFeatures, type PreparedData } from './prepare.js';

export interface FittedFold {
  model: TrainedModel;
  transform: FittedTransform;
  summary: FitSummary;
  /** Metrics on `evalRows`, which neither the transform nor the model saw. */
  metrics: Metrics;
  /** The model's row-major outputs on `evalRows` (`model.outputWidth` per row) and their labels. */
  evaluated: { outputs: Float64Array; y: Float64Array };
  rows: { fit: number; validation: number; eval: number };
}

/**
 * Fits features and model on `trainRows` (holding back a validation slice for early stopping)
 * and measures the model on `evalRows`. Training uses it once; cross-validation once per fold.
 */
export async function fitAndEvaluate(
  data: PreparedData,
  config: ModelConfig,
  trainRows: Uint32Array,
  evalRows: Uint32Array,
  onEpoch?: (report: EpochReport) => void,
  warmStart?: string,
): Promise<FittedFold> {
  const family = modelFamily(config.model.family);
  if (warmStart && !family.warmStart) {
    throw new AtelierError('USAGE', `--warm-start: the ${family.name} family does not warm start (its solver does not depend on a starting point)`, {
      field: 'warm-start',
    });
  }
  if (!family.tasks.includes(config.task)) {
    throw new AtelierError('CONFIG_INVALID', `model.family: ${family.name} does not do ${config.task}; it does ${family.tasks.join(', ')}`, {
      field: 'model.family',
    });
  }
  const { transform, inputs } = fitFeatures(data, trainRows);
  // Early stopping watches a validation slice of the training rows, never the eval rows, so the
  // reported metrics are not chosen on the data they are measured on.
  const early = earlyStoppingOf(config, family.earlyStopping?.(config.model));
  const { fitRows, validationRows } = carveValidation(trainRows, data.rowKeys, config, early);
  const y = data.labels.y;
  const { model, summary } = await family.fit({
    layout: inputLayout(transform),
    task: config.task,
    numClasses: data.labels.classes?.length ?? 0,
    train: { x: inputs(fitRows), y: gather(y, fitRows) },
    eval: validationRows ? { x: inputs(validationRows), y: gather(y, validationRows) } : undefined,
    params: config.model,
    training: {
      epochs: config.training.epochs,
      batchSize: config.training.batch_size ?? defaultBatchSize(fitRows.length),
      optimizer: config.training.optimizer,
      learningRate: config.training.learning_rate,
      seed: config.training.seed,
      earlyStoppingPatience: early?.patience,
      schedule: config.training.schedule,
      decayRate: config.training.decay_rate,
      weightDecay: config.training.weight_decay,
    },
    onEpoch,
    warmStart,
  });
  const outputs = await model.predict(inputs(evalRows));
  const evalY = gather(y, evalRows);
  const metrics = taskMetrics(config.task, outputs, model.outputWidth, evalY);
  return {
    model,
    transform,
    summary,
    metrics,
    evaluated: { outputs, y: evalY },
    rows: { fit: fitRows.length, validation: validationRows?.length ?? 0, eval: evalRows.length },
  };
}

/**
 * Rows per step when the config does not say: 32 on small data (many steps an epoch, which early
 * stopping then watches), then about 100 steps an epoch (rows / 100 rounded down to a power of
 * two), at most 1,024 (where the dense kernel's step runs at full speed).
 */
export function defaultBatchSize(rows: number): number {
  if (rows <= 3200) return 32;
  return Math.min(1024, 2 ** Math.floor(Math.log2(rows / 100)));
}
