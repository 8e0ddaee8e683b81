import {
  CompiledQuery,
  SqliteDialect,
  SqliteDriver,
  type DatabaseConnection,
  type Driver,
  type QueryResult,
  type SqliteDialectConfig,
} from '#kysely';
import { AtelierError } from '../core/errors.js';

/** How long a write waits for SQLite's write lock (busy_timeout) before the transaction is tried again. */
export const SQLITE_BUSY_TIMEOUT_MS = 5000;

/** better-sqlite3's error for a lock held past the busy timeout (SQLITE_BUSY and its extended codes). */
function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  return typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'));
}

/** A connection whose lock timeouts come out as STORE_BUSY (retryable, documented), not as an internal error. */
class BusyAwareConnection implements DatabaseConnection {
  constructor(
    private readonly inner: DatabaseConnection,
    private readonly location: string,
  ) {}

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    try {
      return await this.inner.executeQuery<R>(query);
    } catch (error) {
      if (!isBusy(error)) throw error;
      throw new AtelierError(
        'STORE_BUSY',
        `the metadata store ${this.location} is busy: other processes held its write lock past the ${SQLITE_BUSY_TIMEOUT_MS / 1000} s wait; retry the command`,
        { store: this.location },
      );
    }
  }

  streamQuery<R>(query: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    return this.inner.streamQuery<R>(query, chunkSize);
  }
}

/**
 * Kysely's SQLite driver with write transactions that start with BEGIN IMMEDIATE: the write lock
 * is taken (or waited for, up to busy_timeout) at the start, so a transaction that read first can
 * never fail to upgrade to a writer halfway (WAL's SQLITE_BUSY_SNAPSHOT, which no wait cures).
 */
class ImmediateSqliteDriver extends SqliteDriver {
  constructor(
    config: SqliteDialectConfig,
    private readonly location: string,
  ) {
    super(config);
  }

  override async acquireConnection(): Promise<DatabaseConnection> {
    return new BusyAwareConnection(await super.acquireConnection(), this.location);
  }

  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

export class ImmediateSqliteDialect extends SqliteDialect {
  constructor(
    private readonly settings: SqliteDialectConfig,
    private readonly location: string,
  ) {
    super(settings);
  }

  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.settings, this.location);
  }
}
