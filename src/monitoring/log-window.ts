import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { AtelierError } from '../core/errors.js';
import { sqlIdent, sqlString, withDuckDb } from '../data/duckdb.js';
import { computeStatistics, type DatasetStatistics } from '../data/statistics.js';
import type { AtelierContext } from '../store/context.js';

/** Columns the server adds to each logged instance (not features). */
export const LOG_COLUMNS = ['model', 'version', 'request_id', 'time', 'probability'];

/** The JSON Lines files of a prediction log: DIR/<model>/ when it exists, else DIR itself. */
export function logFiles(dir: string, model: string): string[] {
  const root = resolve(dir);
  const folder = existsSync(join(root, model)) ? join(root, model) : root;
  if (!existsSync(folder) || !statSync(folder).isDirectory()) throw new AtelierError('FILE_NOT_FOUND', `${dir}: no such folder`, { file: dir });
  return readdirSync(folder)
    .filter((f) => /\.(jsonl|ndjson)$/.test(f))
    .sort()
    .map((f) => join(folder, f));
}

/** The SQL source of all logged instances of a model (one row per instance). */
export function logSource(files: string[]): string {
  return `read_json_auto([${files.map(sqlString).join(', ')}], format = 'newline_delimited', union_by_name = true)`;
}

export interface LogWindow {
  rows: number;
  /** Time of the first and last instance in the window (ISO), null when empty. */
  from: string | null;
  to: string | null;
  statistics: DatasetStatistics | null;
}

/**
 * Statistics of the instances a version answered after `since` (ISO time, exclusive): the feature
 * columns and `prediction`, in DuckDB, as dataset statistics so the drift comparators apply;
 * numeric histograms on `boundaries` where given (see StatisticsOptions.boundaries).
 */
export async function logWindowStatistics(
  ctx: AtelierContext,
  files: string[],
  model: string,
  version: number,
  since: string | null,
  boundaries?: Record<string, number[]>,
): Promise<LogWindow> {
  if (files.length === 0) return { rows: 0, from: null, to: null, statistics: null };
  const temp = ctx.artifacts.tempPath('.parquet');
  try {
    const window = await withDuckDb(async (con) => {
      // The log's times are ISO text; DuckDB may read them as timestamps: compare them as ISO text.
      const time = `strftime(CAST("time" AS TIMESTAMP), '%Y-%m-%dT%H:%M:%S.%gZ')`;
      const where = `model = ${sqlString(model)} AND CAST(version AS BIGINT) = ${version}${since ? ` AND ${time} > ${sqlString(since)}` : ''}`;
      const described = (await con.runAndReadAll(`DESCRIBE SELECT * FROM ${logSource(files)}`)).getRowObjectsJS().map((r) => String(r.column_name));
      const columns = described.filter((c) => !LOG_COLUMNS.includes(c));
      const summary = (
        await con.runAndReadAll(`SELECT count(*) AS n, min(${time}) AS first, max(${time}) AS last FROM ${logSource(files)} WHERE ${where}`)
      ).getRowObjectsJS()[0]!;
      const rows = Number(summary.n);
      if (rows > 0) {
        await con.run(`COPY (SELECT ${columns.map(sqlIdent).join(', ')} FROM ${logSource(files)} WHERE ${where}) TO ${sqlString(temp)} (FORMAT parquet)`);
      }
      return { rows, from: rows ? String(summary.first) : null, to: rows ? String(summary.last) : null };
    });
    return { ...window, statistics: window.rows > 0 ? await computeStatistics(temp, undefined, { boundaries }) : null };
  } finally {
    rmSync(temp, { force: true });
  }
}
