import { createReadStream, existsSync, statSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { DuckDBConnection } from '@duckdb/node-api';
import { diskFullError } from '../core/disk-full.js';
import { AtelierError } from '../core/errors.js';
import { logicalType } from './column-types.js';
import { sqlIdent, sqlString } from './duckdb.js';
import type { DatasetColumn } from '../store/types.js';

const DELIMITERS = [',', '\t', ';', '|'];
/** The row-number column of the view over a streamed import (line = row + 2); hidden from callers. */
export const ROW_NUMBER = '__atelier_row';
/** Cells read as missing values: empty, and the usual markers of R, pandas and spreadsheets. */
export const NULL_MARKERS = ['', 'NA', 'N/A', 'NULL', 'null', 'None'];

/** A text stream of a file, gunzipped when it ends in .gz. */
function textStream(file: string): Readable {
  const raw = createReadStream(file, { highWaterMark: 1 << 20 });
  const stream = file.endsWith('.gz') ? raw.pipe(createGunzip()) : raw;
  stream.setEncoding('utf8');
  return stream;
}

/** Reads the first line of a file (gzip or not) without reading the rest. */
async function firstLine(file: string): Promise<string> {
  let text = '';
  const stream = textStream(file);
  for await (const chunk of stream) {
    text += chunk;
    const end = text.search(/\r?\n/);
    if (end >= 0) {
      stream.destroy();
      return text.slice(0, end);
    }
    if (text.length > 1 << 22) break;
  }
  return text;
}

/** Splits a header line on a delimiter, honouring double quotes. */
function splitHeader(line: string, delimiter: string): string[] {
  const fields: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        current += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else current += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === delimiter) {
      fields.push(current);
      current = '';
    } else current += ch;
  }
  fields.push(current);
  return fields.map((f) => f.trim());
}

/** The delimiter that splits the header into the most fields. */
export function detectDelimiter(header: string): string {
  let best = ',';
  let bestCount = 1;
  for (const d of DELIMITERS) {
    const n = splitHeader(header, d).length;
    if (n > bestCount) {
      best = d;
      bestCount = n;
    }
  }
  return best;
}

export interface CsvTable {
  table: string;
  columns: DatasetColumn[];
  rowCount: number;
}

/**
 * What a streamed load writes besides the file's columns: `select` rewrites the SELECT over the
 * file (given the columns DuckDB reads in it) into the one streamed to the Parquet file; the
 * columns it adds (`added`) are not checked as the file's. Batch prediction adds its predictions
 * this way, in the same pass over the file.
 */
export interface CsvProjection {
  select(read: string, columns: DatasetColumn[]): string;
  added: string[];
  /** The Parquet codec (default zstd, the smaller files datasets are kept in; snappy writes faster). */
  compression?: 'zstd' | 'snappy';
}

/**
 * Loads a CSV file into a DuckDB table, checking what DuckDB would otherwise guess around:
 * the header (empty or duplicate names), ragged rows and broken quoting (named by line), an
 * empty file or a header with no rows. With `parquet`, the rows stream into that file instead
 * (through `projection`, when given) and `table` is a view over it.
 */
export async function loadCsv(con: DuckDBConnection, file: string, table = 'input', parquet?: string, projection?: CsvProjection): Promise<CsvTable> {
  if (!existsSync(file) || !statSync(file).isFile()) throw new AtelierError('FILE_NOT_FOUND', `${file}: no such file`, { file });
  if (statSync(file).size === 0) throw new AtelierError('CSV_INVALID', `${file}: the file is empty; expected a header line and rows`, { file });
  let header: string;
  try {
    header = (await firstLine(file)).replace(/^\uFEFF/, '');
  } catch (error) {
    // A .gz that is not gzip ("incorrect header check"), or a file that vanished.
    throw diskFullError(error) ?? new AtelierError('CSV_INVALID', `${file}: cannot be read${file.endsWith('.gz') ? ' as gzip' : ''}: ${(error as Error).message}`, { file });
  }
  if (header.trim() === '') throw new AtelierError('CSV_INVALID', `${file}:1: the header line is empty`, { file, line: 1 });
  const delimiter = detectDelimiter(header);
  const names = splitHeader(header, delimiter);
  const seen = new Map<string, number>();
  names.forEach((name, index) => {
    if (name === '') {
      throw new AtelierError('CSV_INVALID', `${file}:1: column ${index + 1} of the header has no name`, { file, line: 1, column: String(index + 1) });
    }
    if (seen.has(name)) {
      throw new AtelierError('CSV_INVALID', `${file}:1: column name "${name}" appears twice (columns ${seen.get(name)! + 1} and ${index + 1})`, {
        file,
        line: 1,
        column: name,
      });
    }
    seen.set(name, index);
  });

  const options = [`delim=${sqlString(delimiter)}`, `quote='"'`, `escape='"'`, 'header=true', `nullstr=[${NULL_MARKERS.map(sqlString).join(', ')}]`, 'store_rejects=true', `rejects_table=${sqlString(`${table}_rejects`)}`, `rejects_scan=${sqlString(`${table}_scans`)}`];
  try {
    const read = `SELECT * FROM read_csv(${sqlString(file)}, ${options.join(', ')})`;
    if (parquet) {
      // Large imports stream straight to Parquet (bounded memory); the checks below then read
      // the Parquet file, which is columnar and fast, through a view with the same row order.
      const select = projection ? projection.select(read, describeColumns(await con.runAndReadAll(`DESCRIBE ${read}`))) : read;
      await con.run(`COPY (${select}) TO ${sqlString(parquet)} (FORMAT parquet, COMPRESSION ${projection?.compression ?? 'zstd'})`);
      await con.run(
        `CREATE OR REPLACE VIEW ${sqlIdent(table)} AS SELECT * EXCLUDE (file_row_number), file_row_number AS ${sqlIdent(ROW_NUMBER)} FROM read_parquet(${sqlString(parquet)}, file_row_number=true)`,
      );
    } else {
      await con.run(`CREATE OR REPLACE TABLE ${sqlIdent(table)} AS ${read}`);
    }
  } catch (error) {
    if (error instanceof AtelierError) throw error; // the projection's own
    // Streaming into Parquet writes: a full disk is not a bad CSV.
    const full = diskFullError(error);
    if (full) throw full;
    // DuckDB's sniffer gives up without a line number; find the first bad record ourselves.
    const problem = await locateCsvProblem(file, delimiter, names.length);
    if (problem) throw new AtelierError('CSV_INVALID', `${file}:${problem.line}: ${problem.message}`, { file, line: problem.line });
    const detail = String((error as Error).message).split('\n')[0];
    throw new AtelierError('CSV_INVALID', `${file}: cannot be read as CSV (delimiter ${JSON.stringify(delimiter)}): ${detail}`, { file });
  }
  const rejects = await con.runAndReadAll(
    `SELECT line, column_name, error_type, error_message FROM ${sqlIdent(`${table}_rejects`)} ORDER BY line LIMIT 1`,
  );
  const reject = rejects.getRowObjectsJS()[0];
  if (reject) {
    const line = Number(reject.line);
    const column = reject.column_name === null ? undefined : String(reject.column_name);
    const message = String(reject.error_message);
    const counts = /Expected Number of Columns: (\d+) Found: (\d+)/.exec(message);
    const detail = counts
      ? `the row has ${counts[2]} fields; expected ${counts[1]}, as in the header`
      : /unicode|encoding/i.test(message)
        ? `invalid UTF-8 bytes${column ? ` in column "${column}"` : ''}; expected UTF-8 text (convert the file, e.g. with iconv)`
        : `${String(reject.error_type).toLowerCase()}${column ? ` in column "${column}"` : ''}: ${message}`;
    throw new AtelierError('CSV_INVALID', `${file}:${line}: ${detail}`, { file, line, column, expected: `${names.length} columns` });
  }
  const added = new Set(projection?.added ?? []);
  const columns = describeColumns(await con.runAndReadAll(`DESCRIBE ${sqlIdent(table)}`)).filter((c) => !added.has(c.name));
  await refuseMixedColumns(con, file, table, columns, parquet ? sqlIdent(ROW_NUMBER) : 'rowid');
  const counted = await con.runAndReadAll(`SELECT count(*) AS n FROM ${sqlIdent(table)}`);
  const rowCount = Number(counted.getRowObjectsJS()[0]!.n);
  if (rowCount === 0) throw new AtelierError('CSV_INVALID', `${file}: the file has a header but no rows`, { file, line: 2 });
  return { table, columns, rowCount };
}

/** The columns of a DESCRIBE result (the row-number column of a streamed load left out). */
function describeColumns(described: { getRowObjectsJS(): Record<string, unknown>[] }): DatasetColumn[] {
  return described.getRowObjectsJS().filter((r) => r.column_name !== ROW_NUMBER).map((r) => ({
    name: String(r.column_name),
    sourceType: String(r.column_type),
    type: logicalType(String(r.column_type)),
  }));
}

/**
 * Walks a CSV file record by record (RFC 4180 quoting: fields may span lines inside quotes) and
 * returns the first structural problem: a quote never closed, text after a closing quote, or a
 * record with a different number of fields than the header. Used only when DuckDB refuses a file.
 */
export async function locateCsvProblem(file: string, delimiter: string, expected: number): Promise<{ line: number; message: string } | undefined> {
  let line = 1;
  let recordLine = 1;
  let fields = 1;
  let quoted = false;
  let quoteLine = 0;
  let afterQuote = false;
  let atFieldStart = true;
  let recordHasContent = false;
  const endRecord = (): { line: number; message: string } | undefined => {
    if (recordHasContent && fields !== expected && recordLine > 1) {
      return { line: recordLine, message: `the row has ${fields} fields; expected ${expected}, as in the header` };
    }
    return undefined;
  };
  const stream = textStream(file);
  for await (const chunk of stream) {
    for (let i = 0; i < chunk.length; i++) {
      const ch = chunk[i]!;
      if (quoted) {
        if (ch === '"') {
          if (chunk[i + 1] === '"') i++;
          else {
            quoted = false;
            afterQuote = true;
          }
        } else if (ch === '\n') line++;
        continue;
      }
      if (ch === '\n') {
        const problem = endRecord();
        if (problem) {
          stream.destroy();
          return problem;
        }
        line++;
        recordLine = line;
        fields = 1;
        atFieldStart = true;
        afterQuote = false;
        recordHasContent = false;
        continue;
      }
      if (ch === '\r') continue;
      recordHasContent = true;
      if (ch === delimiter) {
        fields++;
        atFieldStart = true;
        afterQuote = false;
      } else if (ch === '"' && atFieldStart) {
        quoted = true;
        quoteLine = line;
        atFieldStart = false;
      } else {
        if (afterQuote) {
          stream.destroy();
          return { line, message: `unexpected text after a closing quote (a quote inside a field must be doubled: "")` };
        }
        atFieldStart = false;
      }
    }
  }
  if (quoted) return { line: quoteLine, message: `a quote opened on this line is never closed` };
  return endRecord();
}

/**
 * A text column whose values are mostly numbers is almost always a numeric column with a typo
 * or a stray marker: refuse it, naming the first offending line, rather than import text.
 */
async function refuseMixedColumns(con: DuckDBConnection, file: string, table: string, columns: DatasetColumn[], rowNumber: string): Promise<void> {
  const text = columns.filter((c) => c.type === 'string');
  if (text.length === 0) return;
  const parts = text.map(
    (c, i) => `count(${sqlIdent(c.name)}) AS t${i}, count(TRY_CAST(${sqlIdent(c.name)} AS DOUBLE)) AS n${i}`,
  );
  const counts = (await con.runAndReadAll(`SELECT ${parts.join(', ')} FROM ${sqlIdent(table)}`)).getRowObjectsJS()[0]!;
  for (let i = 0; i < text.length; i++) {
    const total = Number(counts[`t${i}`]);
    const numeric = Number(counts[`n${i}`]);
    if (numeric === 0 || numeric === total || numeric < total / 2) continue;
    const name = sqlIdent(text[i]!.name);
    const first = (
      await con.runAndReadAll(
        `SELECT ${rowNumber} AS r, ${name} AS v FROM ${sqlIdent(table)} WHERE ${name} IS NOT NULL AND TRY_CAST(${name} AS DOUBLE) IS NULL ORDER BY r LIMIT 1`,
      )
    ).getRowObjectsJS()[0]!;
    // Line numbers assume one line per row (no newlines inside quoted fields), as in most files.
    const line = Number(first.r) + 2;
    throw new AtelierError(
      'CSV_INVALID',
      `${file}:${line}: column "${text[i]!.name}" holds numbers in ${numeric} of ${total} rows, but this row has ${JSON.stringify(String(first.v))}; expected a number or an empty cell`,
      { file, line, column: text[i]!.name, expected: 'number', got: String(first.v) },
    );
  }
}
