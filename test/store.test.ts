import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect } from '#kysely';
import { migrationProvider } from '../src/store/migrations.js';
import { openSqliteStore } from '../src/store/open.js';
import { describeMetadataStore } from './store-contract.js';
import { tempDir } from './helpers.js';

describeMetadataStore('SQLite', async () => ({
  fresh: async () => {
    const path = join(tempDir(), '.atelier', 'metadata.db');
    return { open: () => openSqliteStore(path) };
  },
}));

test('migration 0004 fills verdicts, alias history and run parameters from an old workspace', { timeout: 60_000 }, async () => {
  const path = join(tempDir(), 'metadata.db');
  // A database as the previous release left it: migrated to 0003, history only in the event log.
  const old = new Kysely<any>({ dialect: new SqliteDialect({ database: new Database(path) }) });
  const { error } = await new Migrator({ db: old, provider: migrationProvider('sqlite') }).migrateTo('0003_pipeline_metadata');
  assert.equal(error, undefined);
  const event = (seq: number, kind: string, subject: string, details: object) => ({
    seq,
    at: `2026-01-01T00:00:0${seq}.000Z`,
    user_name: 'ada',
    kind,
    subject,
    details_json: JSON.stringify(details),
  });
  await old
    .insertInto('events')
    .values([
      event(1, 'model.validated', 'housing@1', { model: 'housing', version: 1, blessed: true, checks: [] }),
      event(2, 'model.promoted', 'housing@1', { alias: 'production', previous: null, reason: null, blessed: true, forced: false }),
      event(3, 'model.validated', 'housing@2', { blessed: false }),
      event(4, 'model.validated', 'housing@2', { blessed: true }),
      event(5, 'model.promoted', 'housing@2', { alias: 'production', previous: 1, reason: 'better', blessed: true, forced: false }),
      event(6, 'model.rolled_back', 'housing@1', { alias: 'production', from: 2, to: 1, reason: 'regressed', by: 'ada', at: 't' }),
    ])
    .execute();
  await old
    .insertInto('dataset_versions')
    .values({ id: 'ds-1', dataset: 'housing', version: 1, content_hash: 'h', row_count: 1, columns_json: '[]', source: 's', artifact: 'a', created_at: 't', created_by: 'ada' })
    .execute();
  await old
    .insertInto('runs')
    .values({
      id: 'run-1',
      model: 'housing',
      status: 'finished',
      config_json: '{}',
      config_hash: 'c',
      dataset_version_id: 'ds-1',
      params_json: JSON.stringify({ family: 'gbdt', split: { seed: 7 } }),
      started_at: 't',
      ended_at: 't',
      user_name: 'ada',
      host: 'lab',
      error: null,
    })
    .execute();
  await old.destroy();

  const store = await openSqliteStore(path);
  try {
    assert.equal((await store.getLatestVerdict('housing', 2))!.blessed, true);
    assert.deepEqual((await store.getLatestVerdict('housing', 1))!.details, { model: 'housing', version: 1, blessed: true, checks: [] });
    const moves = (await store.listAliasMoves({ model: 'housing', alias: 'production' })).items;
    assert.deepEqual(
      moves.map((m) => [m.kind, m.from, m.to, m.reason, m.user, m.at]),
      [
        ['promoted', null, 1, null, 'ada', '2026-01-01T00:00:02.000Z'],
        ['promoted', 1, 2, 'better', 'ada', '2026-01-01T00:00:05.000Z'],
        ['rolled_back', 2, 1, 'regressed', 'ada', '2026-01-01T00:00:06.000Z'],
      ],
    );
    assert.deepEqual((await store.listRuns({ param: { key: 'split.seed', equals: 7 } })).items.map((r) => r.id), ['run-1']);
    assert.equal((await store.listEvents()).items.length, 6, 'the event log stays as it was');
  } finally {
    await store.close();
  }
});

test('SQLite: a write lock held past the busy wait ends in STORE_BUSY (retryable), never an internal error', { timeout: 60_000 }, async () => {
  const path = join(tempDir(), 'metadata.db');
  const store = await openSqliteStore(path);
  const holder = new Database(path);
  try {
    holder.exec('BEGIN IMMEDIATE');
    await assert.rejects(
      store.transaction((tx) => tx.appendEvent({ kind: 'x', subject: 'y', details: {} })),
      (e: any) => e.code === 'STORE_BUSY' && /is busy: .*; retry the command/.test(e.message) && e.message.includes(path),
    );
    holder.exec('COMMIT');
    await store.transaction((tx) => tx.appendEvent({ kind: 'x', subject: 'y', details: {} }));
    assert.equal((await store.listEvents()).items.length, 1);
  } finally {
    holder.close();
    await store.close();
  }
});
