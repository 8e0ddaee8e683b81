import { existsSync, statSync } from 'node:fs';
import type { DuckDBConnection } from '@duckdb/node-api';
import { diskFullError } from '../core/disk-full.js';
import { AtelierError } from '../core/errors.js';
import type { DatasetColumn } from '../store/types.js';
import { isNumeric, logicalType } from './column-types.js';
import { sqlIdent, sqlString, withDuckDb } from './duckdb.js';

/**
 * Dataset statistics in the manner of TFDV's `generate_statistics`: one plain JSON document per
 * dataset version, computed in DuckDB over the version's Parquet file.
 *
 * Passes over the data (each one SQL query; DuckDB reads only the columns it needs):
 *   1. one aggregate for every column at once: counts, missing, mean, standard deviation, zeros,
 *      min, max, quantiles, distinct count, NaN and infinity counts, string lengths, booleans;
 *   2. one aggregate for every column at once: the equal-width histograms (numeric columns) and
 *      the full value counts of low-cardinality columns (strings, and ints with few values);
 *   3. only when a string column has more distinct values than `maxValueCounts`: its top values
 *      by GROUP BY (one query, one scan per such column).
 *
 * Conventions:
 * - `count` is the number of non-NULL values, `missing` the number of NULLs; count + missing = rowCount.
 * - For floats, NaN and ±Infinity are counted (`nanCount`, `infinityCount`) and are part of `count`,
 *   but the moments, min, max, quantiles and histograms are over the finite values only.
 * - `std` is the sample standard deviation (n - 1), as elsewhere in Atelier.
 * - Quantiles are exact (`quantile_cont`) when the file has at most `exactQuantileRows` rows,
 *   otherwise DuckDB's `approx_quantile` (t-digest); `quantilesExact` says which.
 * - `unique` is exact (count DISTINCT) up to `exactQuantileRows` rows or when the full value
 *   counts were kept (`valueCounts` present), otherwise DuckDB's HyperLogLog estimate
 *   (`uniqueExact: false`).
 * - Value keys (`topValues`, `valueCounts`) are strings: ints as decimal text, bools as "true"/"false".
 */

export const STATISTICS_FORMAT_VERSION = 1;

export interface HistogramBucket {
  low: number;
  high: number;
  count: number;
}

export interface ValueCount {
  value: string;
  count: number;
}

export interface FeatureStatistics {
  name: string;
  type: DatasetColumn['type'];
  sourceType: string;
  /** Non-NULL values (NaN and infinities included). */
  count: number;
  /** NULL values. */
  missing: number;
  /** Distinct non-NULL values. */
  unique: number;
  uniqueExact: boolean;

  // int and float
  /** Values that are finite numbers (ints: = count); the moments below are over these. */
  finiteCount?: number;
  mean?: number | null;
  std?: number | null;
  zeros?: number;
  min?: number | null;
  max?: number | null;
  median?: number | null;
  /** Keys p01 p05 p10 p25 p50 p75 p90 p95 p99. */
  quantiles?: Record<string, number>;
  quantilesExact?: boolean;
  /**
   * Equal-width buckets from min to max; a value on a boundary belongs to the lower bucket
   * (buckets are (low, high], the first [min, high]). Counts sum to finiteCount.
   */
  histogram?: HistogramBucket[];
  /** Buckets between successive quantiles; each holds finiteCount / buckets values. */
  quantileHistogram?: HistogramBucket[];
  // float only
  nanCount?: number;
  infinityCount?: number;

  // string
  avgLength?: number | null;

  // timestamp (ISO text)
  minTime?: string | null;
  maxTime?: string | null;

  /** The most frequent values, most frequent first (ties by value). Strings, bools, low-cardinality ints. */
  topValues?: ValueCount[];
  /** Every value with its count, when the column has at most `maxValueCounts` distinct values. */
  valueCounts?: ValueCount[];
}

export interface DatasetStatistics {
  formatVersion: typeof STATISTICS_FORMAT_VERSION;
  rowCount: number;
  buckets: number;
  topK: number;
  features: Record<string, FeatureStatistics>;
}

export interface StatisticsOptions {
  /** Buckets of both histograms (default 10). */
  buckets?: number;
  /** Top values kept per feature (default 10). */
  topK?: number;
  /** Keep every value's count when a string/int column has at most this many distinct values (default 1000). */
  maxValueCounts?: number;
  /** Exact quantiles and distinct counts up to this many rows, approximate above (default 100000). */
  exactQuantileRows?: number;
  /**
   * Equal-width histogram boundaries per numeric feature, used instead of the column's own min and
   * max: served traffic is counted on the training statistics' buckets, so the same values give
   * the same histogram (re-binning a histogram built on its own range spreads its mass). Values
   * below the first boundary or above the last go into one more bucket on that side, from the
   * column's own min (or to its max).
   */
  boundaries?: Record<string, number[]>;
}

/** The bucket boundaries of a numeric feature's equal-width histogram, for `StatisticsOptions.boundaries`. */
export function histogramBoundaries(statistics: DatasetStatistics): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const [name, f] of Object.entries(statistics.features)) {
    const h = f.histogram;
    // A single-point histogram (min = max) has no width to count on; the column's own range serves.
    if (h && h.length > 0 && h[0]!.low < h.at(-1)!.high) out[name] = [h[0]!.low, ...h.map((b) => b.high)];
  }
  return out;
}

const NAMED_QUANTILES: [string, number][] = [
  ['p01', 0.01],
  ['p05', 0.05],
  ['p10', 0.1],
  ['p25', 0.25],
  ['p50', 0.5],
  ['p75', 0.75],
  ['p90', 0.9],
  ['p95', 0.95],
  ['p99', 0.99],
];

function checkPositiveInt(value: number | undefined, fallback: number, field: string, max: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new AtelierError('USAGE', `${field} must be a whole number from 1 to ${max}; got ${value}`, { field, expected: `1..${max}`, got: String(value) });
  }
  return value;
}

/** Checks that a Parquet file exists and can be opened; returns its row count from the footer. */
async function openParquet(con: DuckDBConnection, parquetPath: string): Promise<number> {
  if (!existsSync(parquetPath) || !statSync(parquetPath).isFile()) {
    throw new AtelierError('FILE_NOT_FOUND', `${parquetPath}: no such file`, { file: parquetPath });
  }
  try {
    const result = await con.runAndReadAll(`SELECT count(*) AS n FROM read_parquet(${sqlString(parquetPath)})`);
    return Number(result.getRowObjectsJS()[0]!.n);
  } catch (error) {
    const detail = String((error as Error).message).split('\n')[0];
    throw diskFullError(error) ?? new AtelierError('DATA_FILE_INVALID', `${parquetPath}: cannot be read as Parquet: ${detail}`, { file: parquetPath });
  }
}

/** The columns of a Parquet file with their logical types. */
export async function describeParquet(parquetPath: string): Promise<DatasetColumn[]> {
  return withDuckDb(async (con) => {
    await openParquet(con, parquetPath);
    return describe(con, parquetPath);
  });
}

async function describe(con: DuckDBConnection, parquetPath: string): Promise<DatasetColumn[]> {
  const described = await con.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet(${sqlString(parquetPath)})`);
  return described.getRowObjectsJS().map((r) => ({
    name: String(r.column_name),
    sourceType: String(r.column_type),
    type: logicalType(String(r.column_type)),
  }));
}

/**
 * Checks the declared columns against the file: each must exist with the declared logical type.
 * Returns the columns to compute (the declared ones, or every column of the file).
 */
export async function resolveColumns(con: DuckDBConnection, parquetPath: string, columns: DatasetColumn[] | undefined): Promise<DatasetColumn[]> {
  const actual = await describe(con, parquetPath);
  if (!columns) return actual;
  const byName = new Map(actual.map((c) => [c.name, c]));
  const seen = new Set<string>();
  for (const column of columns) {
    if (seen.has(column.name)) {
      throw new AtelierError('USAGE', `column "${column.name}" is listed twice`, { column: column.name });
    }
    seen.add(column.name);
    const found = byName.get(column.name);
    if (!found) {
      throw new AtelierError(
        'COLUMN_NOT_FOUND',
        `${parquetPath}: has no column "${column.name}"; it has ${actual.map((c) => c.name).join(', ')}`,
        { file: parquetPath, column: column.name },
      );
    }
    if (found.type !== column.type) {
      throw new AtelierError(
        'COLUMN_TYPE',
        `${parquetPath}: column "${column.name}" is ${found.type} (${found.sourceType}) in the file; expected ${column.type}`,
        { file: parquetPath, column: column.name, expected: column.type, got: found.type },
      );
    }
  }
  return columns.map((c) => ({ ...c, sourceType: byName.get(c.name)!.sourceType }));
}

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const int = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));

/** The value expression of a numeric column as DOUBLE, with NaN and ±Infinity removed for floats. */
function finiteExpr(column: DatasetColumn): string {
  const e = `CAST(${sqlIdent(column.name)} AS DOUBLE)`;
  return column.type === 'float' ? `(CASE WHEN isfinite(${e}) THEN ${e} END)` : e;
}

/**
 * stddev_samp that does not fail on huge values: DuckDB raises "out of range" when its sums of
 * squares overflow (values near 1e300, which a served request can carry). Then the values are
 * scaled by 2^-600 (exact for such magnitudes) and the result scaled back; otherwise the plain
 * aggregate, which the filter leaves untouched.
 */
function stddevExpr(f: string): string {
  return `(CASE WHEN max(abs(${f})) >= 1e150 THEN stddev_samp(${f} * ${2 ** -600}) * ${2 ** 600} ELSE stddev_samp(${f}) FILTER (WHERE abs(${f}) < 1e150) END)`;
}

function mapEntries(value: unknown): { key: unknown; value: unknown }[] {
  if (Array.isArray(value)) return value as { key: unknown; value: unknown }[];
  if (value && typeof value === 'object' && Array.isArray((value as { entries?: unknown }).entries)) {
    return (value as { entries: { key: unknown; value: unknown }[] }).entries;
  }
  return [];
}

function sortCounts(counts: ValueCount[]): ValueCount[] {
  return counts.sort((a, b) => b.count - a.count || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
}

function valueText(value: unknown): string {
  if (value instanceof Date) return value.toISOString();
  return String(value);
}

/** Equal-width bucket boundaries of [min, max]. */
export function equalWidthBoundaries(min: number, max: number, buckets: number): number[] {
  const out: number[] = [];
  for (let i = 0; i <= buckets; i++) out.push(i === buckets ? max : min + ((max - min) * i) / buckets);
  return out;
}

/**
 * Computes the statistics of the given columns of a Parquet file (every column when `columns`
 * is omitted). See the module comment for what is computed and how.
 */
export async function computeStatistics(
  parquetPath: string,
  columns?: DatasetColumn[],
  options: StatisticsOptions = {},
): Promise<DatasetStatistics> {
  const buckets = checkPositiveInt(options.buckets, 10, 'buckets', 1000);
  const topK = checkPositiveInt(options.topK, 10, 'topK', 100000);
  const maxValueCounts = checkPositiveInt(options.maxValueCounts, 1000, 'maxValueCounts', 1_000_000);
  const exactQuantileRows = options.exactQuantileRows ?? 100_000;
  return withDuckDb(async (con) => {
    const rowCount = await openParquet(con, parquetPath);
    const cols = await resolveColumns(con, parquetPath, columns);
    const source = `read_parquet(${sqlString(parquetPath)})`;
    const exact = rowCount <= exactQuantileRows;

    // The quantile points: the named ones and the quantile-histogram boundaries, in one list.
    const points = [...new Set([...NAMED_QUANTILES.map(([, q]) => q), ...Array.from({ length: buckets - 1 }, (_, i) => (i + 1) / buckets)])]
      .map((q) => Math.round(q * 1e9) / 1e9)
      .sort((a, b) => a - b);
    const pointList = `[${points.map((q) => q.toString()).join(', ')}]`;

    // Pass 1: one aggregate over every column.
    const select: string[] = ['count(*) AS "rows"'];
    const distinct = exact ? 'count(DISTINCT' : 'approx_count_distinct(';
    cols.forEach((c, i) => {
      const x = sqlIdent(c.name);
      const a = (name: string) => `"c${i}_${name}"`;
      select.push(`count(${x}) AS ${a('n')}`);
      if (isNumeric(c.type)) {
        const f = finiteExpr(c);
        select.push(
          `count(${f}) AS ${a('finite')}`,
          `avg(${f}) AS ${a('mean')}`,
          `${stddevExpr(f)} AS ${a('std')}`,
          `min(${f}) AS ${a('min')}`,
          `max(${f}) AS ${a('max')}`,
          `count_if(${x} = 0) AS ${a('zeros')}`,
          `${distinct}${x}) AS ${a('distinct')}`,
          `${exact ? 'quantile_cont' : 'approx_quantile'}(${f}, ${pointList}) AS ${a('q')}`,
        );
        if (c.type === 'float') {
          const e = `CAST(${x} AS DOUBLE)`;
          select.push(`count_if(isnan(${e})) AS ${a('nan')}`);
        }
      } else if (c.type === 'string') {
        select.push(`${distinct}${x}) AS ${a('distinct')}`, `avg(length(${x})) AS ${a('len')}`);
      } else if (c.type === 'bool') {
        select.push(`count_if(${x}) AS ${a('true')}`);
      } else {
        select.push(
          `${distinct}${x}) AS ${a('distinct')}`,
          `CAST(min(${x}) AS VARCHAR) AS ${a('min')}`,
          `CAST(max(${x}) AS VARCHAR) AS ${a('max')}`,
        );
      }
    });
    const first = (await con.runAndReadAll(`SELECT ${select.join(', ')} FROM ${source}`)).getRowObjectsJS()[0]!;

    const features: Record<string, FeatureStatistics> = {};
    const histogramSelect: string[] = [];
    const valueCountColumns: number[] = [];
    const topKColumns: number[] = [];

    cols.forEach((c, i) => {
      const g = (name: string) => first[`c${i}_${name}`];
      const count = int(g('n'));
      const feature: FeatureStatistics = {
        name: c.name,
        type: c.type,
        sourceType: c.sourceType,
        count,
        missing: rowCount - count,
        unique: 0,
        uniqueExact: false,
      };
      features[c.name] = feature;
      if (isNumeric(c.type)) {
        const finite = int(g('finite'));
        const min = num(g('min'));
        const max = num(g('max'));
        const q = (g('q') as unknown[] | null) ?? [];
        const at = (p: number) => num(q[points.indexOf(Math.round(p * 1e9) / 1e9)]);
        feature.finiteCount = finite;
        feature.mean = num(g('mean'));
        feature.std = finite > 1 ? num(g('std')) : finite === 1 ? 0 : null;
        feature.zeros = int(g('zeros'));
        feature.min = min;
        feature.max = max;
        feature.median = finite > 0 ? at(0.5) : null;
        feature.quantiles = finite > 0 ? Object.fromEntries(NAMED_QUANTILES.map(([name, p]) => [name, at(p)!])) : {};
        feature.quantilesExact = exact;
        feature.unique = Math.min(int(g('distinct')), count);
        feature.uniqueExact = exact;
        if (c.type === 'float') {
          feature.nanCount = int(g('nan'));
          feature.infinityCount = count - finite - feature.nanCount;
        }
        if (finite > 0 && min !== null && max !== null) {
          // The quantile histogram: boundaries at min, the i/buckets quantiles, max.
          const bounds = [min, ...Array.from({ length: buckets - 1 }, (_, k) => at((k + 1) / buckets)!), max];
          feature.quantileHistogram = bounds.slice(0, -1).map((low, k) => ({ low, high: bounds[k + 1]!, count: finite / buckets }));
          const given = options.boundaries?.[c.name];
          if (given && given.length >= 2) {
            const f = finiteExpr(c);
            const [low, high] = [given[0]!, given.at(-1)!];
            const upper = given.slice(1).map((b) => `CAST(${b} AS DOUBLE)`).join(', ');
            histogramSelect.push(
              `histogram(${f}, [${upper}]) FILTER (WHERE ${f} >= ${low} AND ${f} <= ${high}) AS "h${i}"`,
              `count(*) FILTER (WHERE ${f} < ${low}) AS "below${i}"`,
              `count(*) FILTER (WHERE ${f} > ${high}) AS "above${i}"`,
            );
          } else if (min === max) {
            feature.histogram = [{ low: min, high: max, count: finite }];
          } else {
            // DuckDB's binned histogram: a value goes to the first boundary at or above it.
            const upper = equalWidthBoundaries(min, max, buckets).slice(1);
            histogramSelect.push(`histogram(${finiteExpr(c)}, [${upper.map((b) => `CAST(${b} AS DOUBLE)`).join(', ')}]) AS "h${i}"`);
          }
        } else {
          feature.histogram = [];
          feature.quantileHistogram = [];
        }
        if (c.type === 'int' && feature.unique <= maxValueCounts && count > 0) {
          histogramSelect.push(`histogram(${sqlIdent(c.name)}) AS "v${i}"`);
          valueCountColumns.push(i);
        }
      } else if (c.type === 'string') {
        feature.unique = Math.min(int(g('distinct')), count);
        feature.uniqueExact = exact;
        feature.avgLength = num(g('len'));
        if (count === 0) {
          feature.unique = 0;
          feature.uniqueExact = true;
          feature.topValues = [];
          feature.valueCounts = [];
        } else if (feature.unique <= maxValueCounts) {
          histogramSelect.push(`histogram(${sqlIdent(c.name)}) AS "v${i}"`);
          valueCountColumns.push(i);
        } else {
          topKColumns.push(i);
        }
      } else if (c.type === 'bool') {
        const trues = int(g('true'));
        const counts = sortCounts(
          [
            { value: 'true', count: trues },
            { value: 'false', count: count - trues },
          ].filter((v) => v.count > 0),
        );
        feature.valueCounts = counts;
        feature.topValues = counts.slice(0, topK);
        feature.unique = counts.length;
        feature.uniqueExact = true;
      } else {
        feature.unique = Math.min(int(g('distinct')), count);
        feature.uniqueExact = exact;
        feature.minTime = g('min') === null ? null : String(g('min'));
        feature.maxTime = g('max') === null ? null : String(g('max'));
      }
    });

    // Pass 2: histograms and value counts, one aggregate.
    if (histogramSelect.length > 0) {
      const second = (await con.runAndReadAll(`SELECT ${histogramSelect.join(', ')} FROM ${source}`)).getRowObjectsJS()[0]!;
      cols.forEach((c, i) => {
        const feature = features[c.name]!;
        if (`h${i}` in second) {
          const given = options.boundaries?.[c.name];
          const bounds = given && given.length >= 2 ? given : equalWidthBoundaries(feature.min!, feature.max!, buckets);
          const n = bounds.length - 1;
          const counts = new Array<number>(n).fill(0);
          for (const { key, value } of mapEntries(second[`h${i}`])) {
            if (key === null) continue;
            // The bucket whose upper boundary is the key (the last one takes anything beyond).
            let k = 0;
            while (k < n - 1 && bounds[k + 1]! < Number(key)) k++;
            counts[k] += Number(value);
          }
          const below = `below${i}` in second ? int(second[`below${i}`]) : 0;
          const above = `above${i}` in second ? int(second[`above${i}`]) : 0;
          feature.histogram = [
            ...(below > 0 ? [{ low: feature.min!, high: bounds[0]!, count: below }] : []),
            ...counts.map((count, k) => ({ low: bounds[k]!, high: bounds[k + 1]!, count })),
            ...(above > 0 ? [{ low: bounds[n]!, high: feature.max!, count: above }] : []),
          ];
        }
        if (`v${i}` in second) {
          const counts = sortCounts(mapEntries(second[`v${i}`]).filter((e) => e.key !== null).map((e) => ({ value: valueText(e.key), count: Number(e.value) })));
          feature.valueCounts = counts;
          feature.topValues = counts.slice(0, topK);
          feature.unique = counts.length;
          feature.uniqueExact = true;
        }
      });
    }

    // Pass 3: top values of high-cardinality strings.
    if (topKColumns.length > 0) {
      const parts = topKColumns.map((i) => {
        const x = sqlIdent(cols[i]!.name);
        return `(SELECT ${i} AS col, CAST(${x} AS VARCHAR) AS value, count(*) AS n FROM ${source} WHERE ${x} IS NOT NULL GROUP BY ${x} ORDER BY n DESC, value LIMIT ${topK})`;
      });
      const rows = (await con.runAndReadAll(parts.join(' UNION ALL '))).getRowObjectsJS();
      for (const i of topKColumns) {
        const feature = features[cols[i]!.name]!;
        feature.topValues = sortCounts(rows.filter((r) => Number(r.col) === i).map((r) => ({ value: String(r.value), count: Number(r.n) })));
      }
    }

    return { formatVersion: STATISTICS_FORMAT_VERSION, rowCount, buckets, topK, features };
  });
}

/** Checks that an object read from JSON looks like statistics this module wrote. */
export function checkStatistics(stats: unknown, label = 'statistics'): DatasetStatistics {
  const s = stats as Partial<DatasetStatistics> | null;
  if (!s || typeof s !== 'object' || typeof s.rowCount !== 'number' || !s.features || typeof s.features !== 'object') {
    throw new AtelierError('USAGE', `${label}: not dataset statistics (expected rowCount and features)`, { field: label });
  }
  if (s.formatVersion !== STATISTICS_FORMAT_VERSION) {
    throw new AtelierError('USAGE', `${label}: statistics format version ${String(s.formatVersion)} is not supported; expected ${STATISTICS_FORMAT_VERSION}`, {
      field: `${label}.formatVersion`,
      expected: String(STATISTICS_FORMAT_VERSION),
      got: String(s.formatVersion),
    });
  }
  return s as DatasetStatistics;
}
