import { AtelierError } from '../core/errors.js';
import type { AtelierContext } from '../store/context.js';
import type { DatasetColumn, DatasetVersionRecord } from '../store/types.js';
import { isNumeric } from './column-types.js';
import { sqlIdent, sqlString, withDuckDb } from './duckdb.js';

/** Numbers (NaN is missing) or text (null is missing). */
export type ColumnValues = Float64Array | (string | null)[];

export interface Table {
  columns: Map<string, ColumnValues>;
  rows: number;
  /** Each column's type as stored. */
  types: Map<string, DatasetColumn>;
}

/**
 * Reads the named columns of a dataset version in one DuckDB pass: numeric columns as
 * Float64Arrays, the others as text. `fieldOf` names the config field that asked for a column.
 */
export async function readColumns(
  ctx: AtelierContext,
  version: DatasetVersionRecord,
  names: string[],
  fieldOf: (name: string) => string,
): Promise<Table> {
  const known = new Map(version.columns.map((c) => [c.name, c] as [string, DatasetColumn]));
  for (const name of names) {
    if (!known.has(name)) {
      throw new AtelierError(
        'COLUMN_NOT_FOUND',
        `${fieldOf(name)}: dataset ${version.dataset}@${version.version} has no column "${name}"; it has ${version.columns.map((c) => c.name).join(', ')}`,
        { field: fieldOf(name), column: name },
      );
    }
  }
  const path = await ctx.artifacts.localPath(version.artifact);
  const types = new Map(names.map((n) => [n, known.get(n)!]));
  const columns = new Map<string, ColumnValues>();
  if (names.length === 0) return { columns, rows: version.rowCount, types };
  await withDuckDb(async (con) => {
    const select = names
      .map((n) => `CAST(${sqlIdent(n)} AS ${isNumeric(known.get(n)!.type) ? 'DOUBLE' : 'VARCHAR'}) AS ${sqlIdent(n)}`)
      .join(', ');
    const result = await con.runAndReadAll(`SELECT ${select} FROM read_parquet(${sqlString(path)})`);
    const values = result.getColumnsJS();
    names.forEach((name, j) => {
      const raw = values[j]!;
      if (isNumeric(known.get(name)!.type)) {
        const array = new Float64Array(raw.length);
        for (let i = 0; i < raw.length; i++) array[i] = raw[i] === null || raw[i] === undefined ? Number.NaN : Number(raw[i]);
        columns.set(name, array);
      } else {
        columns.set(name, raw.map((v) => (v === null || v === undefined ? null : String(v))));
      }
    });
  });
  return { columns, rows: version.rowCount, types };
}

/** Indices of the rows with `mask[i] === value` that are also complete. */
export function selectRows(mask: Uint8Array, value: number, complete: Uint8Array): Uint32Array {
  let n = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i] === value && complete[i]) n++;
  const out = new Uint32Array(n);
  let k = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i] === value && complete[i]) out[k++] = i;
  return out;
}

export function gather(values: Float64Array, select: Uint32Array): Float64Array {
  const out = new Float64Array(select.length);
  for (let i = 0; i < select.length; i++) out[i] = values[select[i]!]!;
  return out;
}

/** The rows `select` of every column. */
export function gatherColumns(columns: Map<string, ColumnValues>, select: Uint32Array): Map<string, ColumnValues> {
  const out = new Map<string, ColumnValues>();
  for (const [name, values] of columns) {
    out.set(name, values instanceof Float64Array ? gather(values, select) : Array.from(select, (i) => values[i]!));
  }
  return out;
}
