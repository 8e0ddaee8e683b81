import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { loadBundle, type LoadedBundle } from '../src/bundle/load.js';
import type { AtelierError } from '../src/core/errors.js';
import { NULL_MARKERS } from '../src/data/csv.js';
import { seededRandom } from '../src/core/random.js';
import { predictFile, type BatchPredictOptions } from '../src/serving/batch.js';
import { parseNumber } from '../src/serving/csv-fast-reader.js';
import { formatDouble } from '../src/serving/csv-format.js';
import { cli, tempDir } from './helpers.js';

let instance: DuckDBInstance;
let con: DuckDBConnection;
before(async () => {
  instance = await DuckDBInstance.create(':memory:');
  con = await instance.connect();
});
after(() => {
  con.closeSync();
  instance.closeSync();
});

const q = (s: string) => `'${s.replaceAll("'", "''")}'`;
const readOptions = `header=true, quote='"', escape='"', nullstr=[${NULL_MARKERS.map(q).join(', ')}]`;

/** Rows of a CSV as DuckDB reads it (typed, or all as text). */
async function readCsv(file: string, allVarchar = false): Promise<Record<string, unknown>[]> {
  const result = await con.runAndReadAll(`SELECT * FROM read_csv(${q(file)}, ${readOptions}${allVarchar ? ', all_varchar=true' : ''})`);
  return result.getRowObjectsJson() as Record<string, unknown>[];
}

describe('batch fast path: numbers in and out as DuckDB reads and writes them', () => {
  test('parseNumber gives the double DuckDB reads (and Number() gives) for decimal text of every shape', async () => {
    const random = seededRandom(5);
    const texts = new Set<string>(['0', '1', '-1', '0.1', '0.5', '9007199254740993', '123456789012345678901234567890', '1e22', '1e23', '2.2250738585072014e-308', '4.9e-324', '1.7976931348623157e308', '0.000001', '1E+05', '-2.5e-3', '7e0', '0.30000000000000004']);
    for (let i = 0; i < 3000; i++) {
      const x = (random() - 0.5) * 10 ** Math.floor(random() * 40 - 20);
      texts.add(String(x).replace('e+', random() < 0.5 ? 'e+' : 'e'));
      texts.add(x.toFixed(Math.floor(random() * 12)));
      texts.add(x.toExponential(Math.floor(random() * 20)));
      texts.add(x.toPrecision(1 + Math.floor(random() * 21)));
      let digits = String(1 + Math.floor(random() * 9));
      for (let k = Math.floor(random() * 24); k > 0; k--) digits += Math.floor(random() * 10);
      const point = Math.floor(random() * digits.length);
      texts.add(`${random() < 0.5 ? '-' : ''}${point === 0 ? digits : `${digits.slice(0, point)}.${digits.slice(point)}`}`);
    }
    const list = [...texts].filter((t) => !/^-?0+$/.test(t) || t === '0');
    const dir = tempDir('atelier-fast-num-');
    writeFileSync(join(dir, 'n.csv'), `v\n${list.join('\n')}\n`);
    const read = await con.runAndReadAll(`SELECT v::DOUBLE AS v FROM read_csv(${q(join(dir, 'n.csv'))}, header=true, columns={'v': 'VARCHAR'})`);
    const duck = read.getColumnsJS()[0] as number[];
    list.forEach((text, i) => {
      const ours = parseNumber(text);
      assert.ok(Object.is(ours, duck[i]), `${text}: ours ${ours}, DuckDB ${duck[i]}`);
      assert.ok(Object.is(ours, Number(text)), `${text}: ours ${ours}, Number() ${Number(text)}`);
    });
    // Forms DuckDB may read otherwise (text columns, integer -0, out of range) are left to it.
    for (const text of ['', '+1', '.5', '1.', '01', '-01.5', '-0', '1e', '1e+', '0x1F', ' 1', '1 ', '1_000', 'inf', 'NaN', '1e400', '--1', '1.2.3']) {
      assert.equal(parseNumber(text), undefined, text);
    }
    assert.ok(Object.is(parseNumber('-0.0'), -0));
  });

  test('formatDouble writes a double as DuckDB COPY ... (FORMAT CSV) does', async () => {
    const random = seededRandom(9);
    const values = [0, -0, 1, -1, 0.1, 1 / 3, 100, 1e15, 1e16, 1e17, 1e21, 1e22, 1e-4, 1e-5, 9.99e-5, 5e-324, 1.7976931348623157e308, Number.NaN, Infinity, -Infinity, 2 ** 53, 123456.789];
    const bits = new DataView(new ArrayBuffer(8));
    for (let i = 0; i < 2000; i++) {
      values.push((random() - 0.5) * 10 ** Math.floor(random() * 50 - 25));
      bits.setUint32(0, Math.floor(random() * 2 ** 32));
      bits.setUint32(4, Math.floor(random() * 2 ** 32));
      const v = bits.getFloat64(0);
      if (Number.isFinite(v)) values.push(v);
    }
    await con.run('CREATE OR REPLACE TABLE doubles (i INTEGER, v DOUBLE)');
    const appender = await con.createAppender('doubles');
    values.forEach((v, i) => {
      appender.appendInteger(i);
      appender.appendDouble(v);
      appender.endRow();
    });
    appender.closeSync();
    const file = join(tempDir('atelier-fast-fmt-'), 'd.csv');
    await con.run(`COPY (SELECT v FROM doubles ORDER BY i) TO ${q(file)} (FORMAT CSV, HEADER)`);
    const lines = readFileSync(file, 'utf8').split('\n').slice(1, -1);
    assert.equal(lines.length, values.length);
    values.forEach((v, i) => assert.equal(formatDouble(v), lines[i], `${v}`));
  });
});

describe('batch fast path: the same predictions as the DuckDB path', () => {
  let ws: string;
  const bundles: Record<string, LoadedBundle> = {};
  const random = seededRandom(21);
  const classOf = (a: number, b: number) => (a + b / 10 > 0.9 ? 'mid,range' : a > 0.4 ? 'high' : 'low');
  // Training rows: a in [0, 1], b in [-5, 5], c in [0, 100] (sometimes missing, filled by the mean).
  const train: { a: number; b: number; c: number | undefined }[] = Array.from({ length: 1500 }, (_v, i) => ({
    a: random(),
    b: random() * 10 - 5,
    c: i % 17 === 0 ? undefined : random() * 100,
  }));

  before(async () => {
    const home = tempDir('atelier-fast-');
    assert.equal((await cli(['init', 'ws'], { cwd: home })).code, 0);
    ws = join(home, 'ws');
    const lines = ['a,b,c,y,cls', ...train.map(({ a, b, c }) => `${a},${b},${c ?? ''},${(3 * a + Math.sin(b) + (c ?? 50) / 50).toFixed(4)},"${classOf(a, b)}"`)];
    writeFileSync(join(ws, 'd.csv'), `${lines.join('\n')}\n`);
    const features = '  - a\n  - b\n  - { name: c, missing: { strategy: mean } }\n';
    const config = (name: string, task: string, label: string, model: string, feats = features) =>
      `name: ${name}\ntask: ${task}\ndata: { dataset: d, label: ${label}, split: { eval: 0.2, seed: 1 } }\nfeatures:\n${feats}model: { ${model} }\n`;
    writeFileSync(join(ws, 'reg.yaml'), config('reg', 'regression', 'y', 'family: gbdt, n_estimators: 30, max_depth: 5'));
    writeFileSync(join(ws, 'cls.yaml'), config('cls', 'multiclass', 'cls', 'family: gbdt, n_estimators: 10, max_depth: 3'));
    writeFileSync(join(ws, 'lin.yaml'), config('lin', 'regression', 'y', 'family: linear', '  - { name: a, transform: standardize }\n  - { name: b, transform: [clip, standardize], low: -4, high: 4 }\n  - { name: c, missing: { strategy: median } }\n'));
    for (const args of [['data', 'import', 'd.csv', '--name', 'd'], ['train', 'reg.yaml'], ['train', 'cls.yaml'], ['train', 'lin.yaml']]) {
      const result = await cli(args, { cwd: ws });
      assert.equal(result.code, 0, `atelier ${args.join(' ')}: ${result.stderr}`);
    }
    for (const name of ['reg', 'cls', 'lin']) {
      const shown = await cli(['models', 'show', `${name}@1`, '--json'], { cwd: ws });
      bundles[name] = await loadBundle(shown.json.bundle as string);
    }
  });
  after(() => Object.values(bundles).forEach((b) => b.dispose()));

  /** Prediction rows in many textual forms: trailing zeros, negatives, exponents, integers, long digit runs. */
  function inputRows(n: number): { a: string; b: string; c: string }[] {
    const r = seededRandom(n);
    return Array.from({ length: n }, (_v, i) => {
      const a = r();
      const b = r() * 10 - 5;
      const c = r() * 100;
      const forms = [
        () => ({ a: a.toFixed(6), b: b.toFixed(3), c: c.toFixed(2) }),
        () => ({ a: String(a), b: String(b), c: String(Math.round(c)) }),
        () => ({ a: a.toExponential(4), b: b.toExponential(2).replace('e+', 'E+'), c: `${(c / 10).toFixed(3)}e1` }),
        () => ({ a: a.toPrecision(20), b: (-Math.abs(b)).toFixed(1), c: 'NA' }),
        () => ({ a: '0', b: '-5', c: '' }),
      ];
      return forms[i % forms.length]!();
    });
  }

  async function both(bundle: LoadedBundle, input: string, options: BatchPredictOptions = {}) {
    const dir = tempDir('atelier-fast-out-');
    const fast = join(dir, 'fast.csv');
    const duck = join(dir, 'duck.csv');
    const fastResult = await predictFile(bundle, input, fast, { chunkRows: 97, threads: 2, ...options });
    const duckResult = await predictFile(bundle, input, duck, { fast: false });
    assert.equal(fastResult.rows, duckResult.rows);
    return { fast, duck, rows: fastResult.rows };
  }

  /** Same columns and values read back; the added columns the same text; input lines kept as they were. */
  async function assertSame(fast: string, duck: string, input: string, added: string[]) {
    assert.deepEqual(await readCsv(fast), await readCsv(duck));
    const [fastText, duckText] = [await readCsv(fast, true), await readCsv(duck, true)];
    assert.deepEqual(
      fastText.map((r) => added.map((k) => r[k])),
      duckText.map((r) => added.map((k) => r[k])),
    );
    const inputLines = readFileSync(input, 'utf8').split(/\r?\n/).filter((l) => l !== '');
    const fastLines = readFileSync(fast, 'utf8').split('\n');
    assert.equal(fastLines.length, inputLines.length + 1, 'one line per row, each ending in LF');
    inputLines.forEach((line, i) => assert.ok(fastLines[i]!.startsWith(`${line},`), `line ${i + 1} kept verbatim`));
  }

  test('regression GBDT, multiclass GBDT and a linear model with transforms: CSV of many number forms, over workers and on this thread', async () => {
    const rows = inputRows(1000);
    const input = join(ws, 'plain.csv');
    writeFileSync(input, `a,b,c\n${rows.map((r) => `${r.a},${r.b},${r.c}`).join('\n')}\n`);
    for (const [name, added] of [['reg', ['prediction']], ['cls', ['prediction', 'probability_high', 'probability_low', 'probability_mid,range']], ['lin', ['prediction']]] as const) {
      for (const threads of [2, 0]) {
        const { fast, duck, rows: n } = await both(bundles[name]!, input, { threads });
        assert.equal(n, 1000);
        await assertSame(fast, duck, input, [...added]);
      }
    }
    // The multiclass header quotes the class name with a comma, as DuckDB does.
    const { fast } = await both(bundles.cls!, input);
    assert.equal(readFileSync(fast, 'utf8').split('\n')[0], 'a,b,c,prediction,probability_high,probability_low,"probability_mid,range"');
  });

  test('CRLF line ends, no final line break, columns in another order with text columns the model does not read', async () => {
    const rows = inputRows(400);
    const crlf = join(ws, 'crlf.csv');
    writeFileSync(crlf, `a,b,c\r\n${rows.map((r) => `${r.a},${r.b},${r.c}`).join('\r\n')}\r\n`);
    const unterminated = join(ws, 'unterminated.csv');
    writeFileSync(unterminated, `a,b,c\n${rows.map((r) => `${r.a},${r.b},${r.c}`).join('\n')}`);
    const shuffled = join(ws, 'shuffled.csv');
    writeFileSync(shuffled, `name,c,note,b,id,a\n${rows.map((r, i) => `row ${i},${r.c},${i % 3 ? 'some text' : 'NA'},${r.b},${1000 + i},${r.a}`).join('\n')}\n`);
    for (const input of [crlf, unterminated, shuffled]) {
      const { fast, duck } = await both(bundles.reg!, input);
      await assertSame(fast, duck, input, ['prediction']);
    }
  });

  test('an empty required cell is the same error, naming the file, line and feature', async () => {
    const rows = inputRows(300);
    const input = join(ws, 'empty.csv');
    writeFileSync(input, `a,b,c\n${rows.map((r, i) => (i === 233 ? `${r.a},,${r.c}` : `${r.a},${r.b},${r.c}`)).join('\n')}\n`);
    const out = join(ws, 'never.csv');
    const refusal = (p: Promise<unknown>) => p.then(() => assert.fail('expected an error'), (e: unknown) => e as AtelierError);
    const fast = await refusal(predictFile(bundles.reg!, input, out, { chunkRows: 50, threads: 2 }));
    const duck = await refusal(predictFile(bundles.reg!, input, out, { fast: false }));
    assert.equal(fast.code, 'INPUT_INVALID');
    assert.equal(fast.message, `${input}:235: feature "b" is empty; expected a number`);
    assert.equal(fast.message, duck.message);
    assert.deepEqual(fast.facts, duck.facts);
    assert.throws(() => readFileSync(out), /ENOENT/);
  });

  test('files the fast reader does not take go the DuckDB way: quoted fields, gzip, a text column of mostly numbers, a feature that is not a number', async () => {
    const rows = inputRows(200);
    const body = rows.map((r, i) => `${r.a},${r.b},${r.c},${i === 150 ? '"quoted, with comma"' : 'plain'}`);
    const quoted = join(ws, 'quoted.csv');
    writeFileSync(quoted, `a,b,c,note\n${body.join('\n')}\n`);
    const gz = join(ws, 'plain.csv.gz');
    writeFileSync(gz, gzipSync(`a,b,c\n${rows.map((r) => `${r.a},${r.b},${r.c}`).join('\n')}\n`));
    for (const input of [quoted, gz]) {
      const { fast, duck } = await both(bundles.reg!, input);
      assert.equal(readFileSync(fast, 'utf8'), readFileSync(duck, 'utf8'));
    }
    // The import refuses a text column holding mostly numbers; and a feature with text is refused.
    const mixed = join(ws, 'mixed.csv');
    writeFileSync(mixed, `a,b,c,code\n${rows.map((r, i) => `${r.a},${r.b},${r.c},${i === 180 ? 'x12' : i}`).join('\n')}\n`);
    const textual = join(ws, 'textual.csv');
    writeFileSync(textual, `a,b,c\n${rows.map((r, i) => `${i === 190 ? 'n/a' : r.a},${r.b},${r.c}`).join('\n')}\n`);
    for (const input of [mixed, textual]) {
      const out = join(ws, 'never.csv');
      const fast = await predictFile(bundles.reg!, input, out, { threads: 2, chunkRows: 40 }).catch((e: unknown) => e as Error);
      const duck = await predictFile(bundles.reg!, input, out, { fast: false }).catch((e: unknown) => e as Error);
      assert.ok(duck instanceof Error, `${input}: the DuckDB path refuses it`);
      assert.equal((fast as Error).message, duck.message);
    }
  });

  test('CSV to Parquet streams through the model in one pass: the rows, types and predictions of the table way, and its errors', async () => {
    const rows = inputRows(5000);
    const input = join(ws, 'to-parquet.csv');
    writeFileSync(input, `name,a,b,c,id\n${rows.map((r, i) => `row ${i},${r.a},${r.b},${r.c},${i}`).join('\n')}\n`);
    const dir = tempDir('atelier-stream-');
    const parquet = async (file: string) => (await con.runAndReadAll(`SELECT * FROM read_parquet(${q(file)})`)).getRowObjectsJson();
    const types = async (file: string) => (await con.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet(${q(file)})`)).getRowObjectsJson().map((r) => `${r.column_name} ${r.column_type}`);
    for (const name of ['reg', 'cls', 'lin']) {
      const progress: number[] = [];
      const streamed = await predictFile(bundles[name]!, input, join(dir, `${name}-s.parquet`), { onProgress: (done) => progress.push(done) });
      const table = await predictFile(bundles[name]!, input, join(dir, `${name}-t.parquet`), { stream: false });
      assert.equal(streamed.rows, 5000);
      assert.equal(table.rows, 5000);
      assert.equal(progress.at(-1), 5000);
      assert.deepEqual(await types(join(dir, `${name}-s.parquet`)), await types(join(dir, `${name}-t.parquet`)));
      assert.deepEqual(await parquet(join(dir, `${name}-s.parquet`)), await parquet(join(dir, `${name}-t.parquet`)));
    }
    // Errors: an empty required cell, a ragged row, a text column of mostly numbers; nothing written.
    const lines = rows.slice(0, 300).map((r) => `${r.a},${r.b},${r.c}`);
    const bad = {
      empty: `a,b,c\n${lines.map((l, i) => (i === 233 ? l.replace(/,[^,]*,/, ',,') : l)).join('\n')}\n`,
      ragged: `a,b,c\n${lines.map((l, i) => (i === 120 ? `${l},9` : l)).join('\n')}\n`,
      mixed: `a,b,c,code\n${lines.map((l, i) => `${l},${i === 180 ? 'x12' : i}`).join('\n')}\n`,
    };
    for (const [kind, text] of Object.entries(bad)) {
      const file = join(ws, `bad-${kind}.csv`);
      writeFileSync(file, text);
      const out = join(dir, `bad-${kind}.parquet`);
      const streamed = await predictFile(bundles.reg!, file, out).catch((e: unknown) => e as AtelierError);
      const table = await predictFile(bundles.reg!, file, out, { stream: false }).catch((e: unknown) => e as AtelierError);
      assert.ok(streamed instanceof Error && table instanceof Error, kind);
      assert.equal(streamed.message, table.message, kind);
      assert.match(streamed.message, new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`), kind);
      assert.throws(() => readFileSync(out), /ENOENT/);
      assert.throws(() => readFileSync(`${out}.tmp-${process.pid}`), /ENOENT/);
    }
  });

  test('the DuckDB path predicts every row past its appender\'s first flush (about 200,000 rows)', async () => {
    const n = 250_000;
    const r = seededRandom(3);
    const lines = ['a,b,c'];
    for (let i = 0; i < n; i++) lines.push(`${r().toFixed(3)},${(r() * 10 - 5).toFixed(2)},${Math.round(r() * 100)}`);
    const input = join(ws, 'long.csv');
    writeFileSync(input, `${lines.join('\n')}\n`);
    const output = join(ws, 'long.parquet');
    assert.equal((await predictFile(bundles.lin!, input, output)).rows, n);
    const counted = await con.runAndReadAll(`SELECT count(*)::INTEGER AS n, count(prediction)::INTEGER AS p FROM read_parquet(${q(output)})`);
    assert.deepEqual(counted.getRowObjectsJS(), [{ n, p: n }]);
  });

  test('atelier predict in a temp folder: progress on stderr, the output file, the error for an empty cell', async () => {
    const rows = inputRows(3000);
    writeFileSync(join(ws, 'many.csv'), `a,b,c\n${rows.map((r) => `${r.a},${r.b},${r.c}`).join('\n')}\n`);
    const run = await cli(['predict', 'reg@1', '--input', 'many.csv', '--output', 'many-out.csv', '--chunk-rows', '500'], { cwd: ws });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /Predicted 3000 rows with reg@1/);
    const progress = run.stderr.split('\n').filter((l) => l.includes('rows')).map((l) => l.trim());
    assert.equal(progress.at(-1), 'reg@1: 3000/3000 rows');
    assert.ok(progress.length >= 2, progress.join('\n'));
    const out = readFileSync(join(ws, 'many-out.csv'), 'utf8').split('\n');
    assert.equal(out[0], 'a,b,c,prediction');
    assert.equal(out.length, 3002);
    writeFileSync(join(ws, 'hole.csv'), `a,b,c\n1,2,3\n0.5,,3\n`);
    const hole = await cli(['predict', 'reg', 'hole.csv', '-o', 'hole-out.csv'], { cwd: ws });
    assert.equal(hole.code, 1);
    assert.match(hole.stderr, /hole\.csv:3: feature "b" is empty; expected a number/);
  });
});
