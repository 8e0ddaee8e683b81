import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withDuckDb } from '../src/data/duckdb.js';
import { compileExpression, type ColumnType } from '../src/features/sql/compile.js';
import { SqlError, SqlRuntimeError, SqlUnknownColumn } from '../src/features/sql/errors.js';
import { parseExpression } from '../src/features/sql/parser.js';
import type { Value } from '../src/features/sql/values.js';

/** The table both engines evaluate on: an integer, a double, a text and a boolean column, with NULLs. */
const COLUMNS: ColumnType[] = [
  { name: 'i', type: 'INTEGER' },
  { name: 'd', type: 'DOUBLE' },
  { name: 's', type: 'VARCHAR' },
  { name: 'b', type: 'BOOLEAN' },
];
const ROWS: Record<string, Value>[] = [
  { i: 7, d: 2.5, s: 'ab', b: true },
  { i: -3, d: -0.5, s: 'Hello World', b: false },
  { i: 0, d: 0, s: '', b: null },
  { i: null, d: null, s: null, b: true },
  { i: 12, d: 1e-7, s: "x'y", b: false },
  { i: 5, d: 1234.5678, s: 'ÀÉ ü', b: null },
];

const EXPRESSIONS = [
  // arithmetic: INTEGER stays INTEGER except /; division by zero is ±Infinity or NaN, modulo zero NULL for integers
  'i + 1', 'i - d', 'i * 2', 'd * i', 'i / 2', 'd / i', 'i / 0', '-d / 0', 'i % 5', 'i % 0', 'd % 2', 'd % 0',
  '-i', '- - d', '2 + 3 * 4 - 6 / 4', '(2 + 3) * 4', '7 % -3', '-7 % 3', 'I + D', '"i" * 2', 'd * 0.1 + 1e3',
  // comparisons and logic, three-valued
  'i > 3', 'i = 7', 'd <> 2.5', 'd != 2.5', "s = 'ab'", "s < 'b'", "s >= 'Hello'", 'b = true', 'i <= d', "i = '7'",
  'i > 0 AND b', 'i > 0 OR b', 'NOT b', 'b AND NULL', 'b OR NULL', 'NOT (i > 3 AND d < 2)', 'd / 0 > 1e308',
  'i IS NULL', 's IS NOT NULL', 'NULL IS NULL', 'i + NULL', 'i BETWEEN 0 AND 7', 'd NOT BETWEEN -1 AND 1',
  'i IN (7, 12, NULL)', 'i NOT IN (7, 12)', "s IN ('ab', '')", 'i IN (1, 2.5)',
  // CASE, searched and simple
  "CASE WHEN i > 5 THEN 'big' WHEN i > 0 THEN 'small' ELSE 'none' END", 'CASE WHEN d > 1 THEN d END',
  "CASE i WHEN 7 THEN 'seven' WHEN 0 THEN 'zero' END", 'CASE WHEN b THEN i ELSE d END', 'CASE WHEN i IS NULL THEN -1 ELSE i * 2 END',
  // casts and text formatting of numbers
  'CAST(i AS VARCHAR)', 'CAST(d AS VARCHAR)', 'CAST(d AS INTEGER)', 'CAST(d * 3 AS INTEGER)', 'CAST(b AS VARCHAR)', 'CAST(b AS INTEGER)',
  "CAST('12.5' AS DOUBLE)", 'CAST(i AS DOUBLE) / 4', 'd::VARCHAR', 'CAST(i / 4 AS VARCHAR)', 'CAST(d / 3 AS VARCHAR)',
  'CAST(d * 1e20 AS VARCHAR)', 'CAST(d / 1e6 AS VARCHAR)', 'CAST((d - 1) / 0 AS VARCHAR)', "CAST('2.5' AS INTEGER)",
  // functions
  'abs(i)', 'abs(d)', 'sqrt(abs(d))', 'ln(abs(d) + 1)', 'log10(abs(i) + 1)', 'log2(abs(d) + 1)', 'log(abs(i) + 1)', 'log(2, abs(i) + 1)',
  'exp(d)', 'exp(i * 100)', 'pow(d, 2)', 'power(i, 0.5)', 'pow(2, i)', 'floor(d)', 'ceil(d)', 'ceiling(d)', 'floor(i)', 'round(d)', 'round(d, 2)',
  'round(d * 100, -1)', 'round(i, -1)', 'round(i)', 'least(i, d)', 'greatest(i, d, 3)', "least(s, 'b')", 'coalesce(i, d, -1)', "coalesce(s, 'none')",
  'sign(d)', 'sign(i)', 'lower(s)', 'upper(s)', 'length(s)', "concat(s, '-', i, '-', d)", "s || '/' || i", 's || b', 'substr(s, 2)',
  'substr(s, 2, 3)', 'substr(s, 0, 2)', 'substr(s, -2)', 'substr(s, i)', 'substring(s, 1, 1)', 'nullif(i, 7)',
  // DuckDB fails these queries on some row; so must we
  'sqrt(d)', 'ln(d)', 'log10(i)', 'CAST(s AS DOUBLE)', 'CAST(i * 1e9 AS INTEGER)',
];

/** DuckDB's type names onto ours: numbers are INTEGER or DOUBLE (DECIMAL literals are DOUBLE here). */
function ourType(duckType: string): string {
  if (/^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT)$/.test(duckType)) return 'INTEGER';
  if (duckType === 'DOUBLE' || duckType.startsWith('DECIMAL')) return 'DOUBLE';
  return duckType.replaceAll('"', '');
}

function duckValue(v: unknown): Value {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') return v;
  return Number(String(v));
}

function same(ours: Value, theirs: Value): boolean {
  if (typeof ours === 'number' && typeof theirs === 'number') {
    if (Number.isNaN(ours) || Number.isNaN(theirs)) return Number.isNaN(ours) && Number.isNaN(theirs);
    if (!Number.isFinite(ours) || !Number.isFinite(theirs)) return ours === theirs;
    return Math.abs(ours - theirs) <= 1e-12 * Math.max(1, Math.abs(theirs));
  }
  return ours === theirs;
}

test('the expression evaluator agrees with DuckDB on every expression and row (values and types)', async () => {
  const disagreements: string[] = [];
  await withDuckDb(async (con) => {
    await con.run(`CREATE TABLE t (k INTEGER, i BIGINT, d DOUBLE, s VARCHAR, b BOOLEAN)`);
    const literal = (v: Value) => (v === null ? 'NULL' : typeof v === 'string' ? `'${v.replaceAll("'", "''")}'` : String(v));
    for (const [k, row] of ROWS.entries()) await con.run(`INSERT INTO t VALUES (${k}, ${['i', 'd', 's', 'b'].map((c) => literal(row[c]!)).join(', ')})`);
    for (const sql of EXPRESSIONS) {
      const compiled = compileExpression(parseExpression(sql), COLUMNS);
      const ours = ROWS.map((row) => {
        try {
          return compiled.evaluate(compiled.inputs.map((name) => row[name]!));
        } catch (error) {
          if (error instanceof SqlRuntimeError) return error;
          throw error;
        }
      });
      let theirs: { values: Value[]; type: string } | Error;
      try {
        const result = await con.runAndReadAll(`SELECT (${sql}) AS v, typeof(${sql}) AS t FROM t ORDER BY k`);
        const rows = result.getRowsJS();
        theirs = { values: rows.map((r) => duckValue(r[0])), type: ourType(String(rows[0]![1])) };
      } catch (error) {
        theirs = error as Error;
      }
      if (theirs instanceof Error) {
        if (!ours.some((v) => v instanceof SqlRuntimeError)) disagreements.push(`${sql}: DuckDB fails (${theirs.message.split('\n')[0]}), we do not`);
        continue;
      }
      if (compiled.type !== theirs.type) disagreements.push(`${sql}: type ${compiled.type}, DuckDB ${theirs.type}`);
      ours.forEach((v, r) => {
        const expected = (theirs as { values: Value[] }).values[r]!;
        if (v instanceof SqlRuntimeError || !same(v, expected)) disagreements.push(`${sql} row ${r}: ${String(v)} vs DuckDB ${String(expected)}`);
      });
    }
  });
  assert.deepEqual(disagreements, []);
});

function problem(sql: string): { at: number; message: string } | { column: string; at: number } {
  try {
    compileExpression(parseExpression(sql), COLUMNS);
  } catch (error) {
    if (error instanceof SqlUnknownColumn) return { column: error.column, at: error.position + 1 };
    if (error instanceof SqlError) return { at: error.position + 1, message: error.message };
    throw error;
  }
  throw new Error(`${sql} was accepted`);
}

test('bad expressions say where and what was expected', () => {
  assert.deepEqual(
    ['i / (d + ', 'i +* 2', "s = 'ab", 'i @ 2', 'CASE i END', 'CAST(i AS FLOAT4)', 'i d', 'sqrt(i', '3x', 'i IN 1'].map(problem),
    [
      { at: 10, message: 'expected a value: a number, a \'string\', a column, a function call, CASE, CAST or "(", found the end of the expression' },
      { at: 4, message: 'expected a value: a number, a \'string\', a column, a function call, CASE, CAST or "(", found "*"' },
      { at: 5, message: "expected a closing ', found the end of the expression" },
      { at: 3, message: 'expected an operator, a name, a number or a string, found "@"' },
      { at: 8, message: 'expected WHEN, found "END"' },
      { at: 11, message: 'expected a type: DOUBLE, INTEGER, BIGINT or VARCHAR, found "FLOAT4"' },
      { at: 3, message: 'expected an operator or the end of the expression, found "d"' },
      { at: 7, message: 'expected ")", found the end of the expression' },
      { at: 2, message: 'expected an operator or the end after a number, found "x"' },
      { at: 6, message: 'expected "(", found the number 1' },
    ],
  );
  assert.deepEqual(
    ['s + 1', "i = 'seven'", 'CASE WHEN i THEN 1 END', "CASE WHEN b THEN 1 ELSE s END", 'sqrt(s)', 'nosuch(i)', 'round(d, 1.5)', 'length()', 'i AND b', 'rooms * 2'].map(problem),
    [
      { at: 1, message: '"+" needs a number, got text (VARCHAR)' },
      { at: 5, message: "\"=\": 'seven' is not a number" },
      { at: 11, message: 'CASE WHEN needs a condition (BOOLEAN), got a number (INTEGER)' },
      { at: 25, message: 'CASE branches: expected a number (INTEGER), got text (VARCHAR); CAST one side' },
      { at: 6, message: 'sqrt() argument 1 must be a number, got text (VARCHAR)' },
      {
        at: 1,
        message:
          'unknown function nosuch(); known: abs, ceil, ceiling, coalesce, concat, exp, floor, greatest, least, length, ln, log, log10, log2, lower, nullif, pow, power, round, sign, sqrt, substr, substring, upper',
      },
      { at: 10, message: 'round() argument 2 must be an integer, got a number (DOUBLE)' },
      { at: 1, message: 'length() takes 1 argument, got 0' },
      { at: 1, message: 'AND needs a condition (BOOLEAN), got a number (INTEGER)' },
      { column: 'rooms', at: 1 },
    ],
  );
});
