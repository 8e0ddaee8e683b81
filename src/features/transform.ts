import { AtelierError } from '../core/errors.js';
import { deriveColumns, rawSources, type DerivedColumn } from './derived.js';
import { categoryText, encodeCategory, encoderSize, fitVocabulary, type CategoryEncoder } from './categorical.js';
import { specSources, type FeatureSpec } from './spec.js';
import { applyStep, applyStepInPlace, fitStep, quantileSorted, type FittedStep } from './steps.js';

/** A raw column: numbers (NaN is missing) or text (null is missing). */
export type RawColumn = Float64Array | (string | null)[];

export type FittedFeature =
  | { kind: 'numeric'; name: string; source: string; steps: FittedStep[]; fill: number | null; indicator: boolean }
  | { kind: 'categorical'; name: string; sources: string[]; encoder: CategoryEncoder; output: 'one_hot' | 'index' };

/**
 * The fitted feature transform, frozen into the bundle as transform.json. Format 3 adds derived
 * columns; a transform without them is still written as format 2, so older bundles and readers
 * keep working and a model's content hash does not change for nothing.
 */
export interface FittedTransform {
  kind: 'transform';
  formatVersion: 2 | 3;
  /** The raw columns a prediction request must carry, with their types. */
  inputs: { name: string; dtype: 'int' | 'float' | 'string' | 'bool' }[];
  /** Columns computed from the raw ones (SQL expressions) before the features read them. */
  derived?: DerivedColumn[];
  features: FittedFeature[];
}

/** Transform formats this code reads. */
export const TRANSFORM_FORMAT_VERSIONS: readonly number[] = [2, 3];

/** A dense row-major float32 matrix: what the model families consume. */
export interface Matrix {
  data: Float32Array;
  rows: number;
  cols: number;
}

function gatherNumbers(column: RawColumn, rows: Uint32Array): Float64Array {
  const out = new Float64Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const v = column[rows[i]!];
    out[i] = typeof v === 'number' ? v : v === null || v === undefined ? Number.NaN : Number(v);
  }
  return out;
}

function fillValue(values: Float64Array, policy: NonNullable<Extract<FeatureSpec, { kind: 'numeric' }>['missing']>): number {
  if (policy.strategy === 'constant') return policy.value ?? 0;
  const present = values.filter((v) => Number.isFinite(v));
  if (present.length === 0) return 0;
  if (policy.strategy === 'median') return quantileSorted(present.sort(), 0.5);
  return present.reduce((a, b) => a + b, 0) / present.length;
}

/**
 * Fits every feature on the training rows only (analyzers: means, deviations, quantiles,
 * vocabularies). `columns` holds the derived columns too (deriveColumns); `inputTypes` gives each
 * raw column's type, recorded for serving.
 */
export function fitTransform(
  specs: FeatureSpec[],
  derived: DerivedColumn[],
  columns: Map<string, RawColumn>,
  trainRows: Uint32Array,
  inputTypes: Map<string, FittedTransform['inputs'][number]['dtype']>,
): FittedTransform {
  const features = specs.map((spec): FittedFeature => {
    if (spec.kind === 'numeric') {
      let values = gatherNumbers(columns.get(spec.source)!, trainRows);
      const fill = spec.missing ? fillValue(values, spec.missing) : null;
      if (fill !== null) values = values.map((v) => (Number.isFinite(v) ? v : fill));
      const steps: FittedStep[] = [];
      for (const kind of spec.steps) {
        const step = fitStep(kind, values, spec.options);
        steps.push(step);
        values = values.map((v) => applyStep(step, v));
      }
      return { kind: 'numeric', name: spec.name, source: spec.source, steps, fill, indicator: spec.missing?.indicator ?? false };
    }
    const encoder: CategoryEncoder =
      spec.encoding === 'hash'
        ? { kind: 'hash', buckets: spec.buckets }
        : fitVocabulary(
            Array.from(trainRows, (r) => categoryText(columns.get(spec.sources[0]!)![r])),
            { topK: spec.topK, minFrequency: spec.minFrequency, oovBuckets: spec.oovBuckets },
          );
    return { kind: 'categorical', name: spec.name, sources: spec.sources, encoder, output: spec.output };
  });
  const inputs = rawSources(specs.flatMap(specSources), derived).map(({ name, dtype }) => ({ name, dtype: dtype ?? inputTypes.get(name) ?? 'float' }));
  if (derived.length === 0) return { kind: 'transform', formatVersion: 2, inputs, features };
  return { kind: 'transform', formatVersion: 3, inputs, derived, features };
}

function featureWidth(feature: FittedFeature): number {
  if (feature.kind === 'numeric') return feature.indicator ? 2 : 1;
  return feature.output === 'one_hot' ? encoderSize(feature.encoder) : 1;
}

/**
 * How the input matrix's columns came about, feature by feature, in order: `dense` numbers,
 * `one_hot` groups (`size` columns), or `index` columns holding a category index below `size`
 * (what embeddings and the wide part of wide & deep consume).
 */
export interface InputLayout {
  name: string;
  kind: 'dense' | 'one_hot' | 'index';
  /** Matrix columns this feature occupies. */
  width: number;
  /** Number of categories (one_hot and index). */
  size?: number;
}

/** The matrix layout feature by feature, for families that treat categories apart. */
export function inputLayout(fitted: FittedTransform): InputLayout[] {
  return fitted.features.flatMap((f): InputLayout[] => {
    if (f.kind === 'numeric') {
      const own: InputLayout = { name: f.name, kind: 'dense', width: 1 };
      return f.indicator ? [own, { name: `${f.name}_missing`, kind: 'dense', width: 1 }] : [own];
    }
    const size = encoderSize(f.encoder);
    return [{ name: f.name, kind: f.output, width: f.output === 'one_hot' ? size : 1, size }];
  });
}

/** Names of the matrix columns, in order (for importance and debugging). */
export function outputNames(fitted: FittedTransform): string[] {
  return fitted.features.flatMap((f) => {
    if (f.kind === 'numeric') return f.indicator ? [f.name, `${f.name}_missing`] : [f.name];
    if (f.output === 'index') return [f.name];
    const known = f.encoder.kind === 'vocabulary' ? f.encoder.values.map((v) => `${f.name}=${v}`) : [];
    const hashed = f.encoder.kind === 'vocabulary' ? f.encoder.oovBuckets : f.encoder.buckets;
    return [...known, ...Array.from({ length: hashed }, (_v, i) => `${f.name}#${i}`)];
  });
}

/** The text of row `r` of a categorical feature (several sources are joined for a cross). */
function categoryOf(feature: Extract<FittedFeature, { kind: 'categorical' }>, columns: Map<string, RawColumn>, r: number): string | null {
  if (feature.sources.length === 1) return categoryText(columns.get(feature.sources[0]!)![r]);
  return feature.sources.map((s) => categoryText(columns.get(s)![r]) ?? '\u2400').join('\u001f');
}

/**
 * The one function that turns raw feature columns into model inputs: training, evaluation,
 * batch and online prediction all come through here, so serving cannot skew from training.
 */
export function transformColumns(fitted: FittedTransform, raw: Map<string, RawColumn>, rows: number, select?: Uint32Array): Matrix {
  for (const input of fitted.inputs) {
    if (!raw.has(input.name)) throw new AtelierError('INPUT_INVALID', `missing feature "${input.name}"`, { feature: input.name });
  }
  const columns = deriveColumns(fitted.derived, raw, rows);
  const derived = new Set(fitted.derived?.map((d) => d.name));
  const n = select ? select.length : rows;
  const cols = fitted.features.reduce((w, f) => w + featureWidth(f), 0);
  const data = new Float32Array(n * cols);
  // Numeric features go block by block of rows, so the block of the matrix being written stays in
  // cache while every feature fills its column (column at a time over all rows wrote the whole
  // matrix once per feature: 3x slower at a million rows).
  const block = new Float64Array(Math.min(n, TRANSFORM_BLOCK_ROWS));
  const numeric: { feature: NumericFeature; offset: number; values: RawColumn; derived: boolean }[] = [];
  let at = 0;
  for (const feature of fitted.features) {
    if (feature.kind === 'numeric') numeric.push({ feature, offset: at, values: columns.get(feature.source)!, derived: derived.has(feature.source) });
    at += featureWidth(feature);
  }
  for (let from = 0; from < n; from += TRANSFORM_BLOCK_ROWS) {
    const values = block.subarray(0, Math.min(n, from + TRANSFORM_BLOCK_ROWS) - from);
    for (const { feature, offset, values: source, derived } of numeric) {
      readNumeric(source, from, values, select);
      fillMissing(feature, values, from, (row) => {
        // Raw inputs are checked on the way in; a derived one can still come out NULL (or 1/0).
        if (derived && feature.fill === null) throw derivedMissing(fitted, feature.source, select ? select[row]! : row);
        // The matrix starts at zeros, so only a missing value writes its indicator.
        if (feature.indicator) data[row * cols + offset + 1] = 1;
      });
      for (const step of feature.steps) applyStepInPlace(step, values);
      writeStrided(values, data, from * cols + offset, cols);
    }
  }
  let offset = 0;
  for (const feature of fitted.features) {
    if (feature.kind === 'categorical') {
      for (let i = 0; i < n; i++) {
        const index = encodeCategory(feature.encoder, categoryOf(feature, columns, select ? select[i]! : i));
        if (feature.output === 'one_hot') data[i * cols + offset + index] = 1;
        else data[i * cols + offset] = index;
      }
    }
    offset += featureWidth(feature);
  }
  return { data, rows: n, cols };
}

/** Rows a transform handles at a time (with 12 features, 192 KB of the matrix: it stays in L2). */
const TRANSFORM_BLOCK_ROWS = 4096;

/** Reads rows `from`.. of a numeric feature into `out` (the selected rows; text parsed, null as NaN). */
function readNumeric(values: RawColumn, from: number, out: Float64Array, select: Uint32Array | undefined): void {
  const n = out.length;
  if (values instanceof Float64Array) {
    if (!select) out.set(values.subarray(from, from + n));
    else for (let i = 0; i < n; i++) out[i] = values[select[from + i]!]!;
    return;
  }
  for (let i = 0; i < n; i++) {
    const raw = values[select ? select[from + i]! : from + i];
    out[i] = typeof raw === 'number' ? raw : raw === null || raw === undefined ? Number.NaN : Number(raw);
  }
}

type NumericFeature = Extract<FittedFeature, { kind: 'numeric' }>;

/** Puts the fill value in place of missing ones (NaN, infinities), and reports each missing row. */
function fillMissing(feature: NumericFeature, values: Float64Array, from: number, onMissing: (row: number) => void): void {
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    // v - v is NaN exactly for NaN and the infinities.
    if (v - v === 0) continue;
    if (feature.fill !== null) values[i] = feature.fill;
    onMissing(from + i);
  }
}

/** Writes `values` into every `stride`-th cell of `data` from `start`: one column of a row block. */
function writeStrided(values: Float64Array, data: Float32Array, start: number, stride: number): void {
  for (let i = 0, at = start; i < values.length; i++, at += stride) data[at] = values[i]!;
}

function derivedMissing(fitted: FittedTransform, name: string, row: number): AtelierError {
  const column = fitted.derived!.find((d) => d.name === name)!;
  return new AtelierError(
    'INPUT_INVALID',
    `instance ${row}: derived feature "${name}" = ${column.sql} is NULL or not finite for this row (from ${column.inputs.map((i) => i.name).join(', ')}), and it has no missing-value policy`,
    { row, feature: name },
  );
}

/** Numeric inputs that must be present: those of numeric features without a missing-value policy. */
export function requiredSources(features: (FeatureSpec | FittedFeature)[]): string[] {
  return features
    .filter((f) => f.kind === 'numeric' && ('fill' in f ? f.fill === null : !f.missing))
    .map((f) => (f as { source: string }).source);
}

/** Rows usable for training or evaluation: every required numeric input present. */
export function completeRows(required: string[], columns: Map<string, RawColumn>, rows: number): Uint8Array {
  const complete = new Uint8Array(rows).fill(1);
  for (const source of new Set(required)) {
    const values = columns.get(source)!;
    for (let i = 0; i < rows; i++) {
      const v = values[i];
      if (typeof v !== 'number' || !Number.isFinite(v)) complete[i] = 0;
    }
  }
  return complete;
}

/**
 * How a row may leave an input without a value: `omit` (a numeric feature fills it: null, NaN or
 * the key left out), `null` (read only by categorical features or derived columns: null goes where
 * training's NULLs went, an OOV bucket or the SQL's NULL, but a key left out is more likely a
 * client's slip than a missing value, so it must be there), `none` (a value is required).
 */
export type MissingRule = 'omit' | 'null' | 'none';

/** Per transform (worked out once; serving calls rowsToColumns per request). */
const missingRulesOf = new WeakMap<FittedTransform, Map<string, MissingRule>>();

export function missingRules(fitted: FittedTransform): Map<string, MissingRule> {
  let rules = missingRulesOf.get(fitted);
  if (!rules) {
    rules = new Map(fitted.inputs.map((i) => [i.name, 'null']));
    // A numeric feature without a fill value needs its input, whatever else reads it.
    for (const f of fitted.features) {
      if (f.kind === 'numeric' && rules.has(f.source) && rules.get(f.source) !== 'none') rules.set(f.source, f.fill === null ? 'none' : 'omit');
    }
    missingRulesOf.set(fitted, rules);
  }
  return rules;
}

const EXPECTED: Record<FittedTransform['inputs'][number]['dtype'], string> = { int: 'a number', float: 'a number', string: 'a string', bool: 'true or false' };

/** The text a categorical input holds for a JSON value (bool columns hold 'true'/'false', as read from the data), or undefined for the wrong type. */
function inputText(dtype: 'string' | 'bool', value: unknown): string | undefined {
  if (dtype === 'bool') return typeof value === 'boolean' ? String(value) : undefined;
  return typeof value === 'string' ? value : undefined;
}

/**
 * Checks raw rows (objects keyed by input name) against the transform's inputs and gathers them
 * into columns. Errors name the instance and the feature, and what was expected.
 */
export function rowsToColumns(fitted: FittedTransform, rows: unknown[]): Map<string, RawColumn> {
  const rules = missingRules(fitted);
  const columns = new Map<string, RawColumn>();
  for (const input of fitted.inputs) {
    columns.set(input.name, input.dtype === 'int' || input.dtype === 'float' ? new Float64Array(rows.length) : new Array<string | null>(rows.length));
  }
  rows.forEach((row, i) => {
    if (row === null || typeof row !== 'object' || Array.isArray(row)) {
      throw new AtelierError('INPUT_INVALID', `instance ${i}: expected an object keyed by feature name, got ${JSON.stringify(row)?.slice(0, 60)}`, {
        row: i,
        expected: 'object',
      });
    }
    const record = row as Record<string, unknown>;
    for (const input of fitted.inputs) {
      const value = record[input.name];
      const column = columns.get(input.name)!;
      const numeric = input.dtype === 'int' || input.dtype === 'float';
      const rule = rules.get(input.name)!;
      const facts = { row: i, feature: input.name, expected: numeric ? 'number' : input.dtype };
      // NaN means missing (TF Serving's token); for a number, the check below names it.
      if (value === undefined || value === null || (!numeric && Number.isNaN(value))) {
        if (rule === 'none' || (value === undefined && rule === 'null')) {
          throw new AtelierError('INPUT_INVALID', `instance ${i}: missing feature "${input.name}" (expected ${EXPECTED[input.dtype]})`, facts);
        }
        column[i] = numeric ? Number.NaN : null;
        continue;
      }
      if (numeric) {
        if (typeof value !== 'number' || (Number.isNaN(value) && rule === 'none')) {
          throw new AtelierError('INPUT_INVALID', `instance ${i}: feature "${input.name}" must be a number${Number.isNaN(value) ? ' (it has no missing-value policy)' : ''}, got ${Number.isNaN(value) ? 'NaN' : JSON.stringify(value)?.slice(0, 40)}`, {
            ...facts,
            got: typeof value,
          });
        }
        column[i] = value;
      } else {
        const text = inputText(input.dtype as 'string' | 'bool', value);
        if (text === undefined) {
          throw new AtelierError('INPUT_INVALID', `instance ${i}: feature "${input.name}" must be ${EXPECTED[input.dtype]}, got ${JSON.stringify(value)?.slice(0, 40)}`, {
            ...facts,
            got: typeof value,
          });
        }
        column[i] = text;
      }
    }
  });
  return columns;
}
