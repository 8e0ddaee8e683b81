import { rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { AtelierError } from '../core/errors.js';
import { currentUser, newId, nowIso } from '../core/identity.js';
import type { AtelierContext } from '../store/context.js';
import { allItems } from '../store/pages.js';
import type { DatasetVersionRecord } from '../store/types.js';
import { contentHashOf, loadSource, resolveSource } from './sources.js';

import { sqlIdent, sqlString, withDuckDb } from './duckdb.js';

const DATASET_NAME = /^[A-Za-z][A-Za-z0-9_.-]*$/;

export interface ImportResult {
  version: DatasetVersionRecord;
  /** True when identical content was imported before and that version is returned. */
  existing: boolean;
}

/**
 * Imports a file, glob or folder (CSV/TSV, gzipped or not; Parquet; JSON Lines) as a new version
 * of dataset `name`. The version is keyed by the sha256 of the bytes read: importing identical
 * content again returns the earlier version without reading it. The rows are
 * kept as Parquet in the artifact store. Nothing is recorded unless the whole file reads cleanly.
 */
export async function importDataset(ctx: AtelierContext, file: string, name: string): Promise<ImportResult> {
  if (!DATASET_NAME.test(name)) {
    throw new AtelierError('USAGE', `dataset name "${name}" is not allowed; expected letters, digits, _ . - starting with a letter`, {
      field: 'name',
    });
  }
  const source = resolveSource(file);
  const contentHash = await contentHashOf(source);
  const previous = await ctx.store.findDatasetVersionByHash(name, contentHash);
  if (previous) return { version: previous, existing: true };
  const temp = ctx.artifacts.tempPath('.parquet');
  const { columns, rowCount, parquet } = await withDuckDb(
    async (con) => {
      try {
        const table = await loadSource(con, source, 'input', temp);
        if (!table.parquet) await con.run(`COPY ${sqlIdent(table.table)} TO ${sqlString(temp)} (FORMAT parquet, COMPRESSION zstd)`);
        return { ...table, parquet: temp };
      } catch (error) {
        // A failed import leaves no file behind.
        rmSync(temp, { force: true });
        throw error;
      }
    },
    // Bounded memory: DuckDB spills to the artifact store's temp folder beyond this.
    { memoryLimit: '1GB', tempDirectory: ctx.artifacts.tempPath('-duckdb') },
  );
  const path = source.files.length === 1 ? source.files[0]! : resolve(source.given);
  const stored = await ctx.artifacts.putFile(parquet, '.parquet');
  return ctx.store.transaction(async (tx) => {
    // Numbered atomically by the store; the same content imported meanwhile by another process is that version.
    const { record, created } = await tx.addDatasetVersion({
      id: newId('ds'),
      dataset: name,
      contentHash,
      rowCount,
      columns,
      source: path,
      artifact: stored.key,
      createdAt: nowIso(),
      createdBy: currentUser(),
    });
    if (!created) return { version: record, existing: true };
    await tx.appendEvent({
      kind: 'dataset.imported',
      subject: `${name}@${record.version}`,
      details: { source: path, files: source.files.length, format: source.format, rows: rowCount, columns: columns.length, contentHash },
    });
    return { version: record, existing: false };
  });
}

/** Resolves "name" or "name@version" to a stored dataset version. */
export async function resolveDataset(ctx: AtelierContext, name: string, selector?: string): Promise<DatasetVersionRecord> {
  let version: number | undefined;
  if (selector !== undefined && selector !== 'latest') {
    version = Number(selector);
    if (!Number.isInteger(version) || version < 1) {
      throw new AtelierError('DATASET_NOT_FOUND', `dataset version "${selector}" of ${name} is not a version number`, { field: 'version' });
    }
  }
  const found = await ctx.store.getDatasetVersion(name, version);
  if (!found) {
    const any = await ctx.store.getDatasetVersion(name);
    throw new AtelierError(
      'DATASET_NOT_FOUND',
      any
        ? `dataset ${name} has no version ${selector}; the latest is ${any.version}`
        : `no dataset named "${name}"; import one with \`atelier data import FILE --name ${name}\``,
      { field: 'dataset' },
    );
  }
  return found;
}

/** Reads numeric columns of a dataset version as Float64Arrays (NULL becomes NaN). */
export async function readNumericColumns(
  ctx: AtelierContext,
  version: DatasetVersionRecord,
  names: string[],
): Promise<Map<string, Float64Array>> {
  const path = await ctx.artifacts.localPath(version.artifact);
  return withDuckDb(async (con) => {
    const select = names.map((n) => `CAST(${sqlIdent(n)} AS DOUBLE) AS ${sqlIdent(n)}`).join(', ');
    const result = await con.runAndReadAll(`SELECT ${select} FROM read_parquet(${sqlString(path)})`);
    const columns = result.getColumnsJS();
    const out = new Map<string, Float64Array>();
    names.forEach((name, i) => {
      const values = columns[i]!;
      const array = new Float64Array(values.length);
      for (let r = 0; r < values.length; r++) {
        const v = values[r];
        array[r] = v === null || v === undefined ? Number.NaN : Number(v);
      }
      out.set(name, array);
    });
    return out;
  });
}

/** The first `n` rows of a dataset version, as plain values (bigints become numbers). */
export async function headRows(ctx: AtelierContext, version: DatasetVersionRecord, n: number): Promise<Record<string, unknown>[]> {
  const path = await ctx.artifacts.localPath(version.artifact);
  return withDuckDb(async (con) => {
    const result = await con.runAndReadAll(`SELECT * FROM read_parquet(${sqlString(path)}) LIMIT ${Math.max(0, Math.floor(n))}`);
    return result.getRowObjectsJS().map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, plainValue(v)])));
  });
}

export interface DatasetSummary {
  name: string;
  versions: number;
  latest: DatasetVersionRecord;
}

export async function listDatasets(ctx: AtelierContext): Promise<DatasetSummary[]> {
  const byName = new Map<string, DatasetSummary>();
  for (const v of await allItems((page) => ctx.store.listDatasetVersions({}, page))) {
    const entry = byName.get(v.dataset);
    byName.set(v.dataset, { name: v.dataset, versions: (entry?.versions ?? 0) + 1, latest: v });
  }
  return [...byName.values()];
}

/** DuckDB values as JSON-friendly JS: bigints as numbers when exact, dates as ISO text. */
export function plainValue(value: unknown): unknown {
  if (typeof value === 'bigint') return value >= Number.MIN_SAFE_INTEGER && value <= Number.MAX_SAFE_INTEGER ? Number(value) : String(value);
  if (value instanceof Date) return value.toISOString();
  if (value !== null && typeof value === 'object') return String(value);
  return value;
}
