import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { openSqliteStore } from '../src/store/open.js';
import type { MetadataStore } from '../src/store/metadata-store.js';
import type { DatasetVersionRecord, ModelVersionRecord, RunRecord } from '../src/store/types.js';
import { tempDir } from './helpers.js';

/**
 * The contract every MetadataStore implementation passes, run against a real database file.
 * (PostgreSQL joins here when its implementation lands: same suite, its URL from the env.)
 */
const dataset = (version: number, hash: string): DatasetVersionRecord => ({
  id: `ds-${version}-${hash}`,
  dataset: 'housing',
  version,
  contentHash: hash,
  rowCount: 506,
  columns: [{ name: 'RM', type: 'float', sourceType: 'DOUBLE' }],
  source: '/data/housing.csv',
  artifact: `sha256/ab/${hash}.parquet`,
  createdAt: '2026-01-01T00:00:00.000Z',
  createdBy: 'ada',
});

const run = (id: string, datasetVersionId: string): RunRecord => ({
  id,
  model: 'housing',
  status: 'running',
  config: { name: 'housing' },
  configHash: 'c0ffee',
  datasetVersionId,
  params: { seed: 42 },
  startedAt: '2026-01-01T00:00:01.000Z',
  endedAt: null,
  user: 'ada',
  host: 'lab',
  error: null,
  heartbeatAt: null,
  pid: null,
});

const modelVersion = (version: number, runId: string): ModelVersionRecord => ({
  model: 'housing',
  version,
  runId,
  bundleUri: `bundles/${version}`,
  bundleHash: `hash-${version}`,
  metrics: { rmse: 3 + version },
  createdAt: '2026-01-01T00:00:02.000Z',
  createdBy: 'ada',
  description: null,
});

async function withStore(work: (store: MetadataStore) => Promise<void>) {
  const store = await openSqliteStore(join(tempDir(), '.atelier', 'metadata.db'));
  try {
    await work(store);
  } finally {
    await store.close();
  }
}

describe('metadata store contract (SQLite)', () => {
  test('dataset versions: latest, by number, by content hash; duplicates refused', async () => {
    await withStore(async (store) => {
      await store.insertDatasetVersion(dataset(1, 'aaa'));
      await store.insertDatasetVersion(dataset(2, 'bbb'));
      assert.equal((await store.getDatasetVersion('housing'))!.version, 2);
      assert.deepEqual(await store.getDatasetVersion('housing', 1), { ...dataset(1, 'aaa'), statistics: null });
      assert.equal((await store.findDatasetVersionByHash('housing', 'bbb'))!.version, 2);
      assert.equal(await store.getDatasetVersion('nope'), undefined);
      await assert.rejects(store.insertDatasetVersion({ ...dataset(3, 'aaa'), id: 'other' }), /UNIQUE/);
      assert.deepEqual((await store.listDatasetVersions()).map((d) => d.version), [1, 2]);
    });
  });

  test('statistics are attached to a version; schemas are versioned per dataset', async () => {
    await withStore(async (store) => {
      await store.insertDatasetVersion(dataset(1, 'aaa'));
      await store.setDatasetStatistics('ds-1-aaa', 'sha256/cd/stats.json');
      assert.equal((await store.getDatasetVersion('housing', 1))!.statistics, 'sha256/cd/stats.json');
      const schema = (version: number) => ({
        dataset: 'housing',
        version,
        contentHash: `h${version}`,
        artifact: `sha256/ef/${version}.yaml`,
        source: 'inferred from housing@1',
        createdAt: 't',
        createdBy: 'ada',
      });
      await store.insertDataSchema(schema(1));
      await store.insertDataSchema(schema(2));
      assert.deepEqual(await store.getDataSchema('housing'), schema(2));
      assert.deepEqual(await store.getDataSchema('housing', 1), schema(1));
      assert.equal(await store.getDataSchema('iris'), undefined);
      await assert.rejects(store.insertDataSchema(schema(2)), /UNIQUE|constraint/);
    });
  });

  test('runs with step metrics, finished in one update', async () => {
    await withStore(async (store) => {
      await store.insertDatasetVersion(dataset(1, 'aaa'));
      await store.insertRun(run('run-1', 'ds-1-aaa'));
      const points = Array.from({ length: 450 }, (_v, i) => ({ key: 'train_rmse', step: i + 1, value: 10 / (i + 1) }));
      await store.logMetrics('run-1', points);
      await store.updateRun('run-1', { status: 'finished', endedAt: '2026-01-01T00:01:00.000Z' });
      const stored = await store.getRun('run-1');
      assert.equal(stored!.status, 'finished');
      assert.equal(stored!.endedAt, '2026-01-01T00:01:00.000Z');
      assert.deepEqual(stored!.params, { seed: 42 });
      assert.deepEqual(await store.getMetrics('run-1'), points);
    });
  });

  test('a transaction that fails leaves nothing behind', async () => {
    await withStore(async (store) => {
      await assert.rejects(
        store.transaction(async (tx) => {
          await tx.insertDatasetVersion(dataset(1, 'aaa'));
          await tx.appendEvent({ kind: 'dataset.imported', subject: 'housing@1', details: {} });
          throw new Error('disk full');
        }),
        /disk full/,
      );
      assert.deepEqual(await store.listDatasetVersions(), []);
      assert.deepEqual(await store.listEvents(), []);
    });
  });

  test('model versions and aliases; events append in order', async () => {
    await withStore(async (store) => {
      await store.insertDatasetVersion(dataset(1, 'aaa'));
      await store.insertRun(run('run-1', 'ds-1-aaa'));
      await store.insertModelVersion(modelVersion(1, 'run-1'));
      await store.insertModelVersion(modelVersion(2, 'run-1'));
      assert.equal((await store.getModelVersion('housing'))!.version, 2);
      assert.deepEqual((await store.getModelVersion('housing', 1))!.metrics, { rmse: 4 });
      await store.setAlias({ model: 'housing', alias: 'production', version: 1, updatedAt: 't1' });
      await store.setAlias({ model: 'housing', alias: 'production', version: 2, updatedAt: 't2' });
      assert.deepEqual(await store.listAliases('housing'), [{ model: 'housing', alias: 'production', version: 2, updatedAt: 't2' }]);
      await store.appendEvent({ kind: 'a', subject: 's1', details: { n: 1 } });
      await store.appendEvent({ kind: 'b', subject: 's2', details: { n: 2 }, user: 'grace' });
      const events = await store.listEvents();
      assert.deepEqual(events.map((e) => [e.seq, e.kind, e.subject, e.details]), [[1, 'a', 's1', { n: 1 }], [2, 'b', 's2', { n: 2 }]]);
      assert.equal(events[1]!.user, 'grace');
      assert.deepEqual((await store.listEvents({ kind: 'b' })).map((e) => e.subject), ['s2']);
    });
  });

  test('reopening a database keeps its data and does not re-run migrations', async () => {
    const path = join(tempDir(), 'metadata.db');
    const first = await openSqliteStore(path);
    await first.insertDatasetVersion(dataset(1, 'aaa'));
    await first.close();
    const second = await openSqliteStore(path);
    assert.equal((await second.listDatasetVersions()).length, 1);
    await second.close();
  });

  test('pipeline metadata: artifacts (recorded once), executions by cache key, input and output events', async () => {
    await withStore(async (store) => {
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
      const found = await store.listExecutions({ cacheKey: 'k1' });
      assert.deepEqual(found.map((e) => [e.id, e.state, e.endedAt]), [['ex-1', 'complete', 't1'], ['ex-2', 'cached', null]]);
      assert.deepEqual(found[0]!.properties, { seconds: 1 });
      assert.deepEqual((await store.listExecutions({ pipelineRun: 'prun-2' })).map((e) => e.id), ['ex-2']);
      assert.deepEqual((await store.listExecutions({ pipeline: 'ct', step: 'train' })), []);
      assert.deepEqual((await store.listExecutionEvents({ executionId: 'ex-1' })).map((e) => `${e.kind} ${e.name} ${e.artifactId}`), [
        'input dataset dataset:abc',
        'output statistics statistics:def',
      ]);
      assert.deepEqual((await store.listExecutionEvents({ artifactId: 'dataset:abc' })).map((e) => e.executionId), ['ex-1']);
      await assert.rejects(store.insertExecutionEvents([{ executionId: 'ex-1', artifactId: 'missing', kind: 'input', name: 'x' }]), /FOREIGN KEY/);
    });
  });
});
