import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, PostgresDialect, type PostgresPool, type PostgresPoolClient } from '#kysely';
import type { Pool } from 'pg';
import { AtelierError } from '../core/errors.js';
import { redactUrl } from '../core/workspace.js';
import { KyselyMetadataStore } from './kysely-store.js';
import type { MetadataStore } from './metadata-store.js';
import { postgresChanges, sqliteChanges } from './registry-changes.js';
import { ImmediateSqliteDialect, SQLITE_BUSY_TIMEOUT_MS } from './sqlite-dialect.js';

/** A statement that does nothing, for a ROLLBACK with nothing to roll back. */
const NOTHING = { reader: false, run: () => ({ changes: 0, lastInsertRowid: 0 }) };

/**
 * SQLite rolls a transaction back by itself on some errors (SQLITE_FULL, some SQLITE_IOERR): the
 * ROLLBACK that follows then fails with "cannot rollback - no transaction is active" and replaces
 * the error that caused it, so a full disk would surface as a failed rollback. A ROLLBACK with no
 * transaction open is skipped, and the cause is what the caller sees.
 */
function keepRollbackCause(database: Database.Database): Database.Database {
  const prepare = database.prepare.bind(database);
  database.prepare = ((source: string) =>
    !database.inTransaction && /^\s*rollback\s*;?\s*$/i.test(source) ? NOTHING : prepare(source)) as unknown as typeof database.prepare;
  return database;
}

/** Opens (and migrates) the SQLite metadata database of a workspace. */
export async function openSqliteStore(path: string): Promise<MetadataStore> {
  mkdirSync(dirname(path), { recursive: true });
  const database = keepRollbackCause(new Database(path, { timeout: SQLITE_BUSY_TIMEOUT_MS }));
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

/** The server shut down, crashed, or the connection broke: errors of a lost connection, not of a query. */
function connectionLost(error: unknown): boolean {
  const { code, message } = error as { code?: string; message?: string };
  return (
    (typeof code === 'string' && (code.startsWith('08') || code.startsWith('57P') || ['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT'].includes(code))) ||
    /Connection terminated|connection is closed/i.test(message ?? '')
  );
}

/**
 * The pool as Kysely sees it, with a lost server reported as the same one line as at open
 * (STORE_UNREACHABLE, the URL redacted) instead of an internal error; a connection that broke
 * is dropped from the pool, so the next query connects afresh.
 */
function reportingPool(pool: Pool, url: string): PostgresPool {
  return {
    async connect() {
      const client = await pool.connect().catch((error: unknown) => Promise.reject(postgresConnectError(error, url)));
      let broken = false;
      const query = (text: unknown, parameters?: unknown[]) => {
        if (typeof text !== 'string') return client.query(text as never);
        return client.query(text, parameters).catch((error: unknown) => {
          if (!connectionLost(error)) throw error;
          broken = true;
          throw postgresConnectError(error, url);
        });
      };
      return { query, release: () => client.release(broken || undefined) } as unknown as PostgresPoolClient;
    },
    end: () => pool.end(),
  };
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
  const db = new Kysely<any>({ dialect: new PostgresDialect({ pool: reportingPool(pool, url) }) });
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
