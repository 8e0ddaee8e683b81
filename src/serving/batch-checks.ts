/**
 * What batch prediction's DuckDB way checks of an input before its output is kept: the model's
 * columns and their types, bool values, empty required numbers; errors name the line or row.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import type { LoadedBundle } from '../bundle/load.js';
import { AtelierError } from '../core/errors.js';
import { isNumeric } from '../data/column-types.js';
import { sqlIdent } from '../data/duckdb.js';
import type { Source } from '../data/sources.js';
import type { DatasetColumn } from '../store/types.js';

type Inputs = LoadedBundle['transform']['inputs'];

/**
 * Refuses the first row (in file order) with an empty required number, naming its line or row and
 * the first such feature in it, as the fast path does.
 */
export async function firstEmptyRequired(con: DuckDBConnection, input: string, source: Source, names: string[], rowNumber: string): Promise<void> {
  if (names.length === 0) return;
  const empty = names.map((n) => `${sqlIdent(n)} IS NULL`);
  const row = (await con.runAndReadAll(`SELECT ${rowNumber}::DOUBLE AS row, [${empty.join(', ')}] AS empty FROM input WHERE ${empty.join(' OR ')} ORDER BY ${rowNumber} LIMIT 1`)).getRowObjectsJS()[0] as
    | { row: number; empty: boolean[] }
    | undefined;
  if (!row) return;
  const feature = names[row.empty.indexOf(true)]!;
  const place = rowPlace(input, source, row.row);
  throw new AtelierError('INPUT_INVALID', `${place.text}: feature "${feature}" is empty; expected a number`, { ...place.facts, feature });
}

/**
 * Refuses an input file without the model's columns, with text where it needs numbers, with
 * anything but true/false (or 0/1) where it needs a bool, or with a column the output adds.
 */
export function checkColumns(input: string, inputs: Inputs, added: string[], columns: DatasetColumn[]): void {
  const types = new Map(columns.map((c) => [c.name, c]));
  for (const { name, dtype } of inputs) {
    const column = types.get(name);
    if (!column) {
      throw new AtelierError('INPUT_INVALID', `${input}: missing feature column "${name}" (the model needs ${inputs.map((i) => i.name).join(', ')})`, { file: input, feature: name });
    }
    if (isNumeric(dtype) && !isNumeric(column.type)) {
      throw new AtelierError('INPUT_INVALID', `${input}: column "${name}" holds ${column.type} values; expected numbers`, { file: input, feature: name, column: name, expected: 'number' });
    }
    if (dtype === 'bool' && column.type !== 'bool' && column.type !== 'int') {
      throw new AtelierError('INPUT_INVALID', `${input}: column "${name}" holds ${column.type} values; expected true or false`, { file: input, feature: name, column: name, expected: 'bool' });
    }
  }
  // DuckDB's column names ignore case: "Prediction" would clash with the added "prediction".
  for (const a of added) {
    const clash = columns.find((c) => c.name.toLowerCase() === a.toLowerCase());
    if (clash) throw new AtelierError('INPUT_INVALID', `${input}: already has a column "${clash.name}", which the output adds`, { file: input, column: clash.name });
  }
}

/** Where a row is, for an error: a line of one CSV (after its header) or JSON Lines file, else a row number. */
function rowPlace(input: string, source: Source, row: number): { text: string; facts: Record<string, unknown> } {
  if (source.files.length === 1 && source.format !== 'parquet') {
    const line = row + (source.format === 'csv' ? 2 : 1);
    return { text: `${input}:${line}`, facts: { file: input, line } };
  }
  return { text: `${input}: row ${row + 1}${source.files.length > 1 ? ' of its files in name order' : ''}`, facts: { file: input, row: row + 1 } };
}

/**
 * The values the column types do not settle, checked over the rows: a bool input held as text
 * (DuckDB typed the column VARCHAR, so some value is not true/false) or as integers other than
 * 0 and 1. Names the first such row.
 */
export async function checkBoolValues(con: DuckDBConnection, input: string, source: Source, inputs: Inputs, columns: DatasetColumn[], rowNumber: string): Promise<void> {
  const types = new Map(columns.map((c) => [c.name, c.type]));
  for (const { name, dtype } of inputs) {
    const type = types.get(name);
    if (dtype !== 'bool' || type === 'bool' || type === undefined) continue;
    const x = sqlIdent(name);
    const bad = type === 'int' ? `${x} NOT IN (0, 1)` : `lower(CAST(${x} AS VARCHAR)) NOT IN ('true', 'false')`;
    const row = (await con.runAndReadAll(`SELECT ${rowNumber}::DOUBLE AS row, CAST(${x} AS VARCHAR) AS value FROM input WHERE ${x} IS NOT NULL AND ${bad} ORDER BY ${rowNumber} LIMIT 1`)).getRowObjectsJS()[0] as
      | { row: number; value: string }
      | undefined;
    if (!row) continue;
    const place = rowPlace(input, source, row.row);
    throw new AtelierError('INPUT_INVALID', `${place.text}: feature "${name}" is ${JSON.stringify(row.value)}; expected true or false (or 1 and 0)`, { ...place.facts, feature: name, expected: 'bool' });
  }
}
