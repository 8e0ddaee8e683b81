import { rename, rm } from 'node:fs/promises';
import type { DuckDBConnection } from '@duckdb/node-api';
import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { AtelierError } from '../core/errors.js';
import type { LoadedBundle } from '../bundle/load.js';
import { requiredSources } from '../features/transform.js';
import { sqlIdent, sqlString, withDuckDb } from '../data/duckdb.js';
import { isNumeric } from '../data/column-types.js';
import { loadCsv, ROW_NUMBER } from '../data/csv.js';
import { loadSource, resolveSource, type Source } from '../data/sources.js';
import { checkBoolValues, checkColumns, firstEmptyRequired } from './batch-checks.js';
import { registerPredictFunction, type PredictFunction } from './batch-function.js';
import { addedColumns } from './csv-fast-block.js';
import { estimateRows, predictCsvFast } from './csv-fast-batch.js';

export interface BatchPredictOptions {
  /**
   * Rows per block of the CSV fast path (default 10000): its memory stays bounded by it. The
   * DuckDB way goes by DuckDB's chunks of 2,048 rows.
   */
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
 * DuckDB's chunks at a time, inside the COPY that writes the output (batch-function.ts). The
 * output is written to a temp file and renamed, so a failure never leaves a half-written file.
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
  return withDuckDb(async (con) => {
    let done = 0;
    let total = 0;
    const model = await registerPredictFunction(con, bundle, (rows) => {
      done += rows;
      options.onProgress?.(done, Math.max(done, total));
    });
    const job: DuckDbJob = { con, bundle, input, source, temp: `${output}.tmp-${process.pid}`, output, model };
    try {
      if (options.stream !== false && outFormat === 'parquet' && source.format === 'csv' && source.files.length === 1 && !/\.gz$/i.test(source.files[0]!)) {
        total = await estimateRows(source.files[0]!);
        try {
          return await streamCsvToParquet(job);
        } catch {
          // The table way below checks in the import's order (rows, then types, then the model's
          // columns) and gives that error, naming its line; a chunk the model refused (an empty
          // required number) is found there by row. Failures are rare; the second pass is fine.
          await rm(job.temp, { force: true });
          model.reset();
          done = 0;
          // What the first pass left: the view over its output and the import's rejects tables.
          await con.run('DROP VIEW IF EXISTS input; DROP TABLE IF EXISTS input_rejects; DROP TABLE IF EXISTS input_scans');
        }
      }
      return await throughTable(job, outFormat, (rows) => (total = rows));
    } catch (error) {
      await rm(job.temp, { force: true });
      throw model.failure() ?? error;
    }
  });
}

interface DuckDbJob {
  con: DuckDBConnection;
  bundle: LoadedBundle;
  input: string;
  source: Source;
  temp: string;
  output: string;
  model: PredictFunction;
}

/** What the model needs present: its numeric inputs that no missing-value policy fills. */
function requiredNumbers(bundle: LoadedBundle): string[] {
  const required = new Set(requiredSources(bundle.transform.features));
  return bundle.transform.inputs.filter(({ name, dtype }) => isNumeric(dtype) && required.has(name)).map((i) => i.name);
}

/**
 * CSV to Parquet in one pass: the file streams through the model into the output, and the
 * import's checks then read the output (columnar, fast) through a view.
 */
async function streamCsvToParquet({ con, bundle, input, source, temp, output, model }: DuckDbJob): Promise<{ rows: number }> {
  const inputs = bundle.transform.inputs;
  const added = addedColumns(bundle.manifest.classes);
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
  await firstEmptyRequired(con, input, source, requiredNumbers(bundle), sqlIdent(ROW_NUMBER));
  await rename(temp, output);
  return { rows: loaded.rowCount };
}

/** Any input to CSV or Parquet: the input loaded into a table, checked, then one COPY through the model. */
async function throughTable({ con, bundle, input, source, temp, output, model }: DuckDbJob, format: 'csv' | 'parquet', onTotal: (rows: number) => void): Promise<{ rows: number }> {
  const inputs = bundle.transform.inputs;
  const table = await loadSource(con, source, 'input');
  onTotal(table.rowCount);
  await checkBoolValues(con, input, source, inputs, table.columns, 'rowid');
  checkColumns(input, inputs, addedColumns(bundle.manifest.classes), table.columns);
  await firstEmptyRequired(con, input, source, requiredNumbers(bundle), 'rowid');
  await con.run(`COPY (${model.select('input')}) TO ${sqlString(temp)} (FORMAT ${format === 'csv' ? 'CSV, HEADER' : 'PARQUET'})`);
  await rename(temp, output);
  return { rows: table.rowCount };
}

/** The former name: CSV in, CSV out. */
export const predictCsv = predictFile;
