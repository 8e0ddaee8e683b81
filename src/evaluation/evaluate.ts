import { parseRef, type ModelConfig } from '../core/config.js';
import { AtelierError } from '../core/errors.js';
import { loadBundle } from '../bundle/load.js';
import { resolveDataset } from '../data/datasets.js';
import { assignSplits, readRowKeys, EVAL, TRAIN } from '../data/split.js';
import { gather, gatherColumns, readColumns, selectRows } from '../data/table.js';
import { deriveColumns } from '../features/derived.js';
import { completeRows, requiredSources } from '../features/transform.js';
import { bundlePath, resolveModelVersion } from '../registry/models.js';
import type { AtelierContext } from '../store/context.js';
import { taskMetrics, type Metrics } from './metrics.js';
import { readLabels } from '../data/labels.js';

export type SplitName = 'train' | 'eval' | 'all';

export interface EvaluationResult {
  model: string;
  version: number;
  dataset: string;
  datasetVersion: number;
  split: SplitName;
  metrics: Metrics;
}

/** Parses "name@v:split" (each part optional but the name). */
export function parseDataRef(ref: string): { name: string; selector?: string; split?: SplitName } {
  const colon = ref.lastIndexOf(':');
  let split: SplitName | undefined;
  let rest = ref;
  if (colon > 0) {
    const s = ref.slice(colon + 1);
    if (s !== 'train' && s !== 'eval' && s !== 'all') {
      throw new AtelierError('USAGE', `split "${s}" in "${ref}" is not one of train, eval, all`, { field: 'data' });
    }
    split = s;
    rest = ref.slice(0, colon);
  }
  return { ...parseRef(rest), split };
}

export interface EvaluateOptions {
  /** How rows are assigned to splits (default: the model's own training config). Blessing passes
   * the challenger's, so the champion is scored on exactly the same held-out rows. */
  split?: { seed: number; eval: number };
}

/**
 * Evaluates a registered model version on a dataset split. Without `dataRef` it uses the data the
 * model was trained on and its held-out split, which reproduces the figures of training.
 */
export async function evaluateModel(ctx: AtelierContext, modelRef: string, dataRef?: string, options: EvaluateOptions = {}): Promise<EvaluationResult> {
  const { name, selector } = parseRef(modelRef);
  const version = await resolveModelVersion(ctx, name, selector);
  const run = version.runId ? await ctx.store.getRun(version.runId) : undefined;
  const config = run?.config as ModelConfig | undefined;

  let dataset;
  let split: SplitName;
  if (dataRef) {
    const parsed = parseDataRef(dataRef);
    dataset = await resolveDataset(ctx, parsed.name, parsed.selector);
    split = parsed.split ?? 'all';
  } else {
    if (!run) throw new AtelierError('USAGE', `model ${name}@${version.version} has no training run on record; pass --data NAME[@V][:split]`);
    dataset = (await ctx.store.getDatasetVersionById(run.datasetVersionId))!;
    split = 'eval';
  }
  const bundle = await loadBundle(bundlePath(ctx, version));
  try {
    const { label, task, classes } = bundle.manifest;
    const inputs = bundle.transform.inputs.map((i) => i.name);
    const raw = await readColumns(ctx, dataset, inputs, (n) => `feature ${n}`);
    // Derived columns take part in which rows are complete, as they did in training.
    const table = { ...raw, columns: deriveColumns(bundle.transform.derived, raw.columns, raw.rows) };
    const labels = await readLabels(ctx, dataset, label, task, { classes });
    const complete = completeRows(requiredSources(bundle.transform.features), table.columns, table.rows);
    for (let i = 0; i < table.rows; i++) if (!Number.isFinite(labels.y[i]!)) complete[i] = 0;
    let rows: Uint32Array;
    if (split === 'all') {
      rows = selectRows(new Uint8Array(table.rows), 0, complete);
    } else {
      const splitConfig = options.split ?? config?.data.split ?? { seed: 42, eval: 0.2 };
      const splits = assignSplits(await readRowKeys(ctx, dataset), splitConfig.seed, splitConfig.eval);
      rows = selectRows(splits, split === 'eval' ? EVAL : TRAIN, complete);
    }
    if (rows.length === 0) throw new AtelierError('DATA_TOO_SMALL', `${dataset.dataset}@${dataset.version}:${split} has no complete rows to evaluate on`);
    const selected = gatherColumns(table.columns, rows);
    const outputs = await bundle.predictColumns(selected, rows.length);
    const metrics = taskMetrics(task, outputs, bundle.outputWidth, gather(labels.y, rows));
    await ctx.store.appendEvent({
      kind: 'model.evaluated',
      subject: `${version.model}@${version.version}`,
      details: { dataset: `${dataset.dataset}@${dataset.version}`, split, metrics },
    });
    return { model: version.model, version: version.version, dataset: dataset.dataset, datasetVersion: dataset.version, split, metrics };
  } finally {
    bundle.dispose();
  }
}
