import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AtelierError } from '../../core/errors.js';
import type { Matrix } from '../../features/transform.js';
import { outputWidthOf, type FitInput, type ModelFamily, type TrainedModel } from '../family.js';
import { GbdtModel } from './model.js';
import { resolveParams, type GbdtParams } from './params.js';
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

/** Config keys the trainer owns are not the booster's: objective, seed and early stopping come from the run. */
type GbdtConfig = Partial<GbdtParams> & { family?: string };

export const gbdtFamily: ModelFamily<GbdtConfig> = {
  name: 'gbdt',
  tasks: ['regression', 'binary', 'multiclass'],
  // Boosting could continue from a model, but a warm start here would mean new trees on other bins.
  warmStart: false,

  async fit(input: FitInput<GbdtConfig>) {
    const { family: _family, ...given } = input.params ?? {};
    let params: GbdtParams;
    try {
      params = resolveParams({
        ...given,
        objective: input.task,
        ...(input.task === 'multiclass' ? { num_class: input.numClasses } : {}),
        seed: given.seed ?? input.training.seed,
        early_stopping_rounds: input.eval ? input.training.earlyStoppingPatience : undefined,
        ...(input.training.threads ? { threads: input.training.threads } : {}),
      });
    } catch (error) {
      throw new AtelierError('CONFIG_INVALID', `model: ${(error as Error).message}`, { field: 'model' });
    }
    const lossName = input.task === 'regression' ? 'rmse' : 'logloss';
    const model = await trainGbdt({ x: input.train.x, y: input.train.y }, params, {
      eval: input.eval ? { x: input.eval.x, y: input.eval.y } : undefined,
      onIteration: (iteration, trainLoss, evalLoss) =>
        input.onEpoch?.({ epoch: iteration, epochs: params.n_estimators, trainLoss, evalLoss, lossName }),
    });
    const iterations = model.iterations;
    return {
      model: new GbdtTrained(model, outputWidthOf(input.task, input.numClasses)),
      summary: { epochsRun: model.iterationsTrained, bestEpoch: iterations, stoppedEarly: model.iterationsTrained < params.n_estimators },
    };
  },

  async load(dir: string) {
    const model = GbdtModel.fromJSON(readFileSync(join(dir, MODEL_FILE), 'utf8'));
    // A binary booster outputs one probability; multiclass one per class.
    return new GbdtTrained(model, model.outputs);
  },
};
