import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { loadBundle, type LoadedBundle } from '../src/bundle/load.js';
import type { AtelierError } from '../src/core/errors.js';
import { predictFile } from '../src/serving/batch.js';
import { cli, tempDir } from './helpers.js';

/**
 * Batch prediction's edges, found by an audit: bool inputs, the DNN's answer whatever the chunk,
 * where an error points in each format, and the output's name and folder.
 */
describe('batch prediction: bool inputs, chunk-independent answers, error places, output names', () => {
  let ws: string;
  let instance: DuckDBInstance;
  let con: DuckDBConnection;
  const bundles: Record<string, LoadedBundle> = {};
  const refusal = (p: Promise<unknown>) => p.then(() => assert.fail('expected an error'), (e: unknown) => e as AtelierError);
  const rows = (n: number) => Array.from({ length: n }, (_v, i) => ({ x: ((i * 37) % 100) / 10, flag: i % 3 === 0 }));

  before(async () => {
    instance = await DuckDBInstance.create(':memory:');
    con = await instance.connect();
    const home = tempDir('atelier-batch-edges-');
    assert.equal((await cli(['init', 'ws'], { cwd: home })).code, 0);
    ws = join(home, 'ws');
    writeFileSync(join(ws, 'train.csv'), `x,flag,y\n${rows(400).map((r, i) => `${r.x},${r.flag},${(r.x * 2 + (r.flag ? 4 : 0) + (i % 5) / 10).toFixed(3)}`).join('\n')}\n`);
    const config = (name: string, features: string, model: string) =>
      `name: ${name}\ntask: regression\ndata: { dataset: t, label: y, split: { eval: 0.2, seed: 1 } }\nfeatures: ${features}\nmodel: { ${model} }\ntraining: { epochs: 3, seed: 1 }\n`;
    writeFileSync(join(ws, 'flags.yaml'), config('flags', '[x, flag]', 'family: gbdt, n_estimators: 20, max_depth: 3'));
    writeFileSync(join(ws, 'net.yaml'), config('net', '[x]', 'family: dnn, hidden_units: [8]'));
    for (const args of [['data', 'import', 'train.csv', '--name', 't'], ['train', 'flags.yaml'], ['train', 'net.yaml']]) {
      const result = await cli(args, { cwd: ws });
      assert.equal(result.code, 0, `atelier ${args.join(' ')}: ${result.stderr}`);
    }
    for (const name of ['flags', 'net']) bundles[name] = await loadBundle((await cli(['models', 'show', `${name}@1`, '--json'], { cwd: ws })).json.bundle as string);
  });
  after(() => {
    Object.values(bundles).forEach((b) => b.dispose());
    con.closeSync();
    instance.closeSync();
  });

  const predictions = async (file: string) =>
    (await con.runAndReadAll(`SELECT prediction FROM ${file.endsWith('.parquet') ? 'read_parquet' : 'read_csv'}('${file}')`)).getColumnsJS()[0] as number[];

  test('a bool input takes true/false or 1/0, as the server does, and refuses anything else naming the line', async () => {
    const dir = tempDir('atelier-bools-');
    const base = rows(50);
    writeFileSync(join(dir, 'words.csv'), `x,flag\n${base.map((r) => `${r.x},${r.flag}`).join('\n')}\n`);
    writeFileSync(join(dir, 'digits.csv'), `x,flag\n${base.map((r) => `${r.x},${r.flag ? 1 : 0}`).join('\n')}\n`);
    const expected = await bundles.flags!.predict(base);
    for (const input of ['words.csv', 'digits.csv']) {
      for (const out of ['o.csv', 'o.parquet']) {
        await predictFile(bundles.flags!, join(dir, input), join(dir, out));
        assert.deepEqual(await predictions(join(dir, out)), expected, `${input} -> ${out}`);
      }
    }
    writeFileSync(join(dir, 'maybe.csv'), `x,flag\n${base.map((r, i) => `${r.x},${i === 30 ? 'maybe' : r.flag}`).join('\n')}\n`);
    writeFileSync(join(dir, 'two.csv'), `x,flag\n${base.map((r, i) => `${r.x},${i === 12 ? 2 : r.flag ? 1 : 0}`).join('\n')}\n`);
    for (const [input, line, value] of [['maybe.csv', 32, 'maybe'], ['two.csv', 14, '2']] as const) {
      for (const out of ['o.csv', 'o.parquet']) {
        const error = await refusal(predictFile(bundles.flags!, join(dir, input), join(dir, `never-${out}`)));
        assert.equal(error.message, `${join(dir, input)}:${line}: feature "flag" is "${value}"; expected true or false (or 1 and 0)`);
      }
    }
    assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('never') || f.includes('.tmp-')), []);
  });

  test("a DNN's answers do not depend on the chunk a row falls in, nor on the way through", async () => {
    const dir = tempDir('atelier-uniform-');
    // 2,050 rows: DuckDB's last chunk holds 2, the fast path's blocks other sizes.
    writeFileSync(join(dir, 'in.csv'), `x\n${Array.from({ length: 2050 }, (_v, i) => ((i * 7919) % 1000) / 100).join('\n')}\n`);
    await predictFile(bundles.net!, join(dir, 'in.csv'), join(dir, 'fast.csv'), { chunkRows: 333, threads: 0 });
    await predictFile(bundles.net!, join(dir, 'in.csv'), join(dir, 'duck.csv'), { fast: false });
    await predictFile(bundles.net!, join(dir, 'in.csv'), join(dir, 'out.parquet'));
    const fast = await predictions(join(dir, 'fast.csv'));
    assert.equal(fast.length, 2050);
    assert.deepEqual(await predictions(join(dir, 'duck.csv')), fast);
    assert.deepEqual(await predictions(join(dir, 'out.parquet')), fast);
  });

  test('an empty required number is placed by line in CSV and JSON Lines, by row in Parquet', async () => {
    const dir = tempDir('atelier-places-');
    const lines = rows(20).map((r, i) => ({ x: i === 6 ? null : r.x, flag: r.flag }));
    writeFileSync(join(dir, 'in.jsonl'), `${lines.map((r) => JSON.stringify(r)).join('\n')}\n`);
    writeFileSync(join(dir, 'in.csv'), `x,flag\n${lines.map((r) => `${r.x ?? ''},${r.flag}`).join('\n')}\n`);
    await con.run(`COPY (SELECT * FROM read_json('${join(dir, 'in.jsonl')}', format='newline_delimited')) TO '${join(dir, 'in.parquet')}' (FORMAT parquet)`);
    const message = async (input: string) => (await refusal(predictFile(bundles.flags!, join(dir, input), join(dir, 'never.parquet')))).message;
    assert.equal(await message('in.csv'), `${join(dir, 'in.csv')}:8: feature "x" is empty; expected a number`);
    assert.equal(await message('in.jsonl'), `${join(dir, 'in.jsonl')}:7: feature "x" is empty; expected a number`);
    assert.equal(await message('in.parquet'), `${join(dir, 'in.parquet')}: row 7: feature "x" is empty; expected a number`);
  });

  test('the output: .csv or .parquet exactly, in a folder that exists; no column the output adds, in any case; one input', async () => {
    const dir = tempDir('atelier-outputs-');
    writeFileSync(join(dir, 'in.csv'), `x,flag\n${rows(10).map((r) => `${r.x},${r.flag}`).join('\n')}\n`);
    writeFileSync(join(dir, 'upper.csv'), `x,flag,Prediction\n${rows(10).map((r) => `${r.x},${r.flag},1`).join('\n')}\n`);
    for (const name of ['o.csv.gz', 'o.tsv', 'o.txt']) {
      const run = await cli(['predict', 'flags', '--input', join(dir, 'in.csv'), '--output', join(dir, name)], { cwd: ws });
      assert.equal(run.code, 2, name);
      assert.match(run.stderr, /the output must end in \.csv or \.parquet/);
    }
    const noFolder = await cli(['predict', 'flags', '--input', join(dir, 'in.csv'), '--output', join(dir, 'no', 'such', 'o.csv')], { cwd: ws });
    assert.equal(noFolder.code, 1);
    assert.equal(noFolder.stderr.trim().split('\n').length, 1, noFolder.stderr);
    assert.match(noFolder.stderr, /no folder .*no\/such to write the output in/);
    for (const out of ['o.csv', 'o.parquet']) {
      const clash = await refusal(predictFile(bundles.flags!, join(dir, 'upper.csv'), join(dir, out)));
      assert.equal(clash.message, `${join(dir, 'upper.csv')}: already has a column "Prediction", which the output adds`);
    }
    const two = await cli(['predict', 'flags', join(dir, 'in.csv'), '--input', join(dir, 'upper.csv')], { cwd: ws });
    assert.equal(two.code, 2);
    assert.match(two.stderr, /two inputs/);
    writeFileSync(join(dir, 'bad.csv.gz'), 'not gzip at all\n');
    const gz = await cli(['predict', 'flags', '--input', join(dir, 'bad.csv.gz'), '--output', join(dir, 'o.csv')], { cwd: ws });
    assert.equal(gz.code, 1);
    assert.match(gz.stderr, /bad\.csv\.gz: cannot be read as gzip: incorrect header check/);
    assert.ok(!existsSync(join(dir, 'no')));
    assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('o.')), []);
    assert.ok(readFileSync(join(dir, 'in.csv'), 'utf8').startsWith('x,flag'));
  });
});
