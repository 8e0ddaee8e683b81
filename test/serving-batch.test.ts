import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Batcher } from '../src/serving/batcher.js';
import { parseJsonBody } from '../src/serving/json-body.js';
import { cli } from './helpers.js';
import { request, serve, servingWorkspace } from './serving-setup.js';

describe('serving: request JSON with NaN and Infinity tokens', () => {
  test('plain JSON as JSON.parse; bare tokens outside strings become numbers; tokens in strings stay text', () => {
    assert.deepEqual(parseJsonBody('{"a": [1, 2.5, "x"]}'), { a: [1, 2.5, 'x'] });
    const parsed = parseJsonBody('{"a": [NaN, Infinity, -Infinity, "NaN", "say \\"Infinity\\""], "b": {"c": -Inf}}') as any;
    assert.ok(Number.isNaN(parsed.a[0]));
    assert.deepEqual(parsed.a.slice(1), [Infinity, -Infinity, 'NaN', 'say "Infinity"']);
    assert.equal(parsed.b.c, -Infinity);
    assert.throws(() => parseJsonBody('{"a": NaNa}'), /^AtelierError: JSON Parse error: /);
    assert.throws(() => parseJsonBody('  '), /JSON Parse error: The document is empty/);
  });
});

describe('serving: the micro-batcher', () => {
  const column = (values: number[]) => new Map([['x', Float64Array.from(values)]]);

  test('joins concurrent requests into one call up to maxBatch rows and splits the outputs back', async () => {
    const calls: number[] = [];
    const batcher = new Batcher(async (columns, rows) => {
      calls.push(rows);
      return (columns.get('x') as Float64Array).map((v) => v * 10);
    }, 1, { maxBatch: 4, waitUs: 5000, queueMax: 100 });
    const results = await Promise.all([[1], [2, 3], [4], [5], [6, 7]].map((v) => batcher.submit(column(v), v.length).result));
    assert.deepEqual(results.map((r) => Array.from(r)), [[10], [20, 30], [40], [50], [60, 70]]);
    assert.deepEqual(calls, [4, 3]);
  });

  test('refuses past queueMax (429) and drops a cancelled request before the model sees it', async () => {
    const calls: number[] = [];
    const batcher = new Batcher(async (columns, rows) => {
      calls.push(rows);
      return new Float64Array(rows);
    }, 1, { maxBatch: 64, waitUs: 10_000, queueMax: 2 });
    const a = batcher.submit(column([1]), 1);
    const b = batcher.submit(column([2, 3]), 2);
    assert.throws(() => batcher.submit(column([4]), 1), (e: any) => e.code === 'QUEUE_FULL' && e.status === 429);
    b.cancel();
    await a.result;
    assert.deepEqual(calls, [1]);
  });
});

describe('serving: batch prediction (atelier predict)', () => {
  test('CSV in, Parquet out and back, chunk by chunk with progress on stderr; the same numbers as the server', async () => {
    const ws = await servingWorkspace();
    const lines = ['x,n,color'];
    for (let i = 0; i < 300; i++) lines.push(`${(i % 100) / 10},${i % 7},${['red', 'green', 'blue'][i % 3]}`);
    writeFileSync(join(ws, 'in.csv'), lines.join('\n') + '\n');
    // Parquet out goes the DuckDB way: the model sees DuckDB's chunks of 2,048 rows, and the
    // progress moves by them.
    writeFileSync(join(ws, 'big.csv'), [lines[0], ...Array.from({ length: 5000 }, (_v, i) => lines[1 + (i % 300)])].join('\n') + '\n');
    const big = await cli(['predict', 'toy@production', '--input', 'big.csv', '--output', 'big.parquet'], { cwd: ws });
    assert.equal(big.code, 0, big.stderr);
    const progress = big.stderr.trim().split('\n').filter((l) => l.includes('rows')).map((l) => Number(/: (\d+)\/5000 rows/.exec(l)![1]));
    assert.ok(progress.length >= 3 && progress.at(-1) === 5000 && progress.every((n, i) => i === 0 || n > progress[i - 1]!), big.stderr);
    const toParquet = await cli(['predict', 'toy@production', '--input', 'in.csv', '--output', 'out.parquet'], { cwd: ws });
    assert.equal(toParquet.code, 0, toParquet.stderr);
    assert.match(toParquet.stderr, /toy@1: 300\/300 rows/);
    // Parquet back in: the model ignores extra columns, but the output may not repeat `prediction`.
    const clash = await cli(['predict', 'toy', '--input', 'out.parquet', '--output', 'again.csv'], { cwd: ws });
    assert.equal(clash.code, 1);
    assert.match(clash.stderr, /already has a column "prediction", which the output adds/);
    const toCsv = await cli(['predict', 'toy', 'in.csv', '-o', 'out.csv', '--json'], { cwd: ws });
    assert.equal(toCsv.code, 0, toCsv.stderr);
    assert.equal(toCsv.json.rows, 300);
    const rows = readFileSync(join(ws, 'out.csv'), 'utf8').trim().split('\n');
    assert.equal(rows[0], 'x,n,color,prediction');
    assert.equal(rows.length, 301);
    const server = await serve(ws, { models: ['toy'] });
    try {
      const instances = [1, 150, 299].map((i) => ({ x: (i % 100) / 10, n: i % 7, color: ['red', 'green', 'blue'][i % 3] }));
      const answer = await request(`${server.url}/v1/models/toy:predict`, { body: { instances } });
      [1, 150, 299].forEach((i, k) => assert.ok(Math.abs(Number(rows[i + 1]!.split(',')[3]) - answer.body.predictions[k]) < 1e-9));
    } finally {
      await server.stop();
    }
    const badOut = await cli(['predict', 'toy', 'in.csv', '-o', 'out.jsonl'], { cwd: ws });
    assert.equal(badOut.code, 2);
    assert.match(badOut.stderr, /out\.jsonl: the output must end in \.csv or \.parquet/);
  });
});
