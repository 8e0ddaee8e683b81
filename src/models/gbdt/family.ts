import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AtelierError } from '../../core/errors.js';
import type { Matrix } from '../../features/transform.js';
import { outputWidthOf, type FitInput, type ModelFamily, type TrainedModel } from '../family.js';
import { GbdtModel } from './model.js';
import { ADAPTIVE, adaptiveDefaults, defaultPatience, refits, resolveParams, type GbdtParams } from './params.js';
import { trainGbdt } from './train.js';

const MODEL_FILE = 'gbdt.json';

/** The ModelFamily adapter: the algorithm lives beside it (train.ts, tree.ts, model.ts). */
class GbdtTrained implements TrainedModel {
  readonly family = 'gbdt';
  constructor(
    private readonly model: GbdtModel,
    readonly outputWidth: number,
  ) {}

  predict(x: Matrix): Float64Array {
    return this.model.predict(x);
  }

  async save(dir: string): Promise<void> {
    writeFileSync(join(dir, MODEL_FILE), JSON.stringify(this.model.toJSON()));
  }

  parameterSummary(): Record<string, unknown> {
    const trees = this.model.trees;
    const leaves = trees.reduce((n, t) => n + t.value.length, 0);
    return {
      trees: trees.length,
      iterations: this.model.iterations,
      bestIteration: this.model.bestIteration,
      nodes: leaves,
      importance: Array.from(this.model.featureImportance()),
    };
  }

  featureImportance(): Float64Array {
    return this.model.featureImportance();
  }

  dispose(): void {}
}

/** The rows of both sets, train's first. */
function joinRows(a: { x: Matrix; y: Float64Array }, b: { x: Matrix; y: Float64Array }): { x: Matrix; y: Float64Array } {
  const data = new Float32Array((a.x.rows + b.x.rows) * a.x.cols);
  data.set(a.x.data.subarray(0, a.x.rows * a.x.cols));
  data.set(b.x.data.subarray(0, b.x.rows * b.x.cols), a.x.rows * a.x.cols);
  const y = new Float64Array(a.y.length + b.y.length);
  y.set(a.y);
  y.set(b.y, a.y.length);
  return { x: { data, rows: a.x.rows + b.x.rows, cols: a.x.cols }, y };
}

/** Config keys the trainer owns are not the booster's: objective, seed and early stopping come from the run. */
type GbdtConfig = Partial<GbdtParams> & { family?: string };

export const gbdtFamily: ModelFamily<GbdtConfig> = {
  name: 'gbdt',
  tasks: ['regression', 'binary', 'multiclass'],
  // Boosting could continue from a model, but a warm start here would mean new trees on other bins.
  warmStart: false,
  // Without a given n_estimators, a validation slice picks the number of trees (params.ts ADAPTIVE);
  // the patience follows the learning rate (defaultPatience) unless the config sets one.
  earlyStopping: (params) => (params.n_estimators === undefined ? { validation: ADAPTIVE.validation } : undefined),

  async fit(input: FitInput<GbdtConfig>) {
    const { family: _family, ...given } = input.params ?? {};
    const watched = input.eval !== undefined;
    // The slice picks the number of trees only when the config does not fix it.
    const picksTrees = watched && given.n_estimators === undefined;
    const rows = input.train.x.rows + (input.eval?.x.rows ?? 0);
    let params: GbdtParams;
    try {
      params = resolveParams({
        ...adaptiveDefaults(rows, picksTrees),
        ...given,
        objective: input.task,
        ...(input.task === 'multiclass' ? { num_class: input.numClasses } : {}),
        seed: given.seed ?? input.training.seed,
        early_stopping_rounds: undefined,
        ...(input.training.threads ? { threads: input.training.threads } : {}),
      });
      if (watched) params.early_stopping_rounds = input.training.earlyStoppingPatience ?? defaultPatience(params.learning_rate);
    } catch (error) {
      throw new AtelierError('CONFIG_INVALID', `model: ${(error as Error).message}`, { field: 'model' });
    }
    const lossName = input.task === 'regression' ? 'rmse' : 'logloss';
    const onIteration = (iteration: number, trainLoss: number, evalLoss: number | undefined) =>
      input.onEpoch?.({ epoch: iteration, epochs: params.n_estimators, trainLoss, evalLoss, lossName });
    let model = await trainGbdt({ x: input.train.x, y: input.train.y }, params, {
      eval: input.eval ? { x: input.eval.x, y: input.eval.y } : undefined,
      onIteration,
    });
    const summary = { epochsRun: model.iterationsTrained, bestEpoch: model.iterations, stoppedEarly: model.iterationsTrained < params.n_estimators };
    if (input.eval && picksTrees && refits(rows)) {
      // Small data: the slice chose the number of trees; now every row trains them (the count
      // scaled by the rows gained, as each tree then sees more of them).
      const all = joinRows(input.train, input.eval);
      const trees = Math.max(1, Math.round((model.iterations * all.x.rows) / input.train.x.rows));
      model = await trainGbdt(all, { ...params, n_estimators: trees, early_stopping_rounds: undefined });
    }
    return { model: new GbdtTrained(model, outputWidthOf(input.task, input.numClasses)), summary };
  },

  async load(dir: string) {
    const model = GbdtModel.fromJSON(readFileSync(join(dir, MODEL_FILE), 'utf8'));
    // A binary booster outputs one probability; multiclass one per class.
    return new GbdtTrained(model, model.outputs);
  },
};
