import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { MetadataStore } from '../src/store/metadata-store.js';
import { allItems } from '../src/store/pages.js';
import type { DatasetVersionRecord, NewDatasetVersion, NewModelVersion, RunRecord } from '../src/store/types.js';

/**
 * The contract every MetadataStore implementation passes, written once and run against real
 * databases: test/store.test.ts (SQLite files), test/store-postgres.test.ts (PostgreSQL).
 */
export interface StoreUnderTest {
  /** Opens a handle on a fresh, empty database (each call: another database). */
  fresh(): Promise<Database>;
  /** Ends what `before` started (a throwaway cluster). */
  stop?(): Promise<void>;
}

/** One database: `open()` gives another handle on it (a second process, in effect). */
export interface Database {
  open(): Promise<MetadataStore>;
}

const T = { timeout: 60_000 };

const dataset = (hash: string): NewDatasetVersion => ({
  id: `ds-${hash}`,
  dataset: 'housing',
  contentHash: hash,
  rowCount: 506,
  columns: [{ name: 'RM', type: 'float', sourceType: 'DOUBLE' }],
  source: '/data/housing.csv',
  artifact: `sha256/ab/${hash}.parquet`,
  createdAt: '2026-01-01T00:00:00.000Z',
  createdBy: 'ada',
});

const run = (id: string, datasetVersionId: string, extra: Partial<RunRecord> = {}): RunRecord => ({
  id,
  model: 'housing',
  status: 'running',
  config: { name: 'housing' },
  configHash: 'c0ffee',
  datasetVersionId,
  parentRunId: null,
  experiment: null,
  params: { seed: 42 },
  startedAt: '2026-01-01T00:00:01.000Z',
  endedAt: null,
  user: 'ada',
  host: 'lab',
  error: null,
  heartbeatAt: null,
  pid: null,
  ...extra,
});

const modelVersion = (runId: string | null, model = 'housing', n = 0): NewModelVersion => ({
  model,
  runId,
  bundleUri: `bundles/${model}-${n}`,
  bundleHash: `hash-${n}`,
  metrics: { rmse: 3 + n },
  createdAt: '2026-01-01T00:00:02.000Z',
  createdBy: 'ada',
  description: null,
});

/** Resolves once `condition()` holds (checked every 20 ms); fails after `ms` (a hang, not a timing bound). */
function until(condition: () => boolean, what: string, ms = 30_000): Promise<void> {
  return new Promise((done, fail) => {
    const started = Date.now();
    const timer = setInterval(() => {
      if (condition()) {
        clearInterval(timer);
        done();
      } else if (Date.now() - started > ms) {
        clearInterval(timer);
        fail(new Error(`timed out waiting for ${what}`));
      }
    }, 20);
  });
}

export function describeMetadataStore(name: string, make: () => Promise<StoreUnderTest | undefined>): void {
  describe(`metadata store contract (${name})`, () => {
    let backend: StoreUnderTest | undefined;
    before(async () => {
      backend = await make();
    });
    after(async () => {
      await backend?.stop?.();
    });

    /** A fresh database's store for one test, closed after; skips when the backend is absent. */
    async function withStore(t: { skip(message?: string): void }, work: (store: MetadataStore, db: Database) => Promise<void>) {
      if (!backend) return t.skip(`${name} is not available here`);
      const db = await backend.fresh();
      const store = await db.open();
      try {
        await work(store, db);
      } finally {
        await store.close();
      }
    }

    test('dataset versions: numbered by the store, latest, by number, by content hash; the same content is the same version', T, async (t) => {
      await withStore(t, async (store) => {
        const first = await store.addDatasetVersion(dataset('aaa'));
        const second = await store.addDatasetVersion(dataset('bbb'));
        assert.deepEqual([first.record.version, first.created, second.record.version, second.created], [1, true, 2, true]);
        const again = await store.addDatasetVersion({ ...dataset('aaa'), id: 'other' });
        assert.deepEqual([again.record.version, again.record.id, again.created], [1, 'ds-aaa', false]);
        assert.equal((await store.getDatasetVersion('housing'))!.version, 2);
        assert.deepEqual(await store.getDatasetVersion('housing', 1), { ...dataset('aaa'), version: 1, statistics: null } satisfies DatasetVersionRecord);
        assert.equal((await store.findDatasetVersionByHash('housing', 'bbb'))!.version, 2);
        assert.equal(await store.getDatasetVersion('nope'), undefined);
        assert.deepEqual((await store.listDatasetVersions()).items.map((d) => d.version), [1, 2]);
        assert.deepEqual((await store.listDatasetVersions({ dataset: 'iris' })).items, []);
      });
    });

    test('statistics are attached to a version; schemas are versioned per dataset', T, async (t) => {
      await withStore(t, async (store) => {
        await store.addDatasetVersion(dataset('aaa'));
        await store.setDatasetStatistics('ds-aaa', 'sha256/cd/stats.json');
        assert.equal((await store.getDatasetVersion('housing', 1))!.statistics, 'sha256/cd/stats.json');
        const schema = (n: number) => ({ dataset: 'housing', contentHash: `h${n}`, artifact: `sha256/ef/${n}.yaml`, source: 'inferred from housing@1', createdAt: 't', createdBy: 'ada' });
        assert.equal((await store.addDataSchema(schema(1))).version, 1);
        assert.equal((await store.addDataSchema(schema(2))).version, 2);
        assert.equal((await store.addDataSchema({ ...schema(3), dataset: 'iris' })).version, 1);
        assert.deepEqual(await store.getDataSchema('housing'), { ...schema(2), version: 2 });
        assert.deepEqual(await store.getDataSchema('housing', 1), { ...schema(1), version: 1 });
        assert.equal(await store.getDataSchema('wine'), undefined);
      });
    });

    test('runs with step metrics, finished in one update', T, async (t) => {
      await withStore(t, async (store) => {
        await store.addDatasetVersion(dataset('aaa'));
        await store.insertRun(run('run-1', 'ds-aaa'));
        const points = Array.from({ length: 450 }, (_v, i) => ({ key: 'train_rmse', step: i + 1, value: 10 / (i + 1) }));
        await store.logMetrics('run-1', points);
        await store.updateRun('run-1', { status: 'finished', endedAt: '2026-01-01T00:01:00.000Z' });
        const stored = await store.getRun('run-1');
        assert.equal(stored!.status, 'finished');
        assert.equal(stored!.endedAt, '2026-01-01T00:01:00.000Z');
        assert.deepEqual(stored!.params, { seed: 42 });
        assert.deepEqual(await store.getMetrics('run-1'), points);
        await store.updateRun('run-1', { status: 'killed' });
        assert.equal((await store.getRun('run-1'))!.status, 'killed');
      });
    });

    test('runs have a parent and an experiment: a study lists its trials', T, async (t) => {
      await withStore(t, async (store) => {
        await store.addDatasetVersion(dataset('aaa'));
        await store.putExperiment({ name: 'tune-housing', description: 'depth search', createdAt: 't0', createdBy: 'ada' });
        await store.putExperiment({ name: 'tune-housing', description: 'ignored: the first record stays', createdAt: 't1', createdBy: 'bob' });
        assert.equal((await store.getExperiment('tune-housing'))!.description, 'depth search');
        assert.deepEqual((await store.listExperiments()).items.map((e) => e.name), ['tune-housing']);
        await store.insertRun(run('study', 'ds-aaa', { experiment: 'tune-housing' }));
        for (let i = 0; i < 3; i++) {
          await store.insertRun(run(`trial-${i}`, 'ds-aaa', { parentRunId: 'study', experiment: 'tune-housing', startedAt: `2026-01-01T00:00:0${i + 2}.000Z` }));
        }
        assert.deepEqual((await store.listRuns({ parentRunId: 'study' })).items.map((r) => r.id), ['trial-0', 'trial-1', 'trial-2']);
        assert.equal((await store.getRun('trial-1'))!.parentRunId, 'study');
        assert.deepEqual((await store.listRuns({ experiment: 'tune-housing' })).items.length, 4);
        await assert.rejects(store.insertRun(run('orphan', 'ds-aaa', { parentRunId: 'no-such-run' })), /FOREIGN KEY|foreign key/i);
      });
    });

    test('typed run parameters are queryable: equal numbers, ranges, text, nested keys', T, async (t) => {
      await withStore(t, async (store) => {
        await store.addDatasetVersion(dataset('aaa'));
        const depths = [2, 4, 6, 8];
        for (const [i, depth] of depths.entries()) {
          await store.insertRun(
            run(`r${i}`, 'ds-aaa', { params: { family: i % 2 ? 'gbdt' : 'linear', max_depth: depth, split: { seed: i }, early: i === 0, tags: ['a'] }, startedAt: `t${i}` }),
          );
        }
        const ids = async (param: NonNullable<Parameters<MetadataStore['listRuns']>[0]>['param']) => (await store.listRuns({ param })).items.map((r) => r.id);
        assert.deepEqual(await ids({ key: 'max_depth', equals: 6 }), ['r2']);
        assert.deepEqual(await ids({ key: 'max_depth', atLeast: 4, atMost: 6 }), ['r1', 'r2']);
        assert.deepEqual(await ids({ key: 'family', equals: 'gbdt' }), ['r1', 'r3']);
        assert.deepEqual(await ids({ key: 'split.seed', equals: 3 }), ['r3']);
        assert.deepEqual(await ids({ key: 'early', equals: true }), ['r0']);
        assert.deepEqual(await ids({ key: 'tags', equals: 'a' }), []);
        // Updating the parameters re-indexes them.
        await store.updateRun('r0', { params: { family: 'linear', max_depth: 10 } });
        assert.deepEqual(await ids({ key: 'max_depth', atLeast: 9 }), ['r0']);
        assert.deepEqual(await ids({ key: 'early', equals: true }), []);
        assert.deepEqual((await store.listRuns({ model: 'housing', param: { key: 'family', equals: 'linear' } })).items.map((r) => r.id), ['r0', 'r2']);
      });
    });

    test('a transaction that fails leaves nothing behind', T, async (t) => {
      await withStore(t, async (store) => {
        await assert.rejects(
          store.transaction(async (tx) => {
            await tx.addDatasetVersion(dataset('aaa'));
            await tx.appendEvent({ kind: 'dataset.imported', subject: 'housing@1', details: {} });
            throw new Error('disk full');
          }),
          /disk full/,
        );
        assert.deepEqual((await store.listDatasetVersions()).items, []);
        assert.deepEqual((await store.listEvents()).items, []);
      });
    });

    test('model versions: numbered by the store; one version per run id; events append in order', T, async (t) => {
      await withStore(t, async (store) => {
        await store.addDatasetVersion(dataset('aaa'));
        await store.insertRun(run('run-1', 'ds-aaa'));
        await store.insertRun(run('run-2', 'ds-aaa'));
        const v1 = await store.addModelVersion(modelVersion('run-1', 'housing', 1));
        const v2 = await store.addModelVersion(modelVersion('run-2', 'housing', 2));
        const imported = await store.addModelVersion(modelVersion(null, 'housing', 3));
        assert.deepEqual([v1.record.version, v2.record.version, imported.record.version], [1, 2, 3]);
        const retried = await store.addModelVersion(modelVersion('run-1', 'housing', 9));
        assert.deepEqual([retried.created, retried.record.version, retried.record.bundleHash], [false, 1, 'hash-1']);
        assert.equal((await store.getModelVersion('housing'))!.version, 3);
        assert.deepEqual((await store.getModelVersion('housing', 1))!.metrics, { rmse: 4 });
        assert.equal((await store.addModelVersion(modelVersion(null, 'iris'))).record.version, 1);
        await store.appendEvent({ kind: 'a', subject: 's1', details: { n: 1 } });
        await store.appendEvent({ kind: 'b', subject: 's2', details: { n: 2 }, user: 'grace' });
        const events = (await store.listEvents()).items;
        assert.deepEqual(events.map((e) => [e.kind, e.subject, e.details]), [['a', 's1', { n: 1 }], ['b', 's2', { n: 2 }]]);
        assert.ok(events[0]!.seq < events[1]!.seq);
        assert.equal(events[1]!.user, 'grace');
        assert.deepEqual((await store.listEvents({ kind: 'b' })).items.map((e) => e.subject), ['s2']);
        assert.deepEqual((await store.listEvents({ subject: 's1' })).items.map((e) => e.kind), ['a']);
      });
    });

    test('aliases move with a history: from, to, reason, user, time; time travel by `until`', T, async (t) => {
      await withStore(t, async (store) => {
        for (let i = 1; i <= 3; i++) await store.addModelVersion(modelVersion(null, 'housing', i));
        await store.moveAlias({ kind: 'promoted', model: 'housing', alias: 'production', from: null, to: 1, reason: null, at: '2026-01-01T00:00:01.000Z' });
        await store.moveAlias({ kind: 'promoted', model: 'housing', alias: 'production', from: 1, to: 3, reason: 'better', at: '2026-01-01T00:00:03.000Z', user: 'grace' });
        await store.moveAlias({ kind: 'promoted', model: 'housing', alias: 'staging', from: null, to: 2, reason: null, at: '2026-01-01T00:00:04.000Z' });
        await store.moveAlias({ kind: 'rolled_back', model: 'housing', alias: 'production', from: 3, to: 1, reason: 'regressed', at: '2026-01-01T00:00:05.000Z' });
        assert.deepEqual(await store.getAlias('housing', 'production'), { model: 'housing', alias: 'production', version: 1, updatedAt: '2026-01-01T00:00:05.000Z' });
        assert.equal(await store.getAlias('housing', 'canary'), undefined);
        assert.deepEqual((await store.listAliases({ model: 'housing' })).items.map((a) => `${a.alias}=${a.version}`), ['production=1', 'staging=2']);
        assert.deepEqual((await store.listAliases({ model: ['housing', 'iris'], version: 2 })).items.map((a) => a.alias), ['staging']);
        assert.deepEqual((await store.listAliases({ model: [] })).items, []);
        const moves = (await store.listAliasMoves({ model: 'housing', alias: 'production' })).items;
        assert.deepEqual(
          moves.map((m) => [m.kind, m.from, m.to, m.reason]),
          [['promoted', null, 1, null], ['promoted', 1, 3, 'better'], ['rolled_back', 3, 1, 'regressed']],
        );
        assert.equal(moves[1]!.user, 'grace');
        assert.deepEqual((await store.listAliasMoves({ until: '2026-01-01T00:00:03.500Z' })).items.map((m) => m.to), [1, 3]);
      });
    });

    test('verdicts: the latest of a version wins', T, async (t) => {
      await withStore(t, async (store) => {
        assert.equal(await store.getLatestVerdict('housing', 1), undefined);
        await store.addVerdict({ model: 'housing', version: 1, blessed: false, details: { checks: ['rmse too high'] } });
        const second = await store.addVerdict({ model: 'housing', version: 1, blessed: true, details: { checks: [] }, user: 'grace' });
        await store.addVerdict({ model: 'housing', version: 2, blessed: false, details: {} });
        const latest = await store.getLatestVerdict('housing', 1);
        assert.deepEqual([latest!.blessed, latest!.details, latest!.user, latest!.seq], [true, { checks: [] }, 'grace', second.seq]);
      });
    });

    test('pagination: every list pages by an opaque cursor, without repeats or gaps', T, async (t) => {
      await withStore(t, async (store) => {
        for (const model of ['a', 'b', 'c']) for (let i = 0; i < 9; i++) await store.addModelVersion(modelVersion(null, model, i));
        const seen: string[] = [];
        let cursor: string | undefined;
        let pages = 0;
        do {
          const page = await store.listModelVersions({}, { limit: 10, cursor });
          assert.ok(page.items.length <= 10);
          seen.push(...page.items.map((v) => `${v.model}@${v.version}`));
          cursor = page.next ?? undefined;
          pages++;
        } while (cursor);
        assert.equal(pages, 3);
        assert.equal(seen.length, 27);
        assert.equal(new Set(seen).size, 27);
        assert.deepEqual(seen.slice(8, 11), ['a@9', 'b@1', 'b@2']);
        assert.deepEqual((await allItems((p) => store.listModelVersions({ model: 'b' }, p))).map((v) => v.version), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
        const exact = await store.listModelVersions({ model: 'c' }, { limit: 9 });
        assert.deepEqual([exact.items.length, exact.next], [9, null]);

        for (let i = 0; i < 25; i++) await store.appendEvent({ kind: 'e', subject: `s${i}`, details: {} });
        const newest = await store.listEvents({ newestFirst: true }, { limit: 10 });
        assert.deepEqual(newest.items.map((e) => e.subject).slice(0, 3), ['s24', 's23', 's22']);
        const older = await store.listEvents({ newestFirst: true }, { limit: 10, cursor: newest.next! });
        assert.deepEqual(older.items.map((e) => e.subject).slice(0, 2), ['s14', 's13']);
        const oldest = (await store.listEvents({}, { limit: 3 })).items.map((e) => e.subject);
        assert.deepEqual(oldest, ['s0', 's1', 's2']);

        await assert.rejects(store.listModelVersions({}, { cursor: newest.next! }), (e: any) => e.code === 'USAGE' && /not a cursor of the model versions list/.test(e.message));
        await assert.rejects(store.listEvents({}, { cursor: 'garbage' }), (e: any) => e.code === 'USAGE');
        await assert.rejects(store.listEvents({}, { limit: 0 }), (e: any) => e.code === 'USAGE');
        assert.equal((await store.listEvents({}, { limit: 5000 })).items.length, 25);
      });
    });

    test('version numbers under concurrency: parallel registrations get distinct consecutive numbers; one run registers once', T, async (t) => {
      await withStore(t, async (store, db) => {
        const other = await db.open();
        try {
          // Two handles (two pools on PostgreSQL; on SQLite one connection each) registering at once.
          const handles = store.dialect === 'postgres' ? [store, other] : [store];
          const added = await Promise.all(
            Array.from({ length: 40 }, (_v, i) =>
              handles[i % handles.length]!.transaction(async (tx) => {
                const { record } = await tx.addModelVersion(modelVersion(null, 'busy', i));
                await tx.appendEvent({ kind: 'model.registered', subject: `busy@${record.version}`, details: {} });
                return record.version;
              }),
            ),
          );
          assert.deepEqual([...added].sort((a, b) => a - b), Array.from({ length: 40 }, (_v, i) => i + 1));
          await store.addDatasetVersion(dataset('aaa'));
          await store.insertRun(run('run-once', 'ds-aaa'));
          const same = await Promise.all(Array.from({ length: 8 }, (_v, i) => handles[i % handles.length]!.addModelVersion(modelVersion('run-once', 'retried', i))));
          assert.deepEqual(new Set(same.map((s) => s.record.version)), new Set([1]));
          assert.equal(same.filter((s) => s.created).length, 1);
          const datasets = await Promise.all(Array.from({ length: 10 }, (_v, i) => handles[i % handles.length]!.addDatasetVersion({ ...dataset(`h${i}`), dataset: 'many' })));
          assert.deepEqual(datasets.map((d) => d.record.version).sort((a, b) => a - b), Array.from({ length: 10 }, (_v, i) => i + 1));
        } finally {
          await other.close();
        }
      });
    });

    test('moves of one alias under lockAlias never interleave: each starts where the one before ended', T, async (t) => {
      await withStore(t, async (store, db) => {
        const other = await db.open();
        try {
          const handles = store.dialect === 'postgres' ? [store, other] : [store];
          await Promise.all(
            Array.from({ length: 20 }, (_v, i) =>
              handles[i % handles.length]!.transaction(async (tx) => {
                await tx.lockAlias('housing', 'production');
                const from = (await tx.getAlias('housing', 'production'))?.version ?? null;
                await tx.moveAlias({ kind: 'promoted', model: 'housing', alias: 'production', from, to: i + 1, reason: null });
              }),
            ),
          );
          const moves = (await store.listAliasMoves({ model: 'housing', alias: 'production' })).items;
          assert.equal(moves.length, 20);
          assert.equal(moves[0]!.from, null);
          for (let i = 1; i < moves.length; i++) assert.equal(moves[i]!.from, moves[i - 1]!.to, `move ${i}`);
          assert.equal((await store.getAlias('housing', 'production'))!.version, moves.at(-1)!.to);
        } finally {
          await other.close();
        }
      });
    });

    test('change notifications: another handle hears of alias moves and new versions, after commit', T, async (t) => {
      await withStore(t, async (store, db) => {
        const watcher = await db.open();
        let heard = 0;
        const stop = await watcher.watchRegistry(() => heard++, { checkMs: 20 });
        try {
          await store.addModelVersion(modelVersion(null, 'housing', 1));
          await until(() => heard >= 1, 'a notification of the new version');
          const before = heard;
          await store.transaction(async (tx) => {
            await tx.moveAlias({ kind: 'promoted', model: 'housing', alias: 'production', from: null, to: 1, reason: null });
            await tx.appendEvent({ kind: 'model.promoted', subject: 'housing@1', details: {} });
          });
          await until(() => heard > before, 'a notification of the promotion');
          assert.equal((await watcher.getAlias('housing', 'production'))!.version, 1);
        } finally {
          await stop();
          await watcher.close();
        }
      });
    });

    test('reopening a database keeps its data and does not re-run migrations', T, async (t) => {
      await withStore(t, async (store, db) => {
        await store.addDatasetVersion(dataset('aaa'));
        const second = await db.open();
        try {
          assert.equal((await second.listDatasetVersions()).items.length, 1);
        } finally {
          await second.close();
        }
      });
    });

    test('pipeline metadata: artifacts (recorded once), executions by cache key, input and output events', T, async (t) => {
      await withStore(t, async (store) => {
        const artifact = { id: 'dataset:abc', type: 'dataset', uri: 'housing@1', fingerprint: 'abc', properties: { rows: 506 }, createdAt: 't0' };
        await store.putArtifact(artifact);
        await store.putArtifact({ ...artifact, uri: 'other' });
        assert.deepEqual(await store.getArtifact('dataset:abc'), artifact);
        assert.equal(await store.getArtifact('nope'), undefined);
        await store.putArtifact({ ...artifact, id: 'statistics:def', type: 'statistics', uri: 'sha256/de/def.json', fingerprint: 'def' });
        const execution = {
          id: 'ex-1',
          pipeline: 'ct',
          pipelineRun: 'prun-1',
          step: 'statistics',
          state: 'running' as const,
          cacheKey: 'k1',
          properties: {},
          startedAt: '2026-01-01T00:00:00.000Z',
          endedAt: null,
          error: null,
        };
        await store.insertExecution(execution);
        await store.insertExecution({ ...execution, id: 'ex-2', pipelineRun: 'prun-2', state: 'cached', startedAt: '2026-01-01T00:00:01.000Z' });
        await store.updateExecution('ex-1', { state: 'complete', endedAt: 't1', properties: { seconds: 1 } });
        await store.insertExecutionEvents([
          { executionId: 'ex-1', artifactId: 'dataset:abc', kind: 'input', name: 'dataset' },
          { executionId: 'ex-1', artifactId: 'statistics:def', kind: 'output', name: 'statistics' },
        ]);
        const found = (await store.listExecutions({ cacheKey: 'k1' })).items;
        assert.deepEqual(found.map((e) => [e.id, e.state, e.endedAt]), [['ex-1', 'complete', 't1'], ['ex-2', 'cached', null]]);
        assert.deepEqual(found[0]!.properties, { seconds: 1 });
        assert.deepEqual((await store.listExecutions({ pipelineRun: 'prun-2' })).items.map((e) => e.id), ['ex-2']);
        assert.deepEqual((await store.listExecutions({ pipeline: 'ct', step: 'train' })).items, []);
        const page = await store.listExecutions({ pipeline: 'ct' }, { limit: 1 });
        assert.deepEqual((await store.listExecutions({ pipeline: 'ct' }, { limit: 1, cursor: page.next! })).items.map((e) => e.id), ['ex-2']);
        assert.deepEqual((await store.listExecutionEvents({ executionId: 'ex-1' })).items.map((e) => `${e.kind} ${e.name} ${e.artifactId}`), [
          'input dataset dataset:abc',
          'output statistics statistics:def',
        ]);
        assert.deepEqual((await store.listExecutionEvents({ artifactId: 'dataset:abc' })).items.map((e) => e.executionId), ['ex-1']);
        await assert.rejects(store.insertExecutionEvents([{ executionId: 'ex-1', artifactId: 'missing', kind: 'input', name: 'x' }]), /FOREIGN KEY|foreign key/i);
      });
    });
  });
}
