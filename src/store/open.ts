import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { KyselyMetadataStore } from './kysely-store.js';
import type { MetadataStore } from './metadata-store.js';

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
  const database = keepRollbackCause(new Database(path));
  // WAL lets the server read while a training run writes; busy_timeout waits out short locks.
  database.pragma('journal_mode = WAL');
  database.pragma('busy_timeout = 5000');
  database.pragma('foreign_keys = ON');
  const db = new Kysely<any>({ dialect: new SqliteDialect({ database }) });
  return KyselyMetadataStore.create(db, 'sqlite');
}

/** Opens the metadata store a URL names: `sqlite:/abs/path` (embedded default) or `postgres://...`. */
export async function openStore(url: string): Promise<MetadataStore> {
  if (url.startsWith('sqlite:')) return openSqliteStore(url.slice('sqlite:'.length));
  throw new Error(`metadata store ${url}: only sqlite: is supported so far`);
}
