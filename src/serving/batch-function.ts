/**
 * The model as a DuckDB scalar function, for the DuckDB way of batch prediction: DuckDB calls it
 * on each chunk of 2,048 rows inside the COPY that writes the output, synchronously on this
 * thread, while its own threads read and write.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import type { LoadedBundle } from '../bundle/load.js';
import { isNumeric } from '../data/column-types.js';
import { sqlIdent, sqlString } from '../data/duckdb.js';
import type { RawColumn } from '../features/transform.js';
import { addedColumns } from './csv-fast-block.js';

/** The scalar function's column of a classifier's outputs, split into the added columns. */
const OUTPUTS = '__atelier_outputs';

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

/** The model's function, registered on a connection. */
export interface PredictFunction {
  /** SELECT every column of `from` and the added ones. */
  select(from: string): string;
  /** The model's first error in a chunk, if any (DuckDB reports it as its own). */
  failure(): unknown;
  reset(): void;
}

/**
 * Registers the model as the scalar function atelier_predict over DuckDB's data chunks (2,048
 * rows), run synchronously on this thread while DuckDB's threads read and write: the output's
 * COPY predicts as it goes (no second table, no join). `select(from)` is the SELECT of every
 * column of `from` plus the added ones; a classifier's function gives [class index, probability
 * per class], split into its columns there.
 */
export async function registerPredictFunction(con: DuckDBConnection, bundle: LoadedBundle, onRows: (rows: number) => void): Promise<PredictFunction> {
  const { DuckDBScalarFunction, DOUBLE, VARCHAR, LIST, listValue } = await import('@duckdb/node-api');
  const inputs = bundle.transform.inputs;
  const classes = bundle.manifest.classes;
  const added = addedColumns(classes);
  let failure: unknown;
  con.registerScalarFunction(
    DuckDBScalarFunction.create({
      name: 'atelier_predict',
      returnType: classes ? LIST(DOUBLE) : DOUBLE,
      parameterTypes: inputs.map(({ dtype }) => (isNumeric(dtype) ? DOUBLE : VARCHAR)),
      mainFunction: (info, chunk, output) => {
        try {
          const n = chunk.rowCount;
          const columns = new Map<string, RawColumn>();
          inputs.forEach(({ name, dtype }, j) => {
            const vector = chunk.getColumnVector(j);
            if (isNumeric(dtype)) {
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
  const argument = (name: string, dtype: (typeof inputs)[number]['dtype']) =>
    isNumeric(dtype) ? `CAST(${sqlIdent(name)} AS DOUBLE)` : dtype === 'bool' ? `CAST(CAST(${sqlIdent(name)} AS BOOLEAN) AS VARCHAR)` : `CAST(${sqlIdent(name)} AS VARCHAR)`;
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
