import { AtelierError } from '../core/errors.js';
import type { RawColumn } from '../features/transform.js';
import { quantileSorted } from '../features/steps.js';

/** `--slice FEATURE` or `--slice FEATURE:BUCKETS` (numbers: quantile buckets, quartiles by default). */
export interface SliceRequest {
  feature: string;
  buckets: number;
}

export const DEFAULT_BUCKETS = 4;
/** A categorical feature shows its most frequent values; the rest are pooled as "(other)". */
export const MAX_CATEGORIES = 30;
export const MISSING = '(missing)';
export const OTHER = '(other)';

export interface SliceGroup {
  /** The category, the number, or the bucket as "[low, high)". */
  value: string;
  low?: number;
  high?: number;
  rows: Uint32Array;
}

export interface Slice<M> {
  value: string;
  low?: number;
  high?: number;
  rows: number;
  metrics: M;
}

export interface SliceResult<M> {
  feature: string;
  /** categorical: one slice per value; values: a number with few distinct values, one per value; quantiles: buckets. */
  kind: 'categorical' | 'values' | 'quantiles';
  slices: Slice<M>[];
}

/** Parses the `--slice` arguments against the columns the data has; an unknown one is refused, listing them. */
export function parseSlices(args: string[], columns: string[]): SliceRequest[] {
  return args.map((arg) => {
    if (columns.includes(arg)) return { feature: arg, buckets: DEFAULT_BUCKETS };
    const colon = arg.lastIndexOf(':');
    const feature = colon > 0 ? arg.slice(0, colon) : arg;
    if (!columns.includes(feature)) {
      throw new AtelierError('COLUMN_NOT_FOUND', `--slice: no feature "${feature}" in the data; its features are ${columns.join(', ')}`, {
        field: 'slice',
        feature,
      });
    }
    const buckets = Number(arg.slice(colon + 1));
    if (!Number.isInteger(buckets) || buckets < 2 || buckets > 100) {
      throw new AtelierError('USAGE', `--slice ${arg}: the bucket count after ":" must be a whole number from 2 to 100`, {
        field: 'slice',
        feature,
        expected: 'FEATURE or FEATURE:BUCKETS',
      });
    }
    return { feature, buckets };
  });
}

/** A bucket edge for a label: six significant digits. */
function short(value: number): string {
  return String(Number(value.toPrecision(6)));
}

function indices(list: number[]): Uint32Array {
  return Uint32Array.from(list);
}

function numericGroups(values: Float64Array, buckets: number): { kind: SliceResult<unknown>['kind']; groups: SliceGroup[] } {
  const present = values.filter((v) => Number.isFinite(v)).sort();
  const distinct = [...new Set(present)];
  const missing: number[] = [];
  let groups: SliceGroup[];
  let kind: SliceResult<unknown>['kind'];
  if (distinct.length <= buckets) {
    kind = 'values';
    const members = distinct.map(() => [] as number[]);
    const at = new Map(distinct.map((v, k) => [v, k]));
    values.forEach((v, i) => (Number.isFinite(v) ? members[at.get(v)!]!.push(i) : missing.push(i)));
    groups = distinct.map((v, k) => ({ value: String(v), low: v, high: v, rows: indices(members[k]!) }));
  } else {
    kind = 'quantiles';
    const edges = [...new Set(Array.from({ length: buckets + 1 }, (_v, k) => quantileSorted(present, k / buckets)))];
    const members = edges.slice(1).map(() => [] as number[]);
    values.forEach((v, i) => {
      if (!Number.isFinite(v)) return missing.push(i);
      let b = 0;
      while (b < members.length - 1 && v >= edges[b + 1]!) b++;
      members[b]!.push(i);
    });
    groups = members.map((m, b) => {
      const last = b === members.length - 1;
      return { value: `[${short(edges[b]!)}, ${short(edges[b + 1]!)}${last ? ']' : ')'}`, low: edges[b], high: edges[b + 1], rows: indices(m) };
    });
  }
  if (missing.length > 0) groups.push({ value: MISSING, rows: indices(missing) });
  return { kind, groups };
}

function categoricalGroups(values: (string | null)[]): SliceGroup[] {
  const members = new Map<string, number[]>();
  values.forEach((v, i) => {
    const key = v ?? MISSING;
    const list = members.get(key);
    if (list) list.push(i);
    else members.set(key, [i]);
  });
  const ranked = [...members.entries()].sort((a, b) => b[1].length - a[1].length || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const kept = ranked.slice(0, MAX_CATEGORIES).map(([value, rows]) => ({ value, rows: indices(rows) }));
  const rest = ranked.slice(MAX_CATEGORIES).flatMap(([, rows]) => rows);
  if (rest.length > 0) kept.push({ value: OTHER, rows: indices(rest.sort((a, b) => a - b)) });
  return kept;
}

/**
 * Splits the evaluated rows by one feature's values (`values[i]` is row i's) and measures each
 * group with `measure`, which gets the group's row positions.
 */
export function sliceBy<M>(request: SliceRequest, values: RawColumn, measure: (rows: Uint32Array) => M): SliceResult<M> {
  const { kind, groups } =
    values instanceof Float64Array ? numericGroups(values, request.buckets) : { kind: 'categorical' as const, groups: categoricalGroups(values) };
  return {
    feature: request.feature,
    kind,
    slices: groups
      .filter((g) => g.rows.length > 0)
      .map((g) => ({
        value: g.value,
        ...(g.low !== undefined ? { low: g.low, high: g.high } : {}),
        rows: g.rows.length,
        metrics: measure(g.rows),
      })),
  };
}
