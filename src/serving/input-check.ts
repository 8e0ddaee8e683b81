import { isAtelierError } from '../core/errors.js';
import type { LoadedBundle } from '../bundle/load.js';
import { rowsToColumns, type RawColumn } from '../features/transform.js';

/** What to do with a value outside the training domain: refuse the request, or serve and count it. */
export type DomainPolicy = 'reject' | 'accept';

export interface InputIssue {
  code: 'not_object' | 'unknown_feature' | 'missing_feature' | 'wrong_type' | 'not_finite' | 'out_of_domain';
  /** Index of the instance in the request. */
  instance: number;
  feature?: string;
  message: string;
}

export type InputCheck =
  | { ok: true; value: { columns: Map<string, RawColumn>; rows: number; anomalies: InputIssue[] } }
  | { ok: false; issues: InputIssue[] };

interface NumericDomain {
  min: number;
  max: number;
  int: boolean;
  /** Whether ±Infinity and numbers past float32's range are served (training saw infinities in this input). */
  infinite: boolean;
}

/** The largest float32: the families compute in float32, where anything larger is infinite. */
const FLOAT32_MAX = 3.4028234663852886e38;

/** The per-feature domain a bundle was trained on: stats.json ranges, fitted vocabularies. */
export interface FeatureDomains {
  numeric: Map<string, NumericDomain>;
  categorical: Map<string, Set<string>>;
  /** Names a request may use: the inputs and the label. */
  known: Set<string>;
  /** Inputs of type bool (the prediction log writes them as true/false). */
  bools: Set<string>;
}

export function featureDomains(
  bundle: LoadedBundle,
  stats: { features?: Record<string, { min?: number | null; max?: number | null; infinite?: number }> } | undefined,
): FeatureDomains {
  const numeric = new Map<string, NumericDomain>();
  const categorical = new Map<string, Set<string>>();
  for (const input of bundle.transform.inputs) {
    const s = stats?.features?.[input.name];
    if (input.dtype === 'int' || input.dtype === 'float') {
      numeric.set(input.name, {
        min: typeof s?.min === 'number' ? s.min : Number.NEGATIVE_INFINITY,
        max: typeof s?.max === 'number' ? s.max : Number.POSITIVE_INFINITY,
        int: input.dtype === 'int',
        infinite: (s?.infinite ?? 0) > 0,
      });
    }
  }
  for (const f of bundle.transform.features) {
    if (f.kind !== 'categorical' || f.encoder.kind !== 'vocabulary') continue;
    // Values outside the vocabulary are served (hashed into its out-of-vocabulary buckets) but are
    // outside what the model learned from: anomalies.
    if (f.sources.length !== 1) continue;
    // A derived column (SQL over the inputs) is not in the request; it is computed later.
    if (!bundle.transform.inputs.some((i) => i.name === f.sources[0])) continue;
    categorical.set(f.sources[0]!, new Set(f.encoder.values));
  }
  return {
    numeric,
    categorical,
    known: new Set([...bundle.transform.inputs.map((i) => i.name), bundle.manifest.label]),
    bools: new Set(bundle.transform.inputs.filter((i) => i.dtype === 'bool').map((i) => i.name)),
  };
}

const show = (v: unknown) => JSON.stringify(v)?.slice(0, 40) ?? String(v);

/**
 * Checks request rows against a bundle's signature and training domain. Returns data, never
 * throws: unknown features and type errors are issues; values outside the domain are issues
 * under the `reject` policy and anomalies (served, counted) under `accept`.
 */
export function checkInputs(bundle: LoadedBundle, domains: FeatureDomains, policy: DomainPolicy, rows: unknown[]): InputCheck {
  const known = domains.known;
  const issues: InputIssue[] = [];
  rows.forEach((row, instance) => {
    if (row === null || typeof row !== 'object' || Array.isArray(row)) return; // rowsToColumns names it
    for (const key in row) {
      if (!known.has(key)) {
        const inputs = bundle.transform.inputs.map((i) => i.name).join(', ');
        issues.push({ code: 'unknown_feature', instance, feature: key, message: `instance ${instance}: unknown feature "${key}"; the model takes ${inputs}` });
      }
    }
  });
  if (issues.length > 0) return { ok: false, issues };

  let columns: Map<string, RawColumn>;
  try {
    columns = rowsToColumns(bundle.transform, rows);
  } catch (error) {
    if (!isAtelierError(error)) throw error;
    const facts = error.facts as { row?: number; feature?: string; expected?: string };
    const code = facts.expected === 'object' ? 'not_object' : /missing feature/.test(error.message) ? 'missing_feature' : 'wrong_type';
    return { ok: false, issues: [{ code, instance: facts.row ?? 0, feature: facts.feature, message: error.message }] };
  }

  const outside: InputIssue[] = [];
  for (const [name, domain] of domains.numeric) {
    const values = columns.get(name) as Float64Array;
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (!domain.infinite && Math.abs(v) > FLOAT32_MAX) {
        const what = Number.isFinite(v) ? `${v} is past float32's range (±3.4e38), where the model computes` : `${v} is not a finite number`;
        issues.push({ code: 'not_finite', instance: i, feature: name, message: `instance ${i}: feature "${name}" = ${what}; the training data held no infinities` });
      } else if (domain.int && Number.isFinite(v) && !Number.isInteger(v)) {
        issues.push({ code: 'wrong_type', instance: i, feature: name, message: `instance ${i}: feature "${name}" must be a whole number, got ${v}` });
      } else if (v < domain.min || v > domain.max) {
        outside.push({ code: 'out_of_domain', instance: i, feature: name, message: `instance ${i}: feature "${name}" = ${v} is outside the training range [${domain.min}, ${domain.max}]` });
      }
    }
  }
  for (const [name, values] of domains.categorical) {
    const column = columns.get(name) as (string | null)[];
    column.forEach((v, i) => {
      if (v !== null && !values.has(v)) {
        outside.push({ code: 'out_of_domain', instance: i, feature: name, message: `instance ${i}: feature "${name}" = ${show(v)} is not one of the ${values.size} values seen in training` });
      }
    });
  }
  if (issues.length > 0) return { ok: false, issues };
  if (policy === 'reject' && outside.length > 0) return { ok: false, issues: outside.sort((a, b) => a.instance - b.instance) };
  return { ok: true, value: { columns, rows: rows.length, anomalies: outside } };
}

/** A row in the middle of the training data (medians are not kept; means and the first vocabulary value), for warm-up. */
export function typicalRow(bundle: LoadedBundle, stats: { features?: Record<string, { mean?: number | null; min?: number | null }> } | undefined, domains: FeatureDomains): Record<string, unknown> {
  const row: Record<string, unknown> = {};
  for (const input of bundle.transform.inputs) {
    if (input.dtype === 'int' || input.dtype === 'float') {
      const mean = stats?.features?.[input.name]?.mean;
      const v = typeof mean === 'number' ? mean : 0;
      row[input.name] = input.dtype === 'int' ? Math.round(v) : v;
    } else if (input.dtype === 'bool') {
      row[input.name] = false;
    } else {
      const vocabulary = domains.categorical.get(input.name);
      row[input.name] = vocabulary ? [...vocabulary][0] : '';
    }
  }
  return row;
}
