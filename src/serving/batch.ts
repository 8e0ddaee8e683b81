import { rename, rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import { AtelierError } from '../core/errors.js';
import type { LoadedBundle } from '../bundle/load.js';
import { requiredSources, type RawColumn } from '../features/transform.js';
import { isNumeric } from '../data/column-types.js';
import { sqlIdent, sqlString, withDuckDb } from '../data/duckdb.js';
import { formatOf, loadSource, resolveSource } from '../data/sources.js';
import { addedColumns } from './csv-fast-block.js';
import { predictCsvFast } from './csv-fast-batch.js';

/** Rows in one DuckDB data chunk (its standard vector size). */
const VECTOR_ROWS = 2048;

export interface BatchPredictOptions {
  /** Rows read, predicted and written per step (default 10000): memory stays bounded by it. */
  chunkRows?: number;
  /** Called after each chunk with rows done and rows in all (estimated until the end on the CSV fast path). */
  onProgress?(done: number, total: number): void;
  /** Whether a plain CSV to CSV job may take the fast path (default true); false forces DuckDB. */
  fast?: boolean;
  /** Worker threads of the fast path (0: this thread); default one per core, none for small files. */
  threads?: number;
}

/**
 * Batch prediction: a plain CSV to CSV job takes the fast path (csv-fast-batch.ts: its own reader,
 * worker threads, input lines repeated verbatim); everything else, and any file that path cannot
 * read exactly as DuckDB would, comes here.
 *
 * The DuckDB path reads a CSV, Parquet or JSON Lines file, predicts it chunk by chunk through the
 * bundle (the same transform and model as online serving), and writes the input columns plus
 * `prediction` (and `probability_<class>` for classifiers) as CSV or Parquet, by the output's
 * extension. DuckDB holds the input and the predictions (spilling to disk past memory); the model
 * sees one chunk at a time. The output is written to a temp file and renamed, so a failure never
 * leaves a half-written file.
 */
export async function predictFile(bundle: LoadedBundle, input: string, output: string, options: BatchPredictOptions = {}): Promise<{ rows: number }> {
  const outFormat = formatOf(output);
  if (outFormat !== 'csv' && outFormat !== 'parquet') {
    throw new AtelierError('USAGE', `${output}: the output must end in .csv or .parquet`, { file: output, field: 'output' });
  }
  const chunkRows = options.chunkRows ?? 10_000;
  const source = resolveSource(input);
  if (options.fast !== false && outFormat === 'csv' && source.format === 'csv' && source.files[0] === resolve(input) && !/\.gz$/i.test(input)) {
    const fast = await predictCsvFast(bundle, input, output, { chunkRows, threads: options.threads, onProgress: options.onProgress });
    if (fast) return fast;
  }
  const inputs = bundle.transform.inputs;
  const required = new Set(requiredSources(bundle.transform.features));
  const classes = bundle.manifest.classes;
  return withDuckDb(async (con, connect) => {
    const table = await loadSource(con, source, 'input');
    const types = new Map(table.columns.map((c) => [c.name, c]));
    for (const { name, dtype } of inputs) {
      const column = types.get(name);
      if (!column) {
        throw new AtelierError('INPUT_INVALID', `${input}: missing feature column "${name}" (the model needs ${inputs.map((i) => i.name).join(', ')})`, { file: input, feature: name });
      }
      if ((dtype === 'int' || dtype === 'float') && !isNumeric(column.type)) {
        throw new AtelierError('INPUT_INVALID', `${input}: column "${name}" holds ${column.type} values; expected numbers`, { file: input, feature: name, column: name, expected: 'number' });
      }
    }
    const added = addedColumns(classes);
    const clash = added.find((a) => types.has(a));
    if (clash) throw new AtelierError('INPUT_INVALID', `${input}: already has a column "${clash}", which the output adds`, { file: input, column: clash });
    await con.run(`CREATE TABLE predictions (${added.map((a, k) => `${sqlIdent(a)} ${classes && k === 0 ? 'VARCHAR' : 'DOUBLE'}`).join(', ')})`);
    const { DuckDBDataChunk, DOUBLE, VARCHAR } = await import('@duckdb/node-api');
    // The appender on a connection of its own: its flushes (about every 200,000 rows) run
    // statements, and a statement on the scan's connection ends the streaming scan there
    // (every later row then came out without a prediction).
    const appender = await (await connect()).createAppender('predictions');
    const outTypes = added.map((_a, k) => (classes && k === 0 ? VARCHAR : DOUBLE));
    const numeric = (dtype: string) => dtype === 'int' || dtype === 'float';
    const select = inputs.map(({ name, dtype }) => `CAST(${sqlIdent(name)} AS ${numeric(dtype) ? 'DOUBLE' : 'VARCHAR'})`).join(', ');
    const total = table.rowCount;
    // One scan in insertion order, read vector by vector (no per-chunk query, no conversion of
    // whole result sets); predictions go back in as data chunks, and the output pairs the two
    // tables by position.
    const result = await con.stream(`SELECT ${select} FROM input`);
    let start = 0;
    const fresh = (): { columns: (Float64Array | (string | null)[])[]; rows: number } => ({
      columns: inputs.map(({ dtype }) => (numeric(dtype) ? new Float64Array(chunkRows) : new Array<string | null>(chunkRows))),
      rows: 0,
    });
    let buffered = fresh();
    const flush = async () => {
      const rows = buffered.rows;
      if (rows === 0) return;
      const columns = new Map<string, RawColumn>();
      inputs.forEach(({ name }, j) => {
        const column = buffered.columns[j]!;
        columns.set(name, column instanceof Float64Array ? column.subarray(0, rows) : column.slice(0, rows));
      });
      const predictions = bundle.toPredictions(await bundle.predictColumns(columns, rows), rows);
      for (let from = 0; from < rows; from += VECTOR_ROWS) {
        const n = Math.min(VECTOR_ROWS, rows - from);
        const chunk = DuckDBDataChunk.create(outTypes, n);
        if (classes) {
          const cls = new Array<string>(n);
          const probabilities = classes.map(() => new Array<number>(n));
          for (let i = 0; i < n; i++) {
            const p = predictions[from + i] as { class: string; probabilities: number[] };
            cls[i] = p.class;
            p.probabilities.forEach((q, k) => (probabilities[k]![i] = q));
          }
          chunk.setColumns([cls, ...probabilities]);
        } else {
          chunk.setColumns([predictions.slice(from, from + n) as number[]]);
        }
        appender.appendDataChunk(chunk);
      }
      start += rows;
      options.onProgress?.(start, total);
      buffered = fresh();
    };
    for (let chunk = await result.fetchChunk(); chunk && chunk.rowCount > 0; chunk = await result.fetchChunk()) {
      for (let from = 0; from < chunk.rowCount; ) {
        const n = Math.min(chunk.rowCount - from, chunkRows - buffered.rows);
        inputs.forEach(({ name, dtype }, j) => {
          const vector = chunk.getColumnVector(j);
          const column = buffered.columns[j]!;
          if (!numeric(dtype)) {
            for (let i = 0; i < n; i++) {
              const v = vector.getItem(from + i);
              column[buffered.rows + i] = v === null ? null : String(v);
            }
            return;
          }
          const values = column as Float64Array;
          for (let i = 0; i < n; i++) {
            const v = vector.getItem(from + i) as number | null;
            if (v === null && required.has(name)) {
              const line = start + buffered.rows + i + 2;
              throw new AtelierError('INPUT_INVALID', `${input}:${line}: feature "${name}" is empty; expected a number`, { file: input, line, feature: name });
            }
            values[buffered.rows + i] = v === null ? Number.NaN : v;
          }
        });
        buffered.rows += n;
        from += n;
        if (buffered.rows === chunkRows) await flush();
      }
    }
    await flush();
    appender.closeSync();
    const temp = `${output}.tmp-${process.pid}`;
    try {
      await con.run(
        `COPY (SELECT * FROM input POSITIONAL JOIN predictions) TO ${sqlString(temp)} (FORMAT ${outFormat === 'csv' ? 'CSV, HEADER' : 'PARQUET'})`,
      );
      await rename(temp, output);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
    return { rows: total };
  });
}

/** The former name: CSV in, CSV out. */
export const predictCsv = predictFile;
