import { open, rename, rm } from 'node:fs/promises';
import type { DuckDBConnection } from '@duckdb/node-api';
import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { AtelierError } from '../core/errors.js';
import type { LoadedBundle } from '../bundle/load.js';
import { requiredSources, type RawColumn } from '../features/transform.js';
import { isNumeric } from '../data/column-types.js';
import { sqlIdent, sqlString, withDuckDb } from '../data/duckdb.js';
import { loadCsv, ROW_NUMBER } from '../data/csv.js';
import { loadSource, resolveSource, type Source } from '../data/sources.js';
import type { DatasetColumn } from '../store/types.js';
import { addedColumns } from './csv-fast-block.js';
import { predictCsvFast } from './csv-fast-batch.js';

/** The scalar function's column of a classifier's outputs, split into the added columns. */
const OUTPUTS = '__atelier_outputs';

const numeric = (dtype: string) => dtype === 'int' || dtype === 'float';

/**
 * Refuses the first row (in file order) with an empty required number, naming its line (the
 * header is line 1) and the first such feature in it, as the fast path does.
 */
async function firstEmptyRequired(con: DuckDBConnection, input: string, source: Source, names: string[], rowNumber: string): Promise<void> {
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

export interface BatchPredictOptions {
  /** Rows per block of the CSV fast path (default 10000): its memory stays bounded by it. The DuckDB way goes by DuckDB's chunks of 2,048 rows. */
  chunkRows?: number;
  /** Called after each chunk with rows done and rows in all (estimated until the end on the CSV fast path). */
  onProgress?(done: number, total: number): void;
  /** Whether a plain CSV to CSV job may take the fast path (default true); false forces DuckDB. */
  fast?: boolean;
  /** Worker threads of the fast path (0: this thread); default one per core, none for small files. */
  threads?: number;
  /** Whether CSV to Parquet may stream through the model in one pass (default true); false loads a table first. */
  stream?: boolean;
}

/**
 * Batch prediction: a plain CSV to CSV job takes the fast path (csv-fast-batch.ts: its own reader,
 * worker threads, input lines repeated verbatim); everything else, and any file that path cannot
 * read exactly as DuckDB would, comes here.
 *
 * The DuckDB path reads a CSV, Parquet or JSON Lines file, predicts it chunk by chunk through the
 * bundle (the same transform and model as online serving), and writes the input columns plus
 * `prediction` (and `probability_<class>` for classifiers) as CSV or Parquet, by the output's
 * extension. DuckDB holds the input (spilling to disk past memory); the model sees one of
 * DuckDB's chunks at a time, inside the COPY that writes the output. The output is written to a temp file and renamed, so a failure never
 * leaves a half-written file.
 */
export async function predictFile(bundle: LoadedBundle, input: string, output: string, options: BatchPredictOptions = {}): Promise<{ rows: number }> {
  // Exactly .csv or .parquet: a .csv.gz, .tsv or .txt name would get a plain comma-separated file.
  const outFormat = /\.csv$/i.test(output) ? 'csv' : /\.parquet$/i.test(output) ? 'parquet' : undefined;
  if (!outFormat) throw new AtelierError('USAGE', `${output}: the output must end in .csv or .parquet`, { file: output, field: 'output' });
  const folder = dirname(resolve(output));
  if (!existsSync(folder) || !statSync(folder).isDirectory()) {
    throw new AtelierError('FILE_NOT_FOUND', `${output}: no folder ${folder} to write the output in`, { file: output, field: 'output' });
  }
  const chunkRows = options.chunkRows ?? 10_000;
  const source = resolveSource(input);
  if (options.fast !== false && outFormat === 'csv' && source.format === 'csv' && source.files[0] === resolve(input) && !/\.gz$/i.test(input)) {
    const fast = await predictCsvFast(bundle, input, output, { chunkRows, threads: options.threads, onProgress: options.onProgress });
    if (fast) return fast;
  }
  const inputs = bundle.transform.inputs;
  const required = new Set(requiredSources(bundle.transform.features));
  const requiredNumbers = inputs.filter(({ name, dtype }) => numeric(dtype) && required.has(name)).map((i) => i.name);
  const added = addedColumns(bundle.manifest.classes);
  const temp = `${output}.tmp-${process.pid}`;
  return withDuckDb(async (con) => {
    let done = 0;
    let total = 0;
    const model = await registerPredictFunction(con, bundle, (rows) => {
      done += rows;
      options.onProgress?.(done, Math.max(done, total));
    });
    try {
      if (options.stream !== false && outFormat === 'parquet' && source.format === 'csv' && source.files.length === 1 && !/\.gz$/i.test(source.files[0]!)) {
        // CSV to Parquet in one pass: the file streams through the model into the output, and the
        // import's checks then read the output (columnar, fast) through a view.
        total = await estimateRows(source.files[0]!);
        try {
          const loaded = await loadCsv(con, source.files[0]!, 'input', temp, {
            added,
            // DuckDB's default codec, as the table way writes: zstd took 0.5 s more per 1M x 29 here.
            compression: 'snappy',
            select: (read, columns) => {
              checkColumns(input, inputs, added, columns);
              return model.select(`(${read})`);
            },
          });
          await checkBoolValues(con, input, source, inputs, loaded.columns, sqlIdent(ROW_NUMBER));
          await firstEmptyRequired(con, input, source, requiredNumbers, sqlIdent(ROW_NUMBER));
          await rename(temp, output);
          return { rows: loaded.rowCount };
        } catch {
          // The table way below checks in the import's order (rows, then types, then the model's
          // columns) and gives that error, naming its line; a chunk the model refused (an empty
          // required number) is found there by row. Failures are rare; the second pass is fine.
          await rm(temp, { force: true });
          model.reset();
          done = 0;
          // What the first pass left: the view over its output and the import's rejects tables.
          await con.run('DROP VIEW IF EXISTS input; DROP TABLE IF EXISTS input_rejects; DROP TABLE IF EXISTS input_scans');
        }
      }
      const table = await loadSource(con, source, 'input');
      total = table.rowCount;
      await checkBoolValues(con, input, source, inputs, table.columns, 'rowid');
      checkColumns(input, inputs, added, table.columns);
      await firstEmptyRequired(con, input, source, requiredNumbers, 'rowid');
      await con.run(`COPY (${model.select('input')}) TO ${sqlString(temp)} (FORMAT ${outFormat === 'csv' ? 'CSV, HEADER' : 'PARQUET'})`);
      await rename(temp, output);
      return { rows: total };
    } catch (error) {
      await rm(temp, { force: true });
      throw model.failure() ?? error;
    }
  });
}

/**
 * Refuses an input file without the model's columns, with text where it needs numbers, with
 * anything but true/false (or 0/1) where it needs a bool, or with a column the output adds.
 */
function checkColumns(input: string, inputs: LoadedBundle['transform']['inputs'], added: string[], columns: DatasetColumn[]): void {
  const types = new Map(columns.map((c) => [c.name, c]));
  for (const { name, dtype } of inputs) {
    const column = types.get(name);
    if (!column) {
      throw new AtelierError('INPUT_INVALID', `${input}: missing feature column "${name}" (the model needs ${inputs.map((i) => i.name).join(', ')})`, { file: input, feature: name });
    }
    if (numeric(dtype) && !isNumeric(column.type)) {
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
async function checkBoolValues(con: DuckDBConnection, input: string, source: Source, inputs: LoadedBundle['transform']['inputs'], columns: DatasetColumn[], rowNumber: string): Promise<void> {
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

/** About how many rows a CSV file holds, from its size and the length of its first lines (for the progress). */
async function estimateRows(file: string): Promise<number> {
  const handle = await open(file, 'r');
  try {
    const size = (await handle.stat()).size;
    const head = Buffer.alloc(Math.min(size, 1 << 16));
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    let lines = 0;
    for (let at = head.indexOf(10); at >= 0 && at < bytesRead; at = head.indexOf(10, at + 1)) lines++;
    return lines > 1 ? Math.round(((size / bytesRead) * lines) - 1) : 0;
  } finally {
    await handle.close();
  }
}

/**
 * A DOUBLE vector's values, NaN where null. Reads the vector's value and validity arrays when it
 * has them as @duckdb/node-api 1.5 lays them out (getItem tests validity with BigInt operations:
 * 0.4 s per million rows of 28 columns, more than the model); otherwise item by item.
 */
function readDoubles(vector: unknown, n: number): Float64Array {
  const v = vector as { items?: unknown; validity?: { data?: unknown; offset?: unknown }; getItem(i: number): unknown };
  const validity = v.validity?.data;
  if (v.items instanceof Float64Array && v.items.length >= n && v.validity?.offset === 0 && (validity === null || validity instanceof BigUint64Array)) {
    const values = v.items.slice(0, n);
    if (validity) {
      const words = new Uint32Array(validity.buffer, validity.byteOffset, validity.length * 2);
      for (let w = 0; w * 32 < n; w++) {
        const bits = words[w]!;
        if (bits === 0xffffffff) continue;
        for (let i = w * 32; i < Math.min(n, w * 32 + 32); i++) if (((bits >>> (i & 31)) & 1) === 0) values[i] = Number.NaN;
      }
    }
    return values;
  }
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = (v.getItem(i) as number | null) ?? Number.NaN;
  return values;
}

/**
 * Registers the model as the scalar function atelier_predict over DuckDB's data chunks (2,048
 * rows), run synchronously on this thread while DuckDB's threads read and write: the output's
 * COPY predicts as it goes (no second table, no join). `select(from)` is the SELECT of every
 * column of `from` plus the added ones; a classifier's function gives [class index, probability
 * per class], split into its columns there.
 */
async function registerPredictFunction(con: DuckDBConnection, bundle: LoadedBundle, onRows: (rows: number) => void) {
  const { DuckDBScalarFunction, DOUBLE, VARCHAR, LIST, listValue } = await import('@duckdb/node-api');
  const inputs = bundle.transform.inputs;
  const classes = bundle.manifest.classes;
  const added = addedColumns(classes);
  let failure: unknown;
  con.registerScalarFunction(
    DuckDBScalarFunction.create({
      name: 'atelier_predict',
      returnType: classes ? LIST(DOUBLE) : DOUBLE,
      parameterTypes: inputs.map(({ dtype }) => (numeric(dtype) ? DOUBLE : VARCHAR)),
      mainFunction: (info, chunk, output) => {
        try {
          const n = chunk.rowCount;
          const columns = new Map<string, RawColumn>();
          inputs.forEach(({ name, dtype }, j) => {
            const vector = chunk.getColumnVector(j);
            if (numeric(dtype)) {
              columns.set(name, readDoubles(vector, n));
            } else {
              const values = new Array<string | null>(n);
              for (let i = 0; i < n; i++) {
                const v = vector.getItem(i);
                values[i] = v === null ? null : String(v);
              }
              columns.set(name, values);
            }
          });
          const outputs = bundle.predictColumnsSync(columns, n, { uniform: true });
          if (!classes) for (let i = 0; i < n; i++) output.setItem(i, outputs[i]!);
          else {
            const predictions = bundle.toPredictions(outputs, n) as { class: string; probabilities: number[] }[];
            for (let i = 0; i < n; i++) output.setItem(i, listValue([classes.indexOf(predictions[i]!.class), ...predictions[i]!.probabilities]));
          }
          output.flush();
          onRows(n);
        } catch (error) {
          failure ??= error;
          info.setError(String((error as Error).message));
        }
      },
    }),
  );
  // Bool inputs reach the model as 'true'/'false' text (as rows give them), from BOOLEAN or 0/1 columns.
  const argument = (name: string, dtype: string) =>
    numeric(dtype) ? `CAST(${sqlIdent(name)} AS DOUBLE)` : dtype === 'bool' ? `CAST(CAST(${sqlIdent(name)} AS BOOLEAN) AS VARCHAR)` : `CAST(${sqlIdent(name)} AS VARCHAR)`;
  const call = `atelier_predict(${inputs.map(({ name, dtype }) => argument(name, dtype)).join(', ')})`;
  const outputsColumn = sqlIdent(OUTPUTS);
  return {
    select: (from: string) =>
      classes
        ? `SELECT * EXCLUDE (${outputsColumn}), ([${classes.map(sqlString).join(', ')}])[CAST(${outputsColumn}[1] AS INTEGER) + 1] AS ${sqlIdent(added[0]!)}, ${added
            .slice(1)
            .map((a, k) => `${outputsColumn}[${k + 2}] AS ${sqlIdent(a)}`)
            .join(', ')} FROM (SELECT *, ${call} AS ${outputsColumn} FROM ${from})`
        : `SELECT *, ${call} AS ${sqlIdent(added[0]!)} FROM ${from}`,
    failure: () => failure,
    reset: () => {
      failure = undefined;
    },
  };
}

/** The former name: CSV in, CSV out. */
export const predictCsv = predictFile;
