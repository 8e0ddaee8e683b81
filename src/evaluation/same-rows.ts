import type { ModelConfig } from '../core/config.js';
import type { AtelierContext } from '../store/context.js';
import type { ModelVersionRecord } from '../store/types.js';
import { evaluateModel } from './evaluate.js';

/** Metrics of two versions measured on one set of rows. */
export interface SameRowsMetrics {
  /** The rows both were measured on: the second version's held-out split, as blessing uses. */
  data: { dataset: string; split: 'eval'; rows: number };
  a: Record<string, number>;
  b: Record<string, number>;
}

/**
 * Evaluates both versions on the held-out split of B's training data (B is the challenger, as in
 * blessing), so their metrics compare the same rows; each version's recorded metrics come from its
 * own held-out split, which differs whenever the data or the split does. Undefined when B has no
 * run on record (an imported version) or its data is gone.
 */
export async function metricsOnSameRows(ctx: AtelierContext, a: ModelVersionRecord, b: ModelVersionRecord): Promise<SameRowsMetrics | undefined> {
  const run = b.runId ? await ctx.store.getRun(b.runId) : undefined;
  const dataset = run ? await ctx.store.getDatasetVersionById(run.datasetVersionId) : undefined;
  if (!run || !dataset) return undefined;
  const options = { data: `${dataset.dataset}@${dataset.version}:eval`, split: (run.config as ModelConfig).data.split, importance: { repeats: 0 } };
  const ofB = await evaluateModel(ctx, `${b.model}@${b.version}`, options);
  const ofA = await evaluateModel(ctx, `${a.model}@${a.version}`, options);
  const numbers = (m: object) => Object.fromEntries(Object.entries(m).filter(([, v]) => typeof v === 'number')) as Record<string, number>;
  return { data: { dataset: `${dataset.dataset}@${dataset.version}`, split: 'eval', rows: ofB.metrics.count }, a: numbers(ofA.metrics), b: numbers(ofB.metrics) };
}
