import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { openPostgresStore, openStore } from '../src/store/open.js';
import { describeMetadataStore } from './store-contract.js';
import { freePort } from './helpers.js';
import { startPostgres, type TestPostgres } from './services/postgres.js';

/** One throwaway cluster for this file: the contract and the connection faults share it (stopped at the end). */
let shared: Promise<TestPostgres | undefined> | undefined;
const cluster = () => (shared ??= startPostgres());

describeMetadataStore('PostgreSQL', async () => {
  const pg = await cluster();
  if (!pg) {
    console.log('# PostgreSQL is not installed (no /usr/lib/postgresql/N/bin, no ATELIER_TEST_PG_URL): skipping');
    return undefined;
  }
  return {
    fresh: async () => {
      const url = await pg.newDatabase();
      return { open: () => openPostgresStore(url) };
    },
  };
});

describe('PostgreSQL store: connecting and migrating', () => {
  let pg: TestPostgres | undefined;
  before(async () => {
    pg = await cluster();
  });

  test('two processes starting at once on an empty database migrate it once', { timeout: 60_000 }, async (t) => {
    if (!pg) return t.skip('PostgreSQL is not available here');
    const url = await pg.newDatabase();
    const stores = await Promise.all([openStore(url), openStore(url), openStore(url)]);
    try {
      await stores[0]!.addModelVersion({ model: 'm', runId: null, bundleUri: 'b', bundleHash: 'h', metrics: {}, createdAt: 't', createdBy: 'ada', description: null });
      assert.equal((await stores[2]!.getModelVersion('m'))!.version, 1);
    } finally {
      for (const s of stores) await s.close();
    }
  });

  test('an unreachable server, a missing database and an unknown user each give one line naming the URL, password hidden', { timeout: 60_000 }, async (t) => {
    if (!pg) return t.skip('PostgreSQL is not available here');
    const port = await freePort();
    await assert.rejects(openStore(`postgres://ada:s3cret@127.0.0.1:${port}/atelier`), (e: any) => {
      assert.equal(e.code, 'STORE_UNREACHABLE');
      assert.match(e.message, new RegExp(`^metadata store postgres://ada:\\*\\*\\*@127\\.0\\.0\\.1:${port}/atelier: cannot connect to PostgreSQL at 127\\.0\\.0\\.1:${port}`));
      assert.doesNotMatch(e.message, /s3cret|\n/);
      return true;
    });
    const missing = new URL(pg.url);
    missing.pathname = '/no_such_db';
    missing.password = 'hunter2';
    await assert.rejects(openStore(missing.toString()), (e: any) => {
      assert.equal(e.code, 'STORE_DATABASE_MISSING');
      assert.match(e.message, /database "no_such_db" does not exist on 127\.0\.0\.1:\d+; create it \(createdb no_such_db\)/);
      assert.doesNotMatch(e.message, /hunter2/);
      return true;
    });
    const stranger = new URL(pg.url);
    stranger.username = 'nobody_here';
    await assert.rejects(openStore(stranger.toString()), (e: any) => {
      assert.equal(e.code, 'STORE_AUTH_FAILED');
      assert.match(e.message, /PostgreSQL refused user "nobody_here"/);
      return true;
    });
  });

  // Last: it stops the shared server for a while.
  test('a server that goes away under an open store: STORE_UNREACHABLE naming it; back once it returns', { timeout: 120_000 }, async (t) => {
    if (!pg) return t.skip('PostgreSQL is not available here');
    if (process.env.ATELIER_TEST_PG_URL) return t.skip('the shared server of ATELIER_TEST_PG_URL is not ours to stop');
    const store = await openStore(await pg.newDatabase());
    try {
      await store.appendEvent({ kind: 'a', subject: 's', details: {} });
      pg.stopServer();
      await assert.rejects(store.listEvents(), (e: any) => e.code === 'STORE_UNREACHABLE' && /^metadata store postgres:\/\/.*: cannot connect to PostgreSQL at 127\.0\.0\.1:\d+/.test(e.message));
      pg.startServer();
      assert.equal((await store.listEvents()).items.length, 1);
    } finally {
      await store.close();
    }
  });
});

after(async () => {
  await (await shared)?.stop();
});
