import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { KyselyMetadataStore } from './kysely-store.js';
import type { MetadataStore } from './metadata-store.js';

/** Opens (and migrates) the SQLite metadata database of a workspace. */
export async function openSqliteStore(path: string): Promise<MetadataStore> {
  mkdirSync(dirname(path), { recursive: true });
  const database = new Database(path);
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
