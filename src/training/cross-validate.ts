import type { ModelConfig } from '../core/config.js';
import { AtelierError } from '../core/errors.js';
import { seededHash } from '../data/split.js';
import type { EpochReport } from '../models/family.js';
import type { AtelierContext } from '../store/context.js';
import { fitAndEvaluate } from './fit.js';
import { prepareData } from './prepare.js';
import { closedOnInterrupt } from '../store/run-lifecycle.js';

export interface CrossValidation {
  model: string;
  dataset: string;
  k: number;
  seed: number;
  /** Mean and (sample) standard deviation of each metric over the folds. */
  cv: Record<string, { mean: number; std: number }>;
  folds: { fold: number; train: number; eval: number; metrics: Record<string, number> }[];
}

/** K of K-fold cross-validation: a whole number, at least 2. */
export function checkFolds(k: number): void {
  if (!Number.isInteger(k) || k < 2) throw new AtelierError('USAGE', `--cv ${k}: expected a whole number of folds, at least 2`, { field: 'cv' });
}

/**
 * K-fold cross-validation over every complete row of the dataset (the config's eval split is not
 * held out: each row is evaluated once, in its fold). Folds come from a seeded hash of each row's
 * content, so identical rows share a fold. Nothing is registered.
 */
export async function crossValidate(
  ctx: AtelierContext,
  config: ModelConfig,
  k: number,
  options: { onFold?: (fold: number, k: number) => void; onEpoch?: (report: EpochReport) => void } = {},
): Promise<CrossValidation> {
  checkFolds(k);
  const data = await prepareData(ctx, config);
  const seed = config.data.split.seed;
  const rows = Uint32Array.from([...data.trainRows, ...data.evalRows]).sort();
  const foldOf = new Uint8Array(data.table.rows);
  for (const r of rows) foldOf[r] = Math.floor((seededHash(data.rowKeys[r]!, seed) / 2 ** 32) * k);
  const folds: CrossValidation['folds'] = [];
  // Nothing is recorded until the end, so Ctrl-C has only temp files to remove before exiting.
  await closedOnInterrupt(ctx, async () => {}, async () => {
    for (let fold = 0; fold < k; fold++) {
      options.onFold?.(fold, k);
      const trainRows = rows.filter((r) => foldOf[r] !== fold);
      const evalRows = rows.filter((r) => foldOf[r] === fold);
      if (evalRows.length === 0 || trainRows.length < 2) {
        throw new AtelierError('DATA_TOO_SMALL', `fold ${fold + 1} of ${k} has ${evalRows.length} rows; use fewer folds`, { field: 'cv' });
      }
      const result = await fitAndEvaluate(data, config, trainRows, evalRows, options.onEpoch);
      result.model.dispose();
      const metrics = Object.fromEntries(Object.entries(result.metrics).filter(([key]) => key !== 'count')) as Record<string, number>;
      folds.push({ fold: fold + 1, train: trainRows.length, eval: evalRows.length, metrics });
    }
  });
  const cv: CrossValidation['cv'] = {};
  for (const key of Object.keys(folds[0]!.metrics)) {
    const values = folds.map((f) => f.metrics[key]!);
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    const std = Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / Math.max(1, values.length - 1));
    cv[key] = { mean, std };
  }
  await ctx.store.appendEvent({
    kind: 'model.cross_validated',
    subject: config.name,
    details: { dataset: `${data.dataset.dataset}@${data.dataset.version}`, k, cv },
  });
  return { model: config.name, dataset: `${data.dataset.dataset}@${data.dataset.version}`, k, seed, cv, folds };
}
