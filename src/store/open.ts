import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, PostgresDialect } from 'kysely';
import { AtelierError } from '../core/errors.js';
import { redactUrl } from '../core/workspace.js';
import { KyselyMetadataStore } from './kysely-store.js';
import type { MetadataStore } from './metadata-store.js';
import { postgresChanges, sqliteChanges } from './registry-changes.js';
import { ImmediateSqliteDialect, SQLITE_BUSY_TIMEOUT_MS } from './sqlite-dialect.js';

/** Opens (and migrates) the SQLite metadata database of a workspace. */
export async function openSqliteStore(path: string): Promise<MetadataStore> {
  mkdirSync(dirname(path), { recursive: true });
  const database = new Database(path, { timeout: SQLITE_BUSY_TIMEOUT_MS });
  // WAL lets the server read while a training run writes; busy_timeout waits out short locks.
  database.pragma('journal_mode = WAL');
  database.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
  database.pragma('foreign_keys = ON');
  const db = new Kysely<any>({ dialect: new ImmediateSqliteDialect({ database }, `sqlite:${path}`) });
  try {
    return await KyselyMetadataStore.create(db, 'sqlite', sqliteChanges);
  } catch (error) {
    await db.destroy();
    throw error;
  }
}

/** One line naming the store (password redacted) and what went wrong connecting to it. */
export function postgresConnectError(error: unknown, url: string): AtelierError {
  const e = error as { code?: string; message?: string };
  const where = redactUrl(url);
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  const host = `${parsed?.hostname || 'localhost'}:${parsed?.port || '5432'}`;
  const database = decodeURIComponent(parsed?.pathname.slice(1) ?? '') || '(default)';
  const user = decodeURIComponent(parsed?.username ?? '') || '(default)';
  const reason = e?.message ?? String(error);
  if (e?.code === '28P01' || e?.code === '28000') {
    return new AtelierError('STORE_AUTH_FAILED', `metadata store ${where}: PostgreSQL refused user "${user}" (${reason}); check the user and password in the store URL`, {
      store: where,
    });
  }
  if (e?.code === '3D000') {
    return new AtelierError('STORE_DATABASE_MISSING', `metadata store ${where}: database "${database}" does not exist on ${host}; create it (createdb ${database}) or fix the URL`, {
      store: where,
    });
  }
  return new AtelierError('STORE_UNREACHABLE', `metadata store ${where}: cannot connect to PostgreSQL at ${host} (${reason}); check that it runs there and the host and port are right`, {
    store: where,
  });
}

/** Opens (and migrates) a PostgreSQL metadata store: the same Kysely store on a pg.Pool. */
export async function openPostgresStore(url: string): Promise<MetadataStore> {
  // Loaded only for PostgreSQL: an embedded workspace's commands start without it.
  const { default: pg } = await import('pg');
  const pool = new pg.Pool({ connectionString: url, max: 10, connectionTimeoutMillis: 10_000 });
  // An idle connection dropped by the server (a restart) must not end the process; the next query reconnects.
  pool.on('error', () => {});
  try {
    (await pool.connect()).release();
  } catch (error) {
    await pool.end().catch(() => {});
    throw postgresConnectError(error, url);
  }
  const db = new Kysely<any>({ dialect: new PostgresDialect({ pool }) });
  try {
    return await KyselyMetadataStore.create(db, 'postgres', postgresChanges(url));
  } catch (error) {
    await db.destroy();
    throw error;
  }
}

/** Opens the metadata store a URL names: `sqlite:/abs/path` (embedded default) or `postgres://...`. */
export async function openStore(url: string): Promise<MetadataStore> {
  if (url.startsWith('sqlite:')) return openSqliteStore(url.slice('sqlite:'.length));
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) return openPostgresStore(url);
  throw new AtelierError('CONFIG_INVALID', `store URL "${redactUrl(url)}": expected sqlite:PATH or postgres://user@host:port/database`, { field: 'metadata.url' });
}
