import type { FeatureEntry, ModelConfig } from '../core/config.js';
import { AtelierError } from '../core/errors.js';
import { isNumeric } from '../data/column-types.js';
import type { DatasetColumn } from '../store/types.js';
import { declareDerived, type DerivedColumn } from './derived.js';
import type { StepKindName, StepOptions } from './steps.js';

/** What the config asks of one feature, checked against the dataset's columns. */
export type FeatureSpec =
  | {
      kind: 'numeric';
      name: string;
      source: string;
      steps: StepKindName[];
      options: StepOptions;
      missing?: { strategy: 'mean' | 'median' | 'constant'; value?: number; indicator: boolean };
    }
  | {
      kind: 'categorical';
      name: string;
      sources: string[];
      encoding: 'vocabulary' | 'hash';
      topK?: number;
      minFrequency: number;
      oovBuckets: number;
      buckets: number;
      output: 'one_hot' | 'index';
    };

/** Raw columns a spec reads. */
export function specSources(spec: FeatureSpec): string[] {
  return spec.kind === 'numeric' ? [spec.source] : spec.sources;
}

function column(columns: Map<string, DatasetColumn>, name: string, field: string, dataset: string): DatasetColumn {
  const found = columns.get(name);
  if (!found) {
    throw new AtelierError('COLUMN_NOT_FOUND', `${field}: dataset ${dataset} has no column "${name}"; it has ${[...columns.keys()].join(', ')}`, {
      field,
      column: name,
    });
  }
  return found;
}

function specOf(entry: FeatureEntry, field: string, columns: Map<string, DatasetColumn>, dataset: string): FeatureSpec {
  if (typeof entry !== 'string' && 'cross' in entry) {
    entry.cross.forEach((name, i) => column(columns, name, `${field}.cross[${i}]`, dataset));
    return {
      kind: 'categorical',
      name: entry.name ?? entry.cross.join('_x_'),
      sources: entry.cross,
      encoding: 'hash',
      minFrequency: 1,
      oovBuckets: 1,
      buckets: entry.buckets,
      output: entry.output,
    };
  }
  const name = typeof entry === 'string' ? entry : entry.name;
  const source = column(columns, name, field, dataset);
  const requested = typeof entry === 'string' ? undefined : entry.transform;
  const categorical = requested === 'vocabulary' || requested === 'hash' || (requested === undefined && !isNumeric(source.type));
  if (categorical) {
    if (source.type === 'timestamp') {
      throw new AtelierError('COLUMN_TYPE', `${field}: column "${name}" holds timestamps; derive a number or a category from it first`, { field, column: name });
    }
    const options = typeof entry === 'string' ? undefined : entry;
    return {
      kind: 'categorical',
      name,
      sources: [name],
      encoding: requested === 'hash' ? 'hash' : 'vocabulary',
      topK: options?.top_k,
      minFrequency: options?.min_frequency ?? 1,
      oovBuckets: options?.oov_buckets ?? 1,
      buckets: options?.buckets ?? 100,
      output: options?.output ?? 'one_hot',
    };
  }
  if (!isNumeric(source.type)) {
    throw new AtelierError(
      'COLUMN_TYPE',
      `${field}: column "${name}" is ${source.type} (${source.sourceType}); transform ${JSON.stringify(requested)} needs numbers (use vocabulary or hash for categories)`,
      { field, column: name, expected: 'int or float', got: source.type },
    );
  }
  const steps: StepKindName[] = requested === undefined ? ['standardize'] : Array.isArray(requested) ? requested : [requested as StepKindName];
  const options = typeof entry === 'string' ? undefined : entry;
  return {
    kind: 'numeric',
    name,
    source: name,
    steps,
    options: { low: options?.low, high: options?.high, buckets: options?.buckets },
    missing: options?.missing,
  };
}

/**
 * The features of a config against a dataset's columns. Without a `features` list: every column
 * but the label, numbers standardized and text or booleans through a vocabulary. Derived columns
 * (`sql`) are checked first; the features and crosses then see them like dataset columns.
 */
export function featureSpecs(config: ModelConfig, columns: DatasetColumn[], dataset: string): { specs: FeatureSpec[]; derived: DerivedColumn[] } {
  const entries: { entry: FeatureEntry; field: string }[] = config.features
    ? config.features.map((entry, i) => ({ entry, field: `features[${i}]` }))
    : columns.filter((c) => c.name !== config.data.label && c.type !== 'timestamp').map((c) => ({ entry: c.name, field: 'features' }));
  const datasetNames = new Set(columns.map((c) => c.name));
  const derived = entries.flatMap(({ entry, field }) => {
    if (typeof entry === 'string' || !('sql' in entry) || entry.sql === undefined) return [];
    if (datasetNames.has(entry.name)) {
      throw new AtelierError('CONFIG_INVALID', `${field}.name: "${entry.name}" is already a column of ${dataset}; give the derived feature another name`, {
        field: `${field}.name`,
        feature: entry.name,
      });
    }
    return [declareDerived({ name: entry.name, sql: entry.sql }, field, columns, { dataset, label: config.data.label })];
  });
  const byName = new Map(columns.map((c) => [c.name, c]));
  for (const d of derived) byName.set(d.name, { name: d.name, type: d.dtype, sourceType: `SQL: ${d.sql}` });
  const specs = entries.map(({ entry, field }) => specOf(entry, field, byName, dataset));
  specs.forEach((spec, i) => {
    if (specSources(spec).includes(config.data.label)) {
      throw new AtelierError('CONFIG_INVALID', `${entries[i]!.field}: the label "${config.data.label}" cannot also be a feature`, { field: entries[i]!.field });
    }
  });
  const seen = new Set<string>();
  for (const spec of specs) {
    if (seen.has(spec.name)) throw new AtelierError('CONFIG_INVALID', `features: "${spec.name}" appears twice`, { field: 'features' });
    seen.add(spec.name);
  }
  return { specs, derived };
}
