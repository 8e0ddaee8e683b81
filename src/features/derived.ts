import { AtelierError } from '../core/errors.js';
import type { DatasetColumn } from '../store/types.js';
import { compileExpression, type ColumnType, type CompiledExpression } from './sql/compile.js';
import { SqlError, SqlRuntimeError, SqlUnknownColumn } from './sql/errors.js';
import { parseExpression } from './sql/parser.js';
import { toText, type SqlType, type Value } from './sql/values.js';

/** A column's type as the transform records it. */
export type ColumnDtype = 'int' | 'float' | 'string' | 'bool';

/** Numbers (NaN is missing) or text (null is missing): the same shape as the transform's raw columns. */
type Column = Float64Array | (string | null)[];

/**
 * A derived column: a SQL expression over raw columns, persisted in transform.json as its source
 * text (re-parsed on load) with the types it was checked under. Numbers come out as a numeric
 * column; text and booleans ('true'/'false') as a categorical one.
 */
export interface DerivedColumn {
  kind: 'sql';
  name: string;
  sql: string;
  dtype: ColumnDtype;
  /** The raw columns the expression reads, with their types: what a request must carry. */
  inputs: { name: string; dtype: ColumnDtype }[];
}

const SQL_TYPE_OF: Record<ColumnDtype, SqlType> = { int: 'INTEGER', float: 'DOUBLE', string: 'VARCHAR', bool: 'BOOLEAN' };
const DTYPE_OF: Partial<Record<SqlType, ColumnDtype>> = { INTEGER: 'int', DOUBLE: 'float', VARCHAR: 'string', BOOLEAN: 'bool' };

/** Where in an expression, for messages: the 1-based character and the text from there. */
function at(sql: string, position: number): string {
  const rest = sql.slice(position, position + 20);
  return `at character ${position + 1}${rest ? ` ("${rest}${sql.length > position + 20 ? '…' : ''}")` : ' (the end)'}`;
}

/**
 * Checks a derived feature's expression against the dataset's columns: it must parse, name
 * existing columns (not the label, not timestamps), and have one type. Errors name the config
 * field, the feature, the position and what was expected.
 */
export function declareDerived(
  feature: { name: string; sql: string },
  field: string,
  columns: DatasetColumn[],
  context: { dataset: string; label: string },
): DerivedColumn {
  const { name, sql } = feature;
  const where = `${field}.sql (feature "${name}")`;
  const usable = columns.filter((c) => c.type !== 'timestamp');
  try {
    const compiled = compileExpression(
      parseExpression(sql),
      usable.map((c) => ({ name: c.name, type: SQL_TYPE_OF[c.type as ColumnDtype] })),
    );
    if (compiled.inputs.includes(context.label)) {
      throw new AtelierError('CONFIG_INVALID', `${where}: reads the label "${context.label}"; a feature cannot be computed from what it predicts`, {
        field: `${field}.sql`,
        feature: name,
        column: context.label,
      });
    }
    const dtype = DTYPE_OF[compiled.type];
    if (!dtype) throw new SqlError(0, 'the expression is always NULL; it needs a column or a value');
    const byName = new Map(usable.map((c) => [c.name, c.type as ColumnDtype]));
    return { kind: 'sql', name, sql, dtype, inputs: compiled.inputs.map((input) => ({ name: input, dtype: byName.get(input)! })) };
  } catch (error) {
    if (error instanceof SqlUnknownColumn) {
      const timestamp = columns.find((c) => c.name === error.column && c.type === 'timestamp');
      if (timestamp) {
        throw new AtelierError('COLUMN_TYPE', `${where}: column "${error.column}" holds timestamps, which expressions cannot read yet`, {
          field: `${field}.sql`,
          feature: name,
          column: error.column,
        });
      }
      throw new AtelierError(
        'COLUMN_NOT_FOUND',
        `${where}: dataset ${context.dataset} has no column "${error.column}" (${at(sql, error.position)}); it has ${usable.map((c) => c.name).join(', ')}`,
        { field: `${field}.sql`, feature: name, column: error.column, position: error.position + 1 },
      );
    }
    if (error instanceof SqlError) {
      throw new AtelierError('EXPRESSION_INVALID', `${where}: ${at(sql, error.position)}: ${error.message}`, {
        field: `${field}.sql`,
        feature: name,
        position: error.position + 1,
        expected: error.expected,
        ...(error.found ? { got: error.found } : {}),
      });
    }
    throw error;
  }
}

/** Expressions are parsed and compiled once per loaded transform, not per call. */
const compiledCache = new WeakMap<DerivedColumn, CompiledExpression>();

function compiled(derived: DerivedColumn): CompiledExpression {
  let found = compiledCache.get(derived);
  if (!found) {
    const columns: ColumnType[] = derived.inputs.map((i) => ({ name: i.name, type: SQL_TYPE_OF[i.dtype] }));
    found = compileExpression(parseExpression(derived.sql), columns);
    compiledCache.set(derived, found);
  }
  return found;
}

/** Reads row `r` of a raw column as an SQL value: NaN and null are NULL; bool columns hold 'true'/'false'. */
function reader(column: Column, dtype: ColumnDtype): (r: number) => Value {
  if (column instanceof Float64Array) return (r) => (Number.isNaN(column[r]!) ? null : column[r]!);
  if (dtype === 'bool') {
    return (r) => {
      const v = column[r];
      if (v === null || v === undefined) return null;
      if (v === 'true' || v === 'false') return v === 'true';
      throw new SqlRuntimeError(`'${v}' is not a boolean`);
    };
  }
  return (r) => column[r] ?? null;
}

/**
 * Adds the derived columns to a map of raw columns: the one evaluation used by training (to fit
 * analyzers and find complete rows) and by the transform's apply at every path. A failure on a
 * value (DuckDB fails the query there too: a square root of a negative, a bad cast) names the
 * feature and the row.
 */
export function deriveColumns<C extends Column>(derived: DerivedColumn[] | undefined, columns: Map<string, C>, rows: number): Map<string, C | Column> {
  if (!derived || derived.length === 0) return columns;
  const out = new Map<string, C | Column>(columns);
  for (const column of derived) {
    const expression = compiled(column);
    const types = new Map(column.inputs.map((i) => [i.name, i.dtype]));
    const readers = expression.inputs.map((name) => reader(columns.get(name)!, types.get(name)!));
    const values: Value[] = new Array(readers.length);
    const numeric = column.dtype === 'int' || column.dtype === 'float';
    const result: Column = numeric ? new Float64Array(rows) : new Array<string | null>(rows);
    for (let r = 0; r < rows; r++) {
      let value: Value;
      try {
        for (let k = 0; k < readers.length; k++) values[k] = readers[k]!(r);
        value = expression.evaluate(values);
      } catch (error) {
        if (!(error instanceof SqlRuntimeError)) throw error;
        throw new AtelierError('EXPRESSION_INVALID', `row ${r}: derived feature "${column.name}" (${column.sql}): ${error.message}`, {
          row: r,
          feature: column.name,
        });
      }
      if (numeric) (result as Float64Array)[r] = value === null ? Number.NaN : (value as number);
      else (result as (string | null)[])[r] = toText(value, expression.type);
    }
    out.set(column.name, result);
  }
  return out;
}

/** The raw columns behind a list of feature sources: a derived source stands for the columns it reads. */
export function rawSources(sources: string[], derived: DerivedColumn[]): { name: string; dtype?: ColumnDtype }[] {
  const byName = new Map(derived.map((d) => [d.name, d]));
  const out = new Map<string, ColumnDtype | undefined>();
  for (const source of sources) {
    const column = byName.get(source);
    if (!column) {
      if (!out.has(source)) out.set(source, undefined);
    } else for (const input of column.inputs) out.set(input.name, input.dtype);
  }
  return [...out].map(([name, dtype]) => ({ name, dtype }));
}
