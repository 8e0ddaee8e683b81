import { rename, rm } from 'node:fs/promises';
import { AtelierError } from '../core/errors.js';
import type { LoadedBundle } from '../bundle/load.js';
import { requiredSources, type RawColumn } from '../features/transform.js';
import { isNumeric } from '../data/column-types.js';
import { sqlIdent, sqlString, withDuckDb } from '../data/duckdb.js';
import { formatOf, loadSource, resolveSource } from '../data/sources.js';

export interface BatchPredictOptions {
  /** Rows read, predicted and written per step (default 10000): memory stays bounded by it. */
  chunkRows?: number;
  /** Called after each chunk with rows done and rows in all. */
  onProgress?(done: number, total: number): void;
}

/**
 * Batch prediction: reads a CSV, Parquet or JSON Lines file, predicts it chunk by chunk through the
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
  const inputs = bundle.transform.inputs;
  const required = new Set(requiredSources(bundle.transform.features));
  const classes = bundle.manifest.classes;
  return withDuckDb(async (con) => {
    const table = await loadSource(con, resolveSource(input), 'input');
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
    const added = classes ? ['prediction', ...classes.map((c) => `probability_${c}`)] : ['prediction'];
    const clash = added.find((a) => types.has(a));
    if (clash) throw new AtelierError('INPUT_INVALID', `${input}: already has a column "${clash}", which the output adds`, { file: input, column: clash });
    await con.run(
      `CREATE TABLE predictions (row_id BIGINT, ${added.map((a, k) => `${sqlIdent(a)} ${classes && k === 0 ? 'VARCHAR' : 'DOUBLE'}`).join(', ')})`,
    );
    const appender = await con.createAppender('predictions');
    const numeric = (dtype: string) => dtype === 'int' || dtype === 'float';
    const select = inputs.map(({ name, dtype }) => `CAST(${sqlIdent(name)} AS ${numeric(dtype) ? 'DOUBLE' : 'VARCHAR'})`).join(', ');
    const total = table.rowCount;
    for (let start = 0; start < total; start += chunkRows) {
      const result = await con.runAndReadAll(`SELECT rowid, ${select} FROM input WHERE rowid >= ${start} AND rowid < ${start + chunkRows} ORDER BY rowid`);
      const values = result.getColumnsJS();
      const rows = values[0]!.length;
      const columns = new Map<string, RawColumn>();
      inputs.forEach(({ name, dtype }, j) => {
        const raw = values[j + 1]!;
        if (!numeric(dtype)) {
          columns.set(name, raw.map((v) => (v === null || v === undefined ? null : String(v))));
          return;
        }
        const array = new Float64Array(rows);
        for (let i = 0; i < rows; i++) {
          const v = raw[i];
          if ((v === null || v === undefined) && required.has(name)) {
            const line = start + i + 2;
            throw new AtelierError('INPUT_INVALID', `${input}:${line}: feature "${name}" is empty; expected a number`, { file: input, line, feature: name });
          }
          array[i] = v === null || v === undefined ? Number.NaN : Number(v);
        }
        columns.set(name, array);
      });
      const predictions = bundle.toPredictions(await bundle.predictColumns(columns, rows), rows);
      for (let i = 0; i < rows; i++) {
        appender.appendBigInt(BigInt(start + i));
        const p = predictions[i]!;
        if (typeof p === 'number') {
          appender.appendDouble(p);
        } else {
          appender.appendVarchar(p.class);
          for (const q of p.probabilities) appender.appendDouble(q);
        }
        appender.endRow();
      }
      appender.flushSync();
      options.onProgress?.(start + rows, total);
    }
    appender.closeSync();
    const temp = `${output}.tmp-${process.pid}`;
    try {
      await con.run(
        `COPY (SELECT input.*, predictions.* EXCLUDE (row_id) FROM input JOIN predictions ON input.rowid = predictions.row_id ORDER BY input.rowid) TO ${sqlString(temp)} (FORMAT ${outFormat === 'csv' ? 'CSV, HEADER' : 'PARQUET'})`,
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
