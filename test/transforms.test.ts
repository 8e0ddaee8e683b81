import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadBundle } from '../src/bundle/load.js';
import { parseModelConfig } from '../src/core/config.js';
import { AtelierError } from '../src/core/errors.js';
import { initWorkspace } from '../src/core/workspace.js';
import { importDataset } from '../src/data/datasets.js';
import { readColumns } from '../src/data/table.js';
import { fitVocabulary, encodeCategory } from '../src/features/categorical.js';
import { applyStep, fitStep } from '../src/features/steps.js';
import { outputNames, transformColumns } from '../src/features/transform.js';
import { predictCsv } from '../src/serving/batch.js';
import { openContext } from '../src/store/context.js';
import { train } from '../src/training/train.js';
import { tempDir } from './helpers.js';

test('steps fit on training values and apply as documented', () => {
  const values = Float64Array.of(1, 2, 3, 4, Number.NaN);
  assert.deepEqual(fitStep('standardize', values, {}), { kind: 'standardize', mean: 2.5, std: Math.sqrt(5 / 3) });
  assert.deepEqual(fitStep('min_max', values, {}), { kind: 'min_max', min: 1, max: 4 });
  const buckets = fitStep('bucketize', Float64Array.from({ length: 100 }, (_v, i) => i), { buckets: 4 });
  assert.deepEqual(buckets, { kind: 'bucketize', boundaries: [24.75, 49.5, 74.25] });
  assert.deepEqual([0, 24.75, 50, 99].map((v) => applyStep(buckets, v)), [0, 1, 2, 3]);
  assert.equal(applyStep({ kind: 'clip', low: 0, high: 1 }, 7), 1);
  assert.equal(applyStep({ kind: 'log1p' }, Math.E - 1), 1);
});

test('vocabularies keep the most frequent values above a floor; the rest hash into OOV buckets', () => {
  const encoder = fitVocabulary(['b', 'a', 'b', 'c', 'a', 'b', 'd', null], { topK: 2, minFrequency: 2, oovBuckets: 3 });
  assert.deepEqual(encoder, { kind: 'vocabulary', values: ['b', 'a'], oovBuckets: 3 });
  assert.equal(encodeCategory(encoder, 'b'), 0);
  assert.equal(encodeCategory(encoder, 'a'), 1);
  const oov = encodeCategory(encoder, 'zzz');
  assert.ok(oov >= 2 && oov < 5);
  assert.equal(encodeCategory(encoder, 'zzz'), oov, 'stable');
});

test('a config with every kind of transform trains, and training, batch and online paths agree', async () => {
  const dir = tempDir();
  const ctx = await openContext(initWorkspace(dir));
  const cities = ['Paris', 'Lyon', 'Nice', 'Lille'];
  const lines = ['size,rooms,age,city,zip,price'];
  for (let i = 0; i < 300; i++) {
    const city = cities[i % 4]!;
    const size = 20 + ((i * 37) % 180);
    const rooms = i % 7 === 0 ? '' : String(1 + (i % 5));
    const age = (i * 13) % 90;
    const price = size * (city === 'Paris' ? 10 : 5) + Number(rooms || 3) * 20 - age + (i % 3);
    lines.push(`${size},${rooms},${age},${city},Z${i % 11},${price}`);
  }
  writeFileSync(join(dir, 'homes.csv'), lines.join('\n') + '\n');
  await importDataset(ctx, join(dir, 'homes.csv'), 'homes');
  const config = parseModelConfig(
    `name: homes
task: regression
data: { dataset: homes, label: price }
features:
  - { name: size, transform: [log1p, standardize] }
  - { name: rooms, missing: { strategy: median, indicator: true } }
  - { name: age, transform: bucketize, buckets: 4, output: one_hot }
  - { name: city, transform: vocabulary, oov_buckets: 2 }
  - { name: zip, transform: hash, buckets: 7, output: index }
  - { cross: [city, rooms], buckets: 16 }
model: { family: linear }
`,
    'homes.yaml',
  );
  const trained = await train(ctx, config);
  const bundle = await loadBundle(trained.bundleDir);
  assert.deepEqual(
    bundle.transform.inputs.map((i) => `${i.name}:${i.dtype}`),
    ['size:int', 'rooms:int', 'age:int', 'city:string', 'zip:string'],
  );
  const names = outputNames(bundle.transform);
  assert.deepEqual(names.slice(0, 4), ['size', 'rooms', 'rooms_missing', 'age']);
  assert.deepEqual(names.slice(4, 8).sort(), ['city=Lille', 'city=Lyon', 'city=Nice', 'city=Paris'], 'vocabulary, most frequent first');
  assert.deepEqual(names.slice(8), ['city#0', 'city#1', 'zip', ...Array.from({ length: 16 }, (_v, i) => `city_x_rooms#${i}`)]);

  const version = (await ctx.store.getDatasetVersion('homes'))!;
  const table = await readColumns(ctx, version, bundle.transform.inputs.map((i) => i.name), (n) => n);
  const rows = Array.from({ length: table.rows }, (_v, r) =>
    Object.fromEntries([...table.columns].map(([name, values]) => {
      const v = values[r];
      return [name, typeof v === 'number' && Number.isNaN(v) ? null : v];
    })),
  );
  // The matrix from stored columns and from JSON-like rows is the same, bit for bit.
  const { rowsToColumns } = await import('../src/features/transform.js');
  assert.deepEqual(transformColumns(bundle.transform, rowsToColumns(bundle.transform, rows), rows.length).data, transformColumns(bundle.transform, table.columns, table.rows).data);
  const online = await bundle.predict(rows);
  const batchFile = join(dir, 'scored.csv');
  await predictCsv(bundle, join(dir, 'homes.csv'), batchFile);
  const { readFileSync } = await import('node:fs');
  const batch = readFileSync(batchFile, 'utf8').trim().split('\n').slice(1).map((l) => Number(l.split(',').pop()));
  assert.deepEqual(batch, online);
  assert.ok((trained.metrics as { r2: number }).r2 > 0.8, `R² ${(trained.metrics as { r2: number }).r2}`);

  // Serving: an unseen city and a missing rooms value are fine; a missing size is refused.
  const [unseen] = await bundle.predict([{ size: 50, rooms: null, age: 10, city: 'Marseille', zip: 'Z99' }]);
  assert.ok(Number.isFinite(unseen as number));
  assert.throws(() => rowsToColumns(bundle.transform, [{ rooms: 2, age: 1, city: 'Paris', zip: 'Z1' }]), (e: unknown) => e instanceof AtelierError && /missing feature "size"/.test(e.message));
  bundle.dispose();
  await ctx.store.close();
});

test('a large batch transforms exactly as its rows one at a time, across row blocks, with fills and indicators', () => {
  const rows = 10_007;
  const x = Float64Array.from({ length: rows }, (_v, i) => (i % 997 === 0 ? Number.NaN : i % 4096 === 4095 ? Number.POSITIVE_INFINITY : Math.sin(i) * 50));
  const y = Float64Array.from({ length: rows }, (_v, i) => i * 0.25);
  const city = Array.from({ length: rows }, (_v, i) => (i % 3 === 0 ? 'a' : i % 5 === 0 ? null : 'b'));
  const fitted = {
    inputs: [
      { name: 'x', dtype: 'float' },
      { name: 'y', dtype: 'float' },
      { name: 'city', dtype: 'string' },
    ],
    features: [
      { kind: 'numeric', name: 'x', source: 'x', fill: -3, indicator: true, steps: [{ kind: 'clip', low: -40, high: 40 }, { kind: 'standardize', mean: 1, std: 20 }] },
      { kind: 'categorical', name: 'city', sources: ['city'], encoder: { kind: 'vocabulary', values: ['a', 'b'], oovBuckets: 1 }, output: 'one_hot' },
      { kind: 'numeric', name: 'y', source: 'y', fill: null, indicator: false, steps: [{ kind: 'min_max', min: 0, max: 2500 }, { kind: 'bucketize', boundaries: [0.1, 0.5] }] },
    ],
  } as unknown as Parameters<typeof transformColumns>[0];
  const columns = new Map<string, Float64Array | (string | null)[]>([['x', x], ['y', y], ['city', city]]);
  const whole = transformColumns(fitted, columns, rows);
  assert.equal(whole.cols, 6);
  for (const i of [0, 1, 996, 997, 4095, 4096, 8191, 8192, 10_006]) {
    const one = transformColumns(fitted, new Map<string, Float64Array | (string | null)[]>([['x', x.subarray(i, i + 1)], ['y', y.subarray(i, i + 1)], ['city', city.slice(i, i + 1)]]), 1);
    assert.deepEqual(Array.from(whole.data.subarray(i * 6, i * 6 + 6)), Array.from(one.data), `row ${i}`);
  }
  // Row 997 is missing: filled with -3 (then clipped and standardized), indicator 1.
  assert.deepEqual(Array.from(whole.data.subarray(997 * 6, 997 * 6 + 2)), [Math.fround((-3 - 1) / 20), 1]);
  assert.deepEqual(Array.from(whole.data.subarray(4095 * 6, 4095 * 6 + 2)), [Math.fround((-3 - 1) / 20), 1]);
  // A selection of rows gives those rows.
  const picked = transformColumns(fitted, columns, rows, Uint32Array.of(4096, 997));
  assert.deepEqual(Array.from(picked.data), [...whole.data.subarray(4096 * 6, 4097 * 6), ...whole.data.subarray(997 * 6, 998 * 6)]);
});
