import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { isAtelierError } from '../src/core/errors.js';
import { sqlString, withDuckDb } from '../src/data/duckdb.js';
import { computeStatistics, describeParquet, type DatasetStatistics } from '../src/data/statistics.js';
import { HOUSING, tempDir } from './helpers.js';

/** Writes the result of a SELECT over the housing CSV (as table `housing`) to a Parquet file. */
async function writeParquet(file: string, select: string): Promise<string> {
  await withDuckDb(async (con) => {
    await con.run(`CREATE TABLE housing AS SELECT * FROM read_csv(${sqlString(HOUSING)}, header = true)`);
    await con.run(`COPY (${select}) TO ${sqlString(file)} (FORMAT parquet)`);
  });
  return file;
}

async function expectError(work: () => Promise<unknown>, code: string, pattern: RegExp) {
  await assert.rejects(work, (error: unknown) => {
    assert.ok(isAtelierError(error), `an AtelierError, got ${String(error)}`);
    assert.equal(error.code, code);
    assert.match(error.message, pattern);
    return true;
  });
}

// The housing data with a string column derived from RAD (low: 1-4, mid: 5-8, high: 24) and a bool.
const HOUSING_PLUS = `SELECT *, CASE WHEN RAD = 24 THEN 'high' WHEN RAD >= 5 THEN 'mid' ELSE 'low' END AS access, CHAS = 1 AS river FROM housing`;

describe('computeStatistics', () => {
  let dir: string;
  let housing: string;
  let stats: DatasetStatistics;

  before(async () => {
    dir = tempDir('atelier-stats-');
    housing = await writeParquet(join(dir, 'housing.parquet'), HOUSING_PLUS);
    stats = await computeStatistics(housing);
  });

  test('row count, format version, every column', () => {
    assert.equal(stats.formatVersion, 1);
    assert.equal(stats.rowCount, 506);
    assert.equal(stats.buckets, 10);
    assert.equal(stats.topK, 10);
    assert.deepEqual(Object.keys(stats.features), ['CRIM', 'ZN', 'INDUS', 'CHAS', 'NOX', 'RM', 'AGE', 'DIS', 'RAD', 'TAX', 'PTRATIO', 'B', 'LSTAT', 'MEDV', 'access', 'river']);
    assert.equal(JSON.parse(JSON.stringify(stats)).rowCount, 506, 'plain JSON');
  });

  test('a numeric feature: count, mean, std, min, max, median, quantiles', () => {
    const medv = stats.features.MEDV!;
    assert.equal(medv.type, 'float');
    assert.equal(medv.count, 506);
    assert.equal(medv.missing, 0);
    assert.equal(medv.finiteCount, 506);
    assert.equal(Number(medv.mean!.toFixed(4)), 22.5328);
    assert.equal(Number(medv.std!.toFixed(4)), 9.1971);
    assert.equal(medv.min, 5);
    assert.equal(medv.max, 50);
    assert.equal(medv.median, 21.2);
    assert.equal(medv.quantilesExact, true);
    assert.deepEqual(medv.quantiles, { p01: 7.01, p05: 10.2, p10: 12.75, p25: 17.025, p50: 21.2, p75: 25, p90: 34.8, p95: 43.4, p99: 50 });
    assert.equal(medv.zeros, 0);
    assert.equal(medv.nanCount, 0);
    assert.equal(medv.infinityCount, 0);
    assert.equal(stats.features.CHAS!.zeros, 471);
  });

  test('histograms: ten equal-width buckets summing to the row count, ten quantile buckets', () => {
    const medv = stats.features.MEDV!;
    const h = medv.histogram!;
    assert.equal(h.length, 10);
    assert.equal(h[0]!.low, 5);
    assert.equal(h[9]!.high, 50);
    for (let i = 0; i < 10; i++) assert.ok(Math.abs(h[i]!.high - h[i]!.low - 4.5) < 1e-9);
    assert.equal(h.reduce((s, b) => s + b.count, 0), 506);
    // (45.5, 50] holds the 16 capped values at 50 and 5 more.
    assert.deepEqual(
      h.map((b) => b.count),
      [22, 55, 85, 154, 84, 39, 29, 7, 10, 21],
    );
    const q = medv.quantileHistogram!;
    assert.equal(q.length, 10);
    assert.equal(q[0]!.low, 5);
    assert.equal(q[0]!.high, 12.75);
    assert.equal(q[9]!.high, 50);
    assert.ok(Math.abs(q.reduce((s, b) => s + b.count, 0) - 506) < 1e-9);
    for (const name of Object.keys(stats.features)) {
      const f = stats.features[name]!;
      if (f.histogram) assert.equal(f.histogram.reduce((s, b) => s + b.count, 0), 506, name);
    }
  });

  test('a string feature: top values, unique count, average length', () => {
    const access = stats.features.access!;
    assert.equal(access.type, 'string');
    assert.equal(access.count, 506);
    assert.equal(access.unique, 3);
    assert.equal(access.uniqueExact, true);
    assert.deepEqual(access.topValues, [
      { value: 'low', count: 192 },
      { value: 'mid', count: 182 },
      { value: 'high', count: 132 },
    ]);
    assert.deepEqual(access.valueCounts, access.topValues);
    assert.ok(Math.abs(access.avgLength! - (192 * 3 + 182 * 3 + 132 * 4) / 506) < 1e-12);
  });

  test('a bool feature and a low-cardinality int feature carry their value counts', () => {
    assert.deepEqual(stats.features.river!.topValues, [
      { value: 'false', count: 471 },
      { value: 'true', count: 35 },
    ]);
    const rad = stats.features.RAD!;
    assert.equal(rad.unique, 9);
    assert.deepEqual(rad.topValues!.slice(0, 3), [
      { value: '24', count: 132 },
      { value: '5', count: 115 },
      { value: '4', count: 110 },
    ]);
  });

  test('missing values, NaN and infinities', async () => {
    const file = await writeParquet(
      join(dir, 'holes.parquet'),
      `SELECT CASE WHEN range % 4 = 0 THEN NULL ELSE range END AS a,
              CASE WHEN range % 10 = 0 THEN 'nan'::DOUBLE WHEN range % 10 = 1 THEN 'inf'::DOUBLE
                   WHEN range % 10 = 2 THEN NULL ELSE range / 2 END AS f,
              CASE WHEN range % 5 = 0 THEN NULL ELSE 'v' || (range % 3) END AS s
       FROM range(100)`,
    );
    const s = await computeStatistics(file);
    assert.equal(s.rowCount, 100);
    assert.equal(s.features.a!.missing, 25);
    assert.equal(s.features.a!.count, 75);
    const f = s.features.f!;
    assert.equal(f.missing, 10);
    assert.equal(f.count, 90);
    assert.equal(f.nanCount, 10);
    assert.equal(f.infinityCount, 10);
    assert.equal(f.finiteCount, 70);
    assert.ok(Number.isFinite(f.mean!) && Number.isFinite(f.max!), 'moments over the finite values');
    assert.equal(f.max, 49.5);
    assert.equal(f.histogram!.reduce((x, b) => x + b.count, 0), 70);
    assert.equal(s.features.s!.missing, 20);
    assert.equal(s.features.s!.valueCounts!.reduce((x, v) => x + v.count, 0), 80);
  });

  test('values near the largest double: the standard deviation is computed, not an overflow error', async () => {
    const file = await writeParquet(join(dir, 'huge.parquet'), `SELECT CASE range % 3 WHEN 0 THEN 1e300 WHEN 1 THEN -1e300 ELSE 1.0 END AS x, range::DOUBLE AS y FROM range(30)`);
    const s = await computeStatistics(file);
    const x = s.features.x!;
    assert.ok(Math.abs(x.std! / 8.3045e299 - 1) < 1e-4, `std ${x.std}`);
    assert.equal(x.max, 1e300);
    // Ordinary columns keep the plain aggregate.
    assert.ok(Math.abs(s.features.y!.std! - 8.803408430829505) < 1e-12, `std ${s.features.y!.std}`);
  });

  test('timestamps, decimals, and a column name with quotes', async () => {
    const file = await writeParquet(
      join(dir, 'kinds.parquet'),
      `SELECT TIMESTAMP '2024-01-01' + INTERVAL (range) HOUR AS ts, range::DECIMAL(10, 2) AS dec, 'x' || (range % 3) AS "odd ""name"""
       FROM range(50)`,
    );
    const s = await computeStatistics(file);
    assert.deepEqual(
      { type: s.features.ts!.type, min: s.features.ts!.minTime, max: s.features.ts!.maxTime, unique: s.features.ts!.unique },
      { type: 'timestamp', min: '2024-01-01 00:00:00', max: '2024-01-03 01:00:00', unique: 50 },
    );
    assert.equal(s.features.dec!.type, 'float');
    assert.equal(s.features.dec!.mean, 24.5);
    assert.equal(s.features.dec!.median, 24.5);
    assert.deepEqual(s.features['odd "name"']!.topValues, [
      { value: 'x0', count: 17 },
      { value: 'x1', count: 17 },
      { value: 'x2', count: 16 },
    ]);
  });

  test('an empty dataset', async () => {
    const file = await writeParquet(join(dir, 'empty.parquet'), `${HOUSING_PLUS} LIMIT 0`);
    const s = await computeStatistics(file);
    assert.equal(s.rowCount, 0);
    assert.equal(s.features.MEDV!.count, 0);
    assert.equal(s.features.MEDV!.mean, null);
    assert.deepEqual(s.features.MEDV!.histogram, []);
    assert.deepEqual(s.features.access!.topValues, []);
  });

  test('options: buckets, topK, and top values by GROUP BY past maxValueCounts', async () => {
    const s = await computeStatistics(housing, undefined, { buckets: 5, topK: 2, maxValueCounts: 2, exactQuantileRows: 0 });
    assert.equal(s.features.MEDV!.histogram!.length, 5);
    assert.equal(s.features.MEDV!.quantileHistogram!.length, 5);
    const access = s.features.access!;
    assert.equal(access.valueCounts, undefined);
    assert.equal(access.uniqueExact, false);
    assert.deepEqual(access.topValues, [
      { value: 'low', count: 192 },
      { value: 'mid', count: 182 },
    ]);
  });

  test('selected columns, described from the file', async () => {
    const columns = (await describeParquet(housing)).filter((c) => c.name === 'MEDV' || c.name === 'access');
    const s = await computeStatistics(housing, columns);
    assert.deepEqual(Object.keys(s.features), ['MEDV', 'access']);
  });

  test('large data uses approximate quantiles', async () => {
    const s = await computeStatistics(housing, undefined, { exactQuantileRows: 10 });
    assert.equal(s.features.MEDV!.quantilesExact, false);
    assert.ok(Math.abs(s.features.MEDV!.median! - 21.2) < 0.5);
  });

  test('bad input: a clear AtelierError', async () => {
    await expectError(() => computeStatistics(join(dir, 'nope.parquet')), 'FILE_NOT_FOUND', /nope\.parquet: no such file/);
    const text = join(dir, 'text.parquet');
    writeFileSync(text, 'a,b\n1,2\n');
    await expectError(() => computeStatistics(text), 'DATA_FILE_INVALID', /text\.parquet: cannot be read as Parquet/);
    await expectError(() => computeStatistics(housing, [{ name: 'PRICE', type: 'float', sourceType: 'DOUBLE' }]), 'COLUMN_NOT_FOUND', /no column "PRICE"; it has CRIM, ZN/);
    await expectError(() => computeStatistics(housing, [{ name: 'access', type: 'float', sourceType: 'DOUBLE' }]), 'COLUMN_TYPE', /column "access" is string \(VARCHAR\) in the file; expected float/);
    await expectError(() => computeStatistics(housing, undefined, { buckets: 0 }), 'USAGE', /buckets must be a whole number from 1 to 1000; got 0/);
  });
});
