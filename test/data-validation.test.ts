import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { isAtelierError } from '../src/core/errors.js';
import { compareStatistics, jensenShannonDivergence, lInfinityDistance } from '../src/data/drift.js';
import { sqlString, withDuckDb } from '../src/data/duckdb.js';
import { inferSchema, loadSchema, parseSchema, saveSchema, schemaToYaml, type DataSchema } from '../src/data/schema.js';
import { computeStatistics, type DatasetStatistics } from '../src/data/statistics.js';
import { validateDataset, validateStatistics, type Anomaly } from '../src/data/validate.js';
import { HOUSING, tempDir } from './helpers.js';

// Housing with a categorical column derived from RAD: low (RAD 1-4, 192 rows), mid (5-8, 182), high (24, 132).
const ACCESS = `CASE WHEN RAD = 24 THEN 'high' WHEN RAD >= 5 THEN 'mid' ELSE 'low' END`;
const BASE = `SELECT *, ${ACCESS} AS access FROM housing`;

let dir: string;
let counter = 0;

/** Writes a SELECT over `housing` (the CSV, with a row number `rn` from 0 in file order) to Parquet. */
async function parquet(select: string): Promise<string> {
  const file = join(dir, `v${++counter}.parquet`);
  await withDuckDb(async (con) => {
    await con.run(`CREATE TABLE h AS SELECT * FROM read_csv(${sqlString(HOUSING)}, header = true)`);
    await con.run(`CREATE TABLE housing AS SELECT *, row_number() OVER () - 1 AS rn FROM h`);
    await con.run(`COPY (SELECT * EXCLUDE (rn) FROM (${select})) TO ${sqlString(file)} (FORMAT parquet)`);
  });
  return file;
}

async function statsOf(select: string): Promise<DatasetStatistics> {
  return computeStatistics(await parquet(select));
}

function kinds(anomalies: Anomaly[]): string[] {
  return anomalies.map((a) => `${a.feature ?? '-'}:${a.kind}`).sort();
}

function expectConfigError(work: () => unknown, pattern: RegExp, field?: string) {
  assert.throws(work, (error: unknown) => {
    assert.ok(isAtelierError(error), `an AtelierError, got ${String(error)}`);
    assert.equal(error.code, 'CONFIG_INVALID');
    assert.match(error.message, pattern);
    if (field) assert.equal(error.facts.field, field);
    return true;
  });
}

describe('schema, validation, drift', () => {
  let base: DatasetStatistics;
  let schema: DataSchema;

  before(async () => {
    dir = tempDir('atelier-validate-');
    base = await statsOf(BASE);
    schema = inferSchema(base, { label: 'MEDV' });
  });

  describe('inferSchema and YAML', () => {
    test('types, presence, domains, thresholds, environments', () => {
      assert.equal(schema.version, 1);
      assert.deepEqual(schema.environments, ['TRAINING', 'SERVING']);
      assert.equal(schema.label, 'MEDV');
      assert.deepEqual(schema.features.MEDV, {
        type: 'float',
        presence: 'required',
        domain: { min: 5, max: 50 },
        allow_nan: false,
        drift: { jensen_shannon: 0.1 },
        not_in_environment: ['SERVING'],
      });
      assert.deepEqual(schema.features.RAD, {
        type: 'int',
        presence: 'required',
        domain: { min: 1, max: 24 },
        drift: { jensen_shannon: 0.1 },
        skew: { jensen_shannon: 0.1 },
      });
      assert.deepEqual(schema.features.access, {
        type: 'string',
        presence: 'required',
        domain: { values: ['high', 'low', 'mid'] },
        drift: { infinity_norm: 0.1 },
        skew: { infinity_norm: 0.1 },
      });
      assert.equal(inferSchema(base, { maxDomainSize: 2 }).features.access!.domain, undefined);
    });

    test('round trip through YAML, and through a file', () => {
      const text = schemaToYaml(schema);
      assert.match(text, /^# Atelier data schema/);
      assert.match(text, /\n {2}MEDV:\n {4}type: float\n {4}presence: required\n {4}domain: \{ min: 5, max: 50 \}\n/);
      assert.deepEqual(parseSchema(text, 'schema.yaml'), schema);
      const file = join(dir, 'schema.yaml');
      saveSchema(schema, file);
      assert.deepEqual(loadSchema(file), schema);
    });

    test('an edited schema: presence as a fraction, defaults filled', () => {
      const parsed = parseSchema('version: 1\nfeatures:\n  a:\n    type: float\n    presence: { min_fraction: 0.9 }\n', 's.yaml');
      assert.deepEqual(parsed, { version: 1, environments: ['TRAINING', 'SERVING'], features: { a: { type: 'float', presence: { min_fraction: 0.9 } } } });
    });

    test('an invalid schema names the file, line and field', () => {
      const text = readFileSync(join(dir, 'schema.yaml'), 'utf8');
      expectConfigError(() => parseSchema(text.replace('    presence: required', '    presence: sometimes'), 'schema.yaml'), /^schema\.yaml:10: features\.CRIM\.presence: "sometimes" is not allowed; expected required, optional or \{ min_fraction: 0\.\.1 \}$/, 'features.CRIM.presence');
      expectConfigError(() => parseSchema(text.replace('jensen_shannon: 0.1', 'jensen_shannon: 2'), 'schema.yaml'), /features\.CRIM\.drift\.jensen_shannon: .*<=1/);
      expectConfigError(() => parseSchema(text.replace('    type: float', '    type: float\n    colour: red'), 'schema.yaml'), /features\.CRIM\.colour: unknown field/);
      expectConfigError(() => parseSchema(text.replace('version: 1\n', ''), 'schema.yaml'), /^schema\.yaml:4: version: required field is missing$/, 'version');
      expectConfigError(() => parseSchema(text.replace('version: 1', 'version: 7'), 'schema.yaml'), /^schema\.yaml:4: version: schema version 7 is not supported; expected 1$/, 'version');
      expectConfigError(() => parseSchema(text.replace('label: MEDV', 'label: PRICE'), 'schema.yaml'), /label: names no feature of this schema \("PRICE"\)/);
      expectConfigError(() => parseSchema(text.replace('not_in_environment: [ SERVING ]', 'not_in_environment: [ SERVNG ]'), 'schema.yaml'), /features\.MEDV\.not_in_environment\.0: "SERVNG" is not one of/);
      expectConfigError(() => parseSchema('features: [1, 2\n', 'bad.yaml'), /^bad\.yaml:\d+: not valid YAML/);
      assert.throws(() => loadSchema(join(dir, 'none.yaml')), (e: unknown) => isAtelierError(e) && e.code === 'FILE_NOT_FOUND');
      assert.throws(() => inferSchema(base, { label: 'PRICE' }), (e: unknown) => isAtelierError(e) && e.code === 'COLUMN_NOT_FOUND' && /label "PRICE"/.test(e.message));
    });
  });

  describe('validateStatistics', () => {
    test('the same data: no anomaly, even against itself', () => {
      assert.deepEqual(validateStatistics(base, schema), []);
      assert.deepEqual(validateStatistics(base, schema, { against: base, environment: 'TRAINING' }), []);
    });

    test('a column removed, a new column, a type changed', async () => {
      const stats = await statsOf(`SELECT * EXCLUDE (CRIM, CHAS), CAST(CHAS AS VARCHAR) AS CHAS, 1 AS extra FROM (${BASE})`);
      const anomalies = validateStatistics(stats, schema);
      assert.deepEqual(kinds(anomalies), ['CHAS:type_changed', 'CRIM:missing_column', 'extra:new_column']);
      const missing = anomalies.find((a) => a.kind === 'missing_column')!;
      assert.equal(missing.severity, 'error');
      assert.equal(missing.message, 'Column CRIM is in the schema but not in the data.');
      assert.equal(anomalies.find((a) => a.kind === 'new_column')!.severity, 'warning');
      assert.deepEqual(anomalies.find((a) => a.kind === 'type_changed')!.facts, { expected: 'int', got: 'string', sourceType: 'VARCHAR' });
    });

    test('the label may be absent when serving', async () => {
      const serving = await statsOf(`SELECT * EXCLUDE (MEDV) FROM (${BASE})`);
      assert.deepEqual(validateStatistics(serving, schema, { environment: 'SERVING' }), []);
      assert.deepEqual(kinds(validateStatistics(serving, schema, { environment: 'TRAINING' })), ['MEDV:missing_column']);
      assert.throws(() => validateStatistics(serving, schema, { environment: 'PROD' }), (e: unknown) => isAtelierError(e) && e.code === 'USAGE' && /"PROD" is not one of the schema's environments/.test(e.message));
    });

    test('out-of-range values: estimated from statistics, exact from the data', async () => {
      const file = await parquet(`SELECT * REPLACE (CASE WHEN rn < 10 THEN 75.0 ELSE MEDV END AS MEDV) FROM (${BASE})`);
      const estimated = validateStatistics(await computeStatistics(file), schema);
      assert.deepEqual(kinds(estimated), ['MEDV:out_of_range']);
      assert.equal(estimated[0]!.facts.estimated, true);
      const { anomalies, exactQuery } = await validateDataset(file, undefined, schema);
      assert.equal(exactQuery, true);
      assert.deepEqual(kinds(anomalies), ['MEDV:out_of_range']);
      const a = anomalies[0]!;
      assert.equal(a.severity, 'error');
      assert.deepEqual(a.facts, { domainMin: 5, domainMax: 50, min: 5, max: 75, below: 0, above: 10, rows: 10, share: 10 / 506, estimated: false });
      assert.equal(a.message, 'Column MEDV has 10 rows (1.98%) above the maximum 50 (largest 75).');
    });

    test('an unknown category, with its share of rows and examples', async () => {
      const stats = await statsOf(`SELECT * REPLACE (CASE WHEN RAD = 24 THEN 'remote' ELSE access END AS access) FROM (${BASE})`);
      const anomalies = validateStatistics(stats, schema);
      assert.deepEqual(kinds(anomalies), ['access:unknown_categories']);
      assert.deepEqual(anomalies[0]!.facts, { rows: 132, share: 132 / 506, examples: ['remote'], distinctUnknown: 1, atLeast: false });
      assert.equal(anomalies[0]!.message, 'Column access has 132 rows (26.1%) with values outside the schema\'s domain, such as "remote".');
    });

    test('an unknown category counted exactly when only the top values were kept', async () => {
      const file = await parquet(`SELECT * REPLACE (CASE WHEN RAD = 24 THEN 'remote' || (rn % 7) ELSE access END AS access) FROM (${BASE})`);
      const { anomalies } = await validateDataset(file, undefined, schema, { statistics: { maxValueCounts: 2, topK: 2 } });
      assert.deepEqual(kinds(anomalies), ['access:unknown_categories']);
      assert.equal(anomalies[0]!.facts.rows, 132);
      assert.equal(anomalies[0]!.facts.atLeast, false);
      assert.ok((anomalies[0]!.facts.examples as string[]).every((e) => e.startsWith('remote')));
    });

    test('too many missing, NaN where disallowed', async () => {
      const stats = await statsOf(
        `SELECT * REPLACE (CASE WHEN rn < 50 THEN NULL ELSE CRIM END AS CRIM, CASE WHEN rn % 100 = 7 THEN 'nan'::DOUBLE ELSE NOX END AS NOX) FROM (${BASE})`,
      );
      const anomalies = validateStatistics(stats, schema);
      assert.deepEqual(kinds(anomalies), ['CRIM:too_many_missing', 'NOX:nan_or_infinity']);
      const missing = anomalies.find((a) => a.kind === 'too_many_missing')!;
      assert.deepEqual(missing.facts, { missing: 50, rowCount: 506, presentFraction: 456 / 506, minFraction: 1 });
      assert.equal(missing.message, 'Column CRIM is missing in 50 rows (9.88%); the schema requires a value in every row.');
      const nan = anomalies.find((a) => a.kind === 'nan_or_infinity')!;
      assert.equal(nan.facts.nanCount, 5);
      assert.equal(nan.facts.infinityCount, 0);
      const relaxed = structuredClone(schema);
      relaxed.features.CRIM!.presence = { min_fraction: 0.8 };
      relaxed.features.NOX!.allow_nan = true;
      assert.deepEqual(validateStatistics(stats, relaxed), []);
    });

    test('an empty dataset; a row count beyond its bound', async () => {
      const empty = await statsOf(`${BASE} LIMIT 0`);
      assert.deepEqual(kinds(validateStatistics(empty, schema)), ['-:empty_dataset']);
      const half = await statsOf(`SELECT * FROM (${BASE}) WHERE rn % 2 = 0`);
      const anomalies = validateStatistics(half, schema, { previousRowCount: 506, rowCountBound: 0.25 });
      const rowCount = anomalies.filter((a) => a.kind === 'row_count_changed');
      assert.equal(rowCount.length, 1);
      assert.equal(rowCount[0]!.severity, 'warning');
      assert.deepEqual(rowCount[0]!.facts, { rowCount: 253, previousRowCount: 506, change: -0.5, bound: 0.25 });
      assert.equal(validateStatistics(half, schema, { previousRowCount: 506, rowCountBound: 0.6 }).filter((a) => a.kind === 'row_count_changed').length, 0);
    });
  });

  describe('drift and skew', () => {
    test('Jensen-Shannon and L-infinity on small hand-computed cases', () => {
      const h = (...buckets: [number, number, number][]) => ({ buckets: buckets.map(([low, high, count]) => ({ low, high, count })) });
      assert.equal(jensenShannonDivergence(h([0, 1, 5], [1, 2, 5]), h([0, 1, 5], [1, 2, 5])), 0);
      assert.equal(jensenShannonDivergence(h([0, 1, 3]), h([1, 2, 7])), 1);
      // Re-binning: [0,2] with 2 values is [0,1]:1 and [1,2]:1.
      assert.equal(jensenShannonDivergence(h([0, 1, 1], [1, 2, 1]), h([0, 2, 2])), 0);
      // P = (1/2, 1/2), Q = (1, 0): JS = 1/2 KL(P||M) + 1/2 KL(Q||M), M = (3/4, 1/4).
      const expected = 0.5 * (0.5 * Math.log2(0.5 / 0.75) + 0.5 * Math.log2(0.5 / 0.25)) + 0.5 * Math.log2(1 / 0.75);
      assert.ok(Math.abs(jensenShannonDivergence(h([0, 1, 1], [1, 2, 1]), h([0, 1, 4])) - expected) < 1e-12);
      // NaNs get a bucket of their own on each side.
      assert.equal(jensenShannonDivergence({ ...h([0, 1, 4]), nanCount: 4 }, h([0, 1, 4])), expected);
      const l = lInfinityDistance({ a: 3, b: 1 }, { a: 1, b: 1, c: 2 });
      assert.deepEqual(l, { distance: 0.5, value: 'a', a: 0.75, b: 0.25 });
    });

    test('a shifted numeric column and a new dominant category drift; nothing else does', async () => {
      const rmStd = base.features.RM!.std!;
      const drifted = await statsOf(
        `SELECT * REPLACE (RM + ${rmStd} AS RM, CASE WHEN RAD IN (4, 5) THEN 'remote' ELSE access END AS access) FROM (${BASE})`,
      );
      const comparison = compareStatistics(base, drifted, schema);
      assert.deepEqual(comparison.crossed.sort(), ['RM', 'access']);
      assert.equal(comparison.features.RM!.metric, 'jensen_shannon');
      assert.ok(comparison.features.RM!.distance! > 0.1);
      assert.equal(comparison.features.access!.metric, 'infinity_norm');
      assert.equal(comparison.features.access!.value, 'remote');
      assert.equal(comparison.features.access!.distance, 225 / 506);
      for (const [name, d] of Object.entries(comparison.features)) if (name !== 'RM' && name !== 'access') assert.equal(d.distance, 0, name);

      const anomalies = validateStatistics(drifted, schema, { against: base }).filter((a) => a.kind === 'drift');
      assert.deepEqual(kinds(anomalies), ['RM:drift', 'access:drift']);
      assert.match(anomalies.find((a) => a.feature === 'access')!.message, /^Column access drifted from the previous version: L-infinity distance 0\.444664 is above the threshold 0\.1; value "remote" went from 0% to 44\.5% of values\.$/);

      // Without a schema: default thresholds; skew uses the skew thresholds.
      assert.deepEqual(compareStatistics(base, drifted).crossed.sort(), ['RM', 'access']);
      assert.deepEqual(compareStatistics(base, drifted, schema, { kind: 'skew' }).crossed.sort(), ['RM', 'access']);
      assert.deepEqual(kinds(validateStatistics(drifted, schema, { skewAgainst: base }).filter((a) => a.kind === 'skew')), ['RM:skew', 'access:skew']);
    });

    test('an unchanged copy flags nothing', async () => {
      const copy = await statsOf(BASE);
      const comparison = compareStatistics(base, copy, schema);
      assert.deepEqual(comparison.crossed, []);
      assert.ok(Object.keys(comparison.features).length > 0);
      assert.deepEqual(validateStatistics(copy, schema, { against: base }), []);
    });

    test('statistics of served traffic (no label) compared with training: skew', async () => {
      const serving = await statsOf(`SELECT * EXCLUDE (MEDV) FROM (${BASE}) WHERE rn < 300`);
      const anomalies = validateStatistics(serving, schema, { environment: 'SERVING', skewAgainst: base });
      // The first 300 rows (ordered by town) are a skewed sample: there are anomalies, and all are skew.
      assert.ok(anomalies.length > 0, 'the sample is skewed');
      assert.deepEqual([...new Set(anomalies.map((a) => a.kind))], ['skew']);
      writeFileSync(join(dir, 'anomalies.json'), JSON.stringify(anomalies));
    });
  });
});
