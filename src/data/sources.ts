import { accessSync, constants, existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { diskFullError } from '../core/disk-full.js';
import { AtelierError } from '../core/errors.js';
import { canonicalJson, sha256, sha256File } from '../core/hash.js';
import type { DatasetColumn } from '../store/types.js';
import { logicalType } from './column-types.js';
import { loadCsv } from './csv.js';
import { sqlIdent, sqlString } from './duckdb.js';

export type SourceFormat = 'csv' | 'parquet' | 'json';

export interface Source {
  format: SourceFormat;
  /** Absolute paths, sorted: what the dataset version was made from. */
  files: string[];
  /** What the user named: a file, a glob or a folder. */
  given: string;
}

export interface LoadedTable {
  table: string;
  columns: DatasetColumn[];
  rowCount: number;
}

const FORMATS: [RegExp, SourceFormat][] = [
  [/\.(csv|tsv|txt)(\.gz)?$/i, 'csv'],
  [/\.parquet$/i, 'parquet'],
  [/\.(jsonl|ndjson|json)(\.gz)?$/i, 'json'],
];

export function formatOf(file: string): SourceFormat | undefined {
  return FORMATS.find(([pattern]) => pattern.test(file))?.[1];
}

function globToRegex(pattern: string): RegExp {
  const escaped = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]');
  return new RegExp(`^${escaped}$`);
}

/**
 * Resolves what the user named (a file, a folder, or a glob in the last path segment such as
 * `data/part-*.csv`) into the files to read, all of one format.
 */
export function resolveSource(input: string): Source {
  const path = resolve(input);
  let files: string[];
  if (/[*?]/.test(basename(path))) {
    const dir = dirname(path);
    if (!existsSync(dir)) throw new AtelierError('FILE_NOT_FOUND', `${input}: no folder ${dir}`, { file: input });
    const pattern = globToRegex(basename(path));
    files = readdirSync(dir).filter((f) => pattern.test(f)).map((f) => join(dir, f));
    if (files.length === 0) throw new AtelierError('FILE_NOT_FOUND', `${input}: no file matches`, { file: input });
  } else if (existsSync(path) && statSync(path).isDirectory()) {
    files = readdirSync(path)
      .filter((f) => !f.startsWith('.') && formatOf(f) !== undefined)
      .map((f) => join(path, f));
    if (files.length === 0) {
      throw new AtelierError('FILE_NOT_FOUND', `${input}: the folder holds no .csv, .tsv, .parquet or .jsonl file`, { file: input });
    }
  } else if (existsSync(path)) {
    files = [path];
  } else {
    throw new AtelierError('FILE_NOT_FOUND', `${input}: no such file`, { file: input });
  }
  files = files.filter((f) => statSync(f).isFile()).sort();
  for (const f of files) {
    try {
      accessSync(f, constants.R_OK);
    } catch {
      throw new AtelierError('FILE_UNREADABLE', `${f}: cannot be read (permission denied)`, { file: f });
    }
  }
  const formats = new Set(files.map((f) => formatOf(f) ?? 'csv'));
  if (formats.size > 1) {
    throw new AtelierError('DATA_FILE_INVALID', `${input}: mixes formats (${[...formats].join(', ')}); import one format at a time`, { file: input });
  }
  return { format: [...formats][0]!, files, given: input };
}

/** The version's identity: the sha256 of one file, or of the list of (name, sha256) of several. */
export async function contentHashOf(source: Source): Promise<string> {
  if (source.files.length === 1) return sha256File(source.files[0]!);
  const parts: [string, string][] = [];
  for (const file of source.files) parts.push([basename(file), await sha256File(file)]);
  return sha256(canonicalJson(parts));
}

async function describe(con: DuckDBConnection, table: string): Promise<LoadedTable> {
  const described = await con.runAndReadAll(`DESCRIBE ${sqlIdent(table)}`);
  const columns = described.getRowObjectsJS().map((r) => ({
    name: String(r.column_name),
    sourceType: String(r.column_type),
    type: logicalType(String(r.column_type)),
  }));
  const rowCount = Number((await con.runAndReadAll(`SELECT count(*) AS n FROM ${sqlIdent(table)}`)).getRowObjectsJS()[0]!.n);
  return { table, columns, rowCount };
}

async function loadOne(con: DuckDBConnection, file: string, format: SourceFormat, table: string, parquet?: string): Promise<LoadedTable & { parquet?: string }> {
  if (format === 'csv') return { ...(await loadCsv(con, file, table, parquet)), parquet };
  const reader =
    format === 'parquet'
      ? `read_parquet(${sqlString(file)})`
      : `read_json(${sqlString(file)}, format='newline_delimited')`;
  try {
    await con.run(`CREATE OR REPLACE TABLE ${sqlIdent(table)} AS SELECT * FROM ${reader}`);
  } catch (error) {
    const full = diskFullError(error);
    if (full) throw full;
    const message = String((error as Error).message).split('\n')[0]!.replace(/^[A-Za-z ]+Error: /, '');
    const line = /line (\d+)/i.exec(String((error as Error).message))?.[1];
    throw new AtelierError(
      'DATA_FILE_INVALID',
      `${file}${line ? `:${line}` : ''}: cannot be read as ${format === 'json' ? 'JSON Lines' : 'Parquet'}: ${message}`,
      { file, line: line ? Number(line) : undefined },
    );
  }
  const loaded = await describe(con, table);
  if (loaded.rowCount === 0) throw new AtelierError('DATA_FILE_INVALID', `${file}: holds no rows`, { file });
  return loaded;
}

/**
 * Loads every file of a source into one DuckDB table. Each file is checked on its own (so an
 * error names the file and line); several files must have the same columns.
 */
export async function loadSource(
  con: DuckDBConnection,
  source: Source,
  table = 'input',
  /** Where a single CSV may be streamed as Parquet (then `parquet` is set in the result). */
  parquet?: string,
): Promise<LoadedTable & { parquet?: string }> {
  if (source.files.length === 1) return loadOne(con, source.files[0]!, source.format, table, parquet);
  const parts: LoadedTable[] = [];
  for (const [i, file] of source.files.entries()) {
    const part = await loadOne(con, file, source.format, `${table}_part${i}`);
    const first = parts[0];
    if (first) {
      const names = (t: LoadedTable) => t.columns.map((c) => c.name).join(', ');
      if (names(first) !== names(part)) {
        throw new AtelierError('DATA_FILE_INVALID', `${file}: columns (${names(part)}) differ from ${source.files[0]} (${names(first)})`, {
          file,
        });
      }
    }
    parts.push(part);
  }
  await con.run(`CREATE OR REPLACE TABLE ${sqlIdent(table)} AS ${parts.map((p) => `SELECT * FROM ${sqlIdent(p.table)}`).join(' UNION ALL BY NAME ')}`);
  for (const p of parts) await con.run(`DROP TABLE ${sqlIdent(p.table)}`);
  return describe(con, table);
}
