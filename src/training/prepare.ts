import { EARLY_STOPPING_DEFAULTS, parseRef, type ModelConfig } from '../core/config.js';
import { AtelierError } from '../core/errors.js';
import { resolveDataset } from '../data/datasets.js';
import { checkLabelColumn, readLabels, type Labels } from '../data/labels.js';
import { assignSplits, readRowKeys, EVAL, TRAIN } from '../data/split.js';
import { readColumns, selectRows, type Table } from '../data/table.js';
import { deriveColumns, rawSources, type DerivedColumn } from '../features/derived.js';
import { featureSpecs, specSources, type FeatureSpec } from '../features/spec.js';
import { completeRows, fitTransform, requiredSources, transformColumns, type FittedTransform, type Matrix } from '../features/transform.js';
import type { AtelierContext } from '../store/context.js';
import type { DatasetVersionRecord } from '../store/types.js';

/** Everything read from the dataset once, before any fitting: shared by train and cross-validation. */
export interface PreparedData {
  dataset: DatasetVersionRecord;
  specs: FeatureSpec[];
  derived: DerivedColumn[];
  /** The dataset's columns the features read, plus the derived columns computed from them. */
  table: Table;
  labels: Labels;
  rowKeys: string[];
  /** Split of each row (TRAIN or EVAL) by the config's seeded hash. */
  splits: Uint8Array;
  trainRows: Uint32Array;
  evalRows: Uint32Array;
  /** Rows left out because a feature or the label is missing. */
  dropped: number;
}

/** Resolves the dataset, checks features and label against it, reads them and splits the rows. */
export async function prepareData(ctx: AtelierContext, config: ModelConfig): Promise<PreparedData> {
  const ref = parseRef(config.data.dataset);
  const dataset = await resolveDataset(ctx, ref.name, ref.selector);
  const { specs, derived } = featureSpecs(config, dataset.columns, `${dataset.dataset}@${dataset.version}`);
  checkLabelColumn(dataset, config.data.label, config.task);
  const sources = rawSources(specs.flatMap(specSources), derived).map((s) => s.name);
  const raw = await readColumns(ctx, dataset, sources, (name) => `features (column ${name})`);
  const table = { ...raw, columns: deriveColumns(derived, raw.columns, raw.rows) };
  const complete = completeRows(requiredSources(specs), table.columns, table.rows);
  const rowKeys = await readRowKeys(ctx, dataset);
  const splits = assignSplits(rowKeys, config.data.split.seed, config.data.split.eval);
  const inTraining = splits.map((s) => (s === TRAIN ? 1 : 0));
  const labels = await readLabels(ctx, dataset, config.data.label, config.task, { fitMask: inTraining });
  for (let i = 0; i < table.rows; i++) if (!Number.isFinite(labels.y[i]!)) complete[i] = 0;
  const trainRows = selectRows(splits, TRAIN, complete);
  const evalRows = selectRows(splits, EVAL, complete);
  if (trainRows.length < 2 || evalRows.length < 1) {
    throw new AtelierError(
      'DATA_TOO_SMALL',
      `${dataset.dataset}@${dataset.version}: ${trainRows.length} training and ${evalRows.length} evaluation rows with every value present; need at least 2 and 1`,
      { field: 'data' },
    );
  }
  const dropped = table.rows - trainRows.length - evalRows.length;
  return { dataset, specs, derived, table, labels, rowKeys, splits, trainRows, evalRows, dropped };
}

/**
 * Splits training rows into rows to fit and rows to watch for early stopping (seeded hash); with
 * `byDefault` (the family asks for one) a slice of the default size when the config sets none.
 */
export function carveValidation(
  trainRows: Uint32Array,
  rowKeys: string[],
  config: ModelConfig,
  byDefault = false,
): { fitRows: Uint32Array; validationRows?: Uint32Array } {
  const early = config.training.early_stopping ?? (byDefault ? EARLY_STOPPING_DEFAULTS : undefined);
  if (!early) return { fitRows: trainRows };
  const keys = Array.from(trainRows, (i) => rowKeys[i]!);
  const parts = assignSplits(keys, config.data.split.seed + 1, early.validation);
  const fitRows = trainRows.filter((_r, k) => parts[k] === TRAIN);
  const validationRows = trainRows.filter((_r, k) => parts[k] === EVAL);
  if (validationRows.length === 0 || fitRows.length < 2) return { fitRows: trainRows };
  return { fitRows, validationRows };
}

/** Fits the transform on `rows` and returns it with a function that makes model inputs. */
export function fitFeatures(data: PreparedData, rows: Uint32Array): { transform: FittedTransform; inputs: (select: Uint32Array) => Matrix } {
  const types = new Map([...data.table.types].map(([name, column]) => [name, column.type === 'timestamp' ? 'string' : column.type] as const));
  const transform = fitTransform(data.specs, data.derived, data.table.columns, rows, types);
  return { transform, inputs: (select) => transformColumns(transform, data.table.columns, data.table.rows, select) };
}
