import { parseRef, type ModelConfig } from '../core/config.js';
import { AtelierError } from '../core/errors.js';
import { loadBundle } from '../bundle/load.js';
import { resolveDataset } from '../data/datasets.js';
import { assignSplits, readRowKeys, EVAL, TRAIN } from '../data/split.js';
import { gather, gatherColumns, readColumns, selectRows } from '../data/table.js';
import { deriveColumns } from '../features/derived.js';
import { completeRows, requiredSources, type RawColumn } from '../features/transform.js';
import { taskLoss } from '../models/losses.js';
import { bundleDir, resolveModelVersion } from '../registry/models.js';
import type { AtelierContext } from '../store/context.js';
import { evaluationCharts, type Chart } from './charts.js';
import { DEFAULT_REPEATS, IMPORTANCE_ROWS, permutationImportance, type ImportanceResult } from './importance.js';
import { taskMetrics, type Metrics } from './metrics.js';
import { parseSlices, sliceBy, type SliceResult } from './slices.js';
import { gatherOutputs, headlineFigures, taskReport, type TaskReport } from './task-report.js';
import { readLabels } from '../data/labels.js';

export type SplitName = 'train' | 'eval' | 'all';

export interface EvaluateOptions {
  /** "NAME[@VERSION][:train|eval|all]"; default: the training data's held-out split. */
  data?: string;
  /** Binary models: call a row positive when P(positive) >= threshold (default 0.5). */
  threshold?: number;
  /** `--slice` arguments: FEATURE or FEATURE:BUCKETS. */
  slices?: string[];
  /** Permutation importance: shuffles per feature (0 turns it off) and the seed. */
  importance?: { repeats?: number; seed?: number };
  /** Render the charts (SVG) too. */
  charts?: boolean;
  /** How rows are assigned to splits (default: the model's own training config). Blessing passes
   * the challenger's, so the champion is scored on exactly the same held-out rows. */
  split?: { seed: number; eval: number };
}

/** Headline figures of one slice: its row count and the task's main metrics. */
export type SliceFigures = Record<string, number | null>;

export interface EvaluationResult {
  model: string;
  version: number;
  dataset: string;
  datasetVersion: number;
  split: SplitName;
  /** Class names in index order (classifiers; binary: negative, positive). */
  classes?: string[];
  /** The summary figures training records for a version (same keys). */
  metrics: Metrics;
  /** Everything measured for the task: curves, thresholds, calibration, per class, residuals. */
  details: TaskReport;
  slices: SliceResult<SliceFigures>[];
  importance: ImportanceResult | null;
  /** Rendered when asked for (`charts: true`); not part of the JSON answer. */
  charts?: Chart[];
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

function checkOptions(task: string, ref: string, options: EvaluateOptions): void {
  const { threshold } = options;
  if (threshold !== undefined) {
    if (task !== 'binary') {
      throw new AtelierError('USAGE', `--threshold applies to binary models; ${ref} is a ${task} model`, { field: 'threshold' });
    }
    if (!(threshold >= 0 && threshold <= 1)) {
      throw new AtelierError('USAGE', `--threshold must be a probability from 0 to 1, got ${threshold}`, { field: 'threshold', expected: '0..1', got: String(threshold) });
    }
  }
  const repeats = options.importance?.repeats;
  if (repeats !== undefined && !(Number.isInteger(repeats) && repeats >= 0 && repeats <= 100)) {
    throw new AtelierError('USAGE', `--importance-repeats must be a whole number from 0 to 100, got ${repeats}`, { field: 'importance-repeats' });
  }
  const seed = options.importance?.seed;
  if (seed !== undefined && !Number.isInteger(seed)) {
    throw new AtelierError('USAGE', `--seed must be a whole number, got ${seed}`, { field: 'seed' });
  }
}

/**
 * Evaluates a registered model version on a dataset split. Without `options.data` it uses the data
 * the model was trained on and its held-out split, which reproduces the figures of training.
 */
export async function evaluateModel(ctx: AtelierContext, modelRef: string, options: EvaluateOptions = {}): Promise<EvaluationResult> {
  const { name, selector } = parseRef(modelRef);
  const version = await resolveModelVersion(ctx, name, selector);
  const run = version.runId ? await ctx.store.getRun(version.runId) : undefined;
  const config = run?.config as ModelConfig | undefined;

  let dataset;
  let split: SplitName;
  if (options.data) {
    const parsed = parseDataRef(options.data);
    dataset = await resolveDataset(ctx, parsed.name, parsed.selector);
    split = parsed.split ?? 'all';
  } else {
    if (!run) throw new AtelierError('USAGE', `model ${name}@${version.version} has no training run on record; pass --data NAME[@V][:split]`);
    dataset = (await ctx.store.getDatasetVersionById(run.datasetVersionId))!;
    split = 'eval';
  }
  const bundle = await loadBundle(await bundleDir(ctx, version));
  try {
    const { label, task, classes } = bundle.manifest;
    checkOptions(task, `${version.model}@${version.version}`, options);
    const inputs = bundle.transform.inputs.map((i) => i.name);
    const sliceRequests = parseSlices(options.slices ?? [], dataset.columns.map((c) => c.name));
    const wanted = [...new Set([...inputs, ...sliceRequests.map((s) => s.feature)])];
    const raw = await readColumns(ctx, dataset, wanted, (n) => (inputs.includes(n) ? `feature ${n}` : `--slice ${n}`));
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
    const width = bundle.outputWidth;
    const outputs = await bundle.predictColumns(selected, rows.length);
    const y = gather(labels.y, rows);
    const reportOptions = { classes, threshold: options.threshold };
    const metrics = taskMetrics(task, outputs, width, y);
    const details = taskReport(task, outputs, width, y, reportOptions);

    const slices = sliceRequests.map((request) =>
      sliceBy(request, selected.get(request.feature)!, (r) => headlineFigures(taskReport(task, gatherOutputs(outputs, width, r), width, gather(y, r), reportOptions))),
    );

    const repeats = options.importance?.repeats ?? DEFAULT_REPEATS;
    // The same sample and seed as the importance training kept (evaluation/importance.ts), so the two agree.
    const sample = Math.min(rows.length, IMPORTANCE_ROWS);
    const first = Uint32Array.from({ length: sample }, (_v, i) => i);
    const inputColumns = gatherColumns(new Map<string, RawColumn>(inputs.map((n) => [n, selected.get(n)!])), first);
    const sampleY = gather(y, first);
    const importance =
      repeats > 0
        ? await permutationImportance(inputColumns, inputs, async (columns) => taskLoss(task, await bundle.predictColumns(columns, sample), width, sampleY), {
            repeats,
            seed: options.importance?.seed ?? config?.training.seed ?? 42,
          })
        : null;

    const result: EvaluationResult = {
      model: version.model,
      version: version.version,
      dataset: dataset.dataset,
      datasetVersion: dataset.version,
      split,
      ...(classes ? { classes } : {}),
      metrics,
      details,
      slices,
      importance,
    };
    if (options.charts) {
      const training = run ? await ctx.store.getMetrics(run.id) : [];
      const best = run?.params.bestEpoch;
      const kept = typeof best === 'number' && typeof run?.params.epochsRun === 'number' && best < run.params.epochsRun ? best : null;
      result.charts = await evaluationCharts({ report: details, classes, predicted: outputs, actual: y, importance: importance ?? undefined, training, bestEpoch: kept });
    }
    await ctx.store.appendEvent({
      kind: 'model.evaluated',
      subject: `${version.model}@${version.version}`,
      details: { dataset: `${dataset.dataset}@${dataset.version}`, split, metrics },
    });
    return result;
  } finally {
    bundle.dispose();
  }
}
