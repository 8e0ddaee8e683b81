import { rename, rm } from 'node:fs/promises';
import type { DuckDBConnection } from '@duckdb/node-api';
import { resolve } from 'node:path';
import { AtelierError } from '../core/errors.js';
import type { LoadedBundle } from '../bundle/load.js';
import { requiredSources, type RawColumn } from '../features/transform.js';
import { isNumeric } from '../data/column-types.js';
import { sqlIdent, sqlString, withDuckDb } from '../data/duckdb.js';
import { formatOf, loadSource, resolveSource } from '../data/sources.js';
import { addedColumns } from './csv-fast-block.js';
import { predictCsvFast } from './csv-fast-batch.js';

/** The scalar function's column of a classifier's outputs, split into the added columns. */
const OUTPUTS = '__atelier_outputs';

const numeric = (dtype: string) => dtype === 'int' || dtype === 'float';

/**
 * Refuses the first row (in file order) with an empty required number, naming its line (the
 * header is line 1) and the first such feature in it, as the fast path does.
 */
async function firstEmptyRequired(con: DuckDBConnection, input: string, names: string[]): Promise<void> {
  if (names.length === 0) return;
  const empty = names.map((n) => `${sqlIdent(n)} IS NULL`);
  const row = (await con.runAndReadAll(`SELECT rowid::DOUBLE AS row, [${empty.join(', ')}] AS empty FROM input WHERE ${empty.join(' OR ')} ORDER BY rowid LIMIT 1`)).getRowObjectsJS()[0] as
    | { row: number; empty: boolean[] }
    | undefined;
  if (!row) return;
  const line = row.row + 2;
  const feature = names[row.empty.indexOf(true)]!;
  throw new AtelierError('INPUT_INVALID', `${input}:${line}: feature "${feature}" is empty; expected a number`, { file: input, line, feature });
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
  return withDuckDb(async (con) => {
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
    await firstEmptyRequired(con, input, inputs.filter(({ name, dtype }) => numeric(dtype) && required.has(name)).map((i) => i.name));
    const total = table.rowCount;
    const { DuckDBScalarFunction, DOUBLE, VARCHAR, LIST, listValue } = await import('@duckdb/node-api');
    // The model runs inside the output's COPY as a scalar function over DuckDB's data chunks (2,048
    // rows), synchronously on this thread while DuckDB's threads read the table and write the
    // file: no second table, no positional join, and the write overlaps the prediction. A
    // classifier's function gives [class index, probability per class], split into columns below.
    let done = 0;
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
                const values = new Float64Array(n);
                for (let i = 0; i < n; i++) values[i] = (vector.getItem(i) as number | null) ?? Number.NaN;
                columns.set(name, values);
              } else {
                const values = new Array<string | null>(n);
                for (let i = 0; i < n; i++) {
                  const v = vector.getItem(i);
                  values[i] = v === null ? null : String(v);
                }
                columns.set(name, values);
              }
            });
            const outputs = bundle.predictColumnsSync(columns, n);
            if (!classes) for (let i = 0; i < n; i++) output.setItem(i, outputs[i]!);
            else {
              const predictions = bundle.toPredictions(outputs, n) as { class: string; probabilities: number[] }[];
              for (let i = 0; i < n; i++) output.setItem(i, listValue([classes.indexOf(predictions[i]!.class), ...predictions[i]!.probabilities]));
            }
            output.flush();
            done += n;
            options.onProgress?.(done, total);
          } catch (error) {
            failure ??= error;
            info.setError(String((error as Error).message));
          }
        },
      }),
    );
    const call = `atelier_predict(${inputs.map(({ name, dtype }) => `CAST(${sqlIdent(name)} AS ${numeric(dtype) ? 'DOUBLE' : 'VARCHAR'})`).join(', ')})`;
    const select = classes
      ? `SELECT * EXCLUDE (${sqlIdent(OUTPUTS)}), ([${classes.map(sqlString).join(', ')}])[CAST(${sqlIdent(OUTPUTS)}[1] AS INTEGER) + 1] AS ${sqlIdent(added[0]!)}, ${added
          .slice(1)
          .map((a, k) => `${sqlIdent(OUTPUTS)}[${k + 2}] AS ${sqlIdent(a)}`)
          .join(', ')} FROM (SELECT *, ${call} AS ${sqlIdent(OUTPUTS)} FROM input)`
      : `SELECT *, ${call} AS ${sqlIdent(added[0]!)} FROM input`;
    const temp = `${output}.tmp-${process.pid}`;
    try {
      await con.run(`COPY (${select}) TO ${sqlString(temp)} (FORMAT ${outFormat === 'csv' ? 'CSV, HEADER' : 'PARQUET'})`);
      await rename(temp, output);
    } catch (error) {
      await rm(temp, { force: true });
      throw failure ?? error;
    }
    return { rows: total };
  });
}

/** The former name: CSV in, CSV out. */
export const predictCsv = predictFile;
