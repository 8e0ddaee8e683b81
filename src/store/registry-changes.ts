import { sql, type Kysely } from '#kysely';
import type pg from 'pg';

/**
 * How servers hear that the registry changed (an alias moved, a version was added) without
 * replaying the event log: `bump` runs inside the writing transaction, so the news goes out when
 * it commits; `watch` calls back on news from any process on the same store.
 */
export interface RegistryChanges {
  bump(db: Kysely<any>): Promise<void>;
  watch(root: Kysely<any>, onChange: () => void, checkMs: number): Promise<() => Promise<void>>;
}

/** SQLite: a one-row counter, bumped by each change and read every `checkMs` (one indexed read). */
export const sqliteChanges: RegistryChanges = {
  async bump(db) {
    await db.updateTable('registry_changes').set({ counter: sql`counter + 1` }).where('id', '=', 1).execute();
  },
  async watch(root, onChange, checkMs) {
    const read = async () => Number((await root.selectFrom('registry_changes').select('counter').where('id', '=', 1).executeTakeFirst())?.counter ?? 0);
    let seen = await read();
    let checking = false;
    const timer = setInterval(() => {
      if (checking) return;
      checking = true;
      read()
        .then((now) => {
          if (now !== seen) {
            seen = now;
            onChange();
          }
        })
        .catch(() => {
          /* closing, or busy for a moment: the next check tries again */
        })
        .finally(() => (checking = false));
    }, checkMs);
    timer.unref();
    return async () => clearInterval(timer);
  },
};

const CHANNEL = 'atelier_registry';

/**
 * PostgreSQL: NOTIFY inside the writing transaction (delivered on commit, in commit order) and a
 * LISTEN on a connection of its own. If that connection drops (the server restarted), it
 * reconnects and calls back once, since news may have been missed meanwhile.
 */
export function postgresChanges(url: string): RegistryChanges {
  return {
    async bump(db) {
      await sql`select pg_notify(${CHANNEL}, '')`.execute(db);
    },
    async watch(_root, onChange, checkMs) {
      let stopped = false;
      let client: pg.Client | undefined;
      let retry: NodeJS.Timeout | undefined;
      const { Client } = (await import('pg')).default;
      const connect = async (): Promise<void> => {
        const next = new Client({ connectionString: url });
        next.on('notification', () => onChange());
        next.on('error', () => reconnect());
        next.on('end', () => reconnect());
        await next.connect();
        await next.query(`LISTEN ${CHANNEL}`);
        client = next;
      };
      const reconnect = () => {
        if (stopped || retry) return;
        client = undefined;
        retry = setTimeout(() => {
          retry = undefined;
          connect().then(onChange, reconnect);
        }, Math.max(checkMs, 250));
        retry.unref();
      };
      await connect();
      return async () => {
        stopped = true;
        if (retry) clearTimeout(retry);
        await client?.end().catch(() => {});
      };
    },
  };
}
