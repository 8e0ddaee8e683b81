import { rmSync } from 'node:fs';
import type { DuckDBConnection } from '@duckdb/node-api';
import { THREADS_ENV, threadBudget } from '../core/threads.js';

/** A private in-memory DuckDB for one job; closed when the job ends. */
export async function withDuckDb<T>(
  /** `connect` opens another connection to the same database (closed with it). */
  work: (con: DuckDBConnection, connect: () => Promise<DuckDBConnection>) => Promise<T>,
  options: { threads?: number; memoryLimit?: string; tempDirectory?: string } = {},
): Promise<T> {
  // Loaded on first use, so commands that never read data start faster.
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const settings: Record<string, string> = {};
  // A job with a thread budget keeps DuckDB to it too (DuckDB otherwise takes every core).
  const threads = options.threads ?? (process.env[THREADS_ENV] ? threadBudget() : undefined);
  if (threads) settings.threads = String(threads);
  if (options.memoryLimit) settings.memory_limit = options.memoryLimit;
  if (options.tempDirectory) settings.temp_directory = options.tempDirectory;
  const instance = await DuckDBInstance.create(':memory:', settings);
  const con = await instance.connect();
  const others: DuckDBConnection[] = [];
  const connect = async () => {
    const other = await instance.connect();
    others.push(other);
    return other;
  };
  try {
    return await work(con, connect);
  } finally {
    for (const other of others) other.closeSync();
    con.closeSync();
    instance.closeSync();
    if (options.tempDirectory) rmSync(options.tempDirectory, { recursive: true, force: true });
  }
}

/** Quotes a string as a SQL literal. */
export function sqlString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** Quotes an identifier (column names may hold spaces or quotes). */
export function sqlIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
