import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { threadBudget, shareOfCores, THREADS_ENV } from '../src/core/threads.js';
import { findWorkspace, type Workspace } from '../src/core/workspace.js';
import { followJob } from '../src/jobs/follow.js';
import { trainJob } from '../src/jobs/kinds/train.js';
import { LocalJobQueue } from '../src/jobs/local-pool.js';
import { PgJobQueue } from '../src/jobs/pg-queue.js';
import { TeamWorker } from '../src/jobs/pg-worker.js';
import { jobRunId, type JobInfo, type JobQueue } from '../src/jobs/types.js';
import { openContext } from '../src/store/context.js';
import { cli, HOUSING, ROOT, tempDir } from './helpers.js';
import { startPostgres, type TestPostgres } from './services/postgres.js';

/**
 * The JobQueue contract, on the embedded pool and on pg-boss (a real PostgreSQL, with a worker
 * in this process), plus the idempotency of a retried training. Jobs run for real: K-fold
 * cross-validation and training of a linear model on the housing data, in child processes.
 */

const LINEAR = join(ROOT, 'examples', 'housing', 'linear.yaml');
const carried = (file: string) => ({ file, text: readFileSync(file, 'utf8') });
const cvJob = () => ({ kind: 'cross-validation' as const, title: 'cross-validate housing-linear', payload: { config: carried(LINEAR), k: 2 } });

let workspace: Workspace;
let pg: TestPostgres | undefined;

before(async () => {
  const dir = tempDir();
  assert.equal((await cli(['init', '.'], { cwd: dir })).code, 0);
  assert.equal((await cli(['data', 'import', HOUSING, '--name', 'housing'], { cwd: dir })).code, 0);
  workspace = findWorkspace({ dir });
  pg = await startPostgres();
});

after(async () => {
  await pg?.stop();
});

const settle = (queue: JobQueue, id: string): Promise<JobInfo> => followJob(queue, id, { note: () => {}, pollMs: 100 });

interface Harness {
  queue: JobQueue;
  close(): Promise<void>;
}

function describeJobQueue(name: string, make: () => Promise<Harness | string>) {
  describe(`JobQueue contract: ${name}`, () => {
    let harness: Harness | undefined;
    let skip: string | undefined;
    before(async () => {
      const made = await make();
      if (typeof made === 'string') skip = made;
      else harness = made;
    });
    after(async () => {
      await harness?.close();
    });
    const it = (title: string, body: (queue: JobQueue) => Promise<void>) =>
      test(title, { timeout: 180_000 }, async (t) => {
        if (!harness) return t.skip(skip);
        await body(harness.queue);
      });

    it('a submitted job runs once and completes with its result', async (queue) => {
      const job = await queue.submit(cvJob());
      assert.equal(job.kind, 'cross-validation');
      assert.ok(['created', 'active'].includes(job.state));
      const done = await settle(queue, job.id);
      assert.equal(done.state, 'completed', JSON.stringify(done.error));
      assert.equal(done.attempts, 1);
      assert.ok(done.worker);
      const result = done.result as { k: number; folds: unknown[] };
      assert.equal(result.k, 2);
      assert.equal(result.folds.length, 2);
    });

    it('a job failing with an Atelier error fails at once with its code (a retry would fail the same way)', async (queue) => {
      const config = readFileSync(LINEAR, 'utf8').replace('dataset: housing', 'dataset: nowhere');
      const job = await queue.submit({
        kind: 'train',
        title: 'train from a dataset that is not there',
        payload: { config: { file: 'nowhere.yaml', text: config } },
        options: { retryLimit: 2, retryDelaySeconds: 0 },
      });
      const done = await settle(queue, job.id);
      assert.equal(done.state, 'failed');
      assert.equal(done.attempts, 1);
      assert.equal(done.error?.code, 'DATASET_NOT_FOUND');
      assert.match(done.error!.message, /nowhere/);
    });

    it('a job whose process fails otherwise is retried up to its limit, then failed', async (queue) => {
      // A pipeline whose data file cannot be placed (its name names a folder that is not there):
      // a plain error from the file system, which another attempt might not meet.
      const ctx = await openContext(workspace);
      const { key } = await ctx.artifacts.importFile(HOUSING, '.csv');
      await ctx.store.close();
      const pipeline = join(ROOT, 'examples', 'pipelines', 'housing.yaml');
      const job = await queue.submit({
        kind: 'pipeline',
        title: 'a pipeline that cannot place its data',
        payload: { pipeline: carried(pipeline), modelConfig: carried(join(ROOT, 'examples', 'pipelines', 'houses.yaml')), sources: [{ key, name: 'no-such-folder/housing.csv' }] },
        options: { retryLimit: 1, retryDelaySeconds: 0 },
      });
      const done = await settle(queue, job.id);
      assert.equal(done.state, 'failed');
      assert.equal(done.attempts, 2);
      assert.equal(done.maxAttempts, 2);
      assert.equal(done.error?.code, 'INTERNAL');
      assert.match(done.error!.message, /no-such-folder/);
    });

    it('a payload that breaks its schema fails without running', async (queue) => {
      const job = await queue.submit({ kind: 'cross-validation', title: 'bad payload', payload: { k: 1 } });
      const done = await settle(queue, job.id);
      assert.equal(done.state, 'failed');
      assert.equal(done.attempts, 1);
      assert.equal(done.error?.code, 'USAGE');
      assert.match(done.error!.message, /^cross-validation job [0-9a-f-]{36}: payload field config: /);
    });

    it('cancel stops a job; retry queues it again and it completes', async (queue) => {
      const job = await queue.submit(cvJob());
      const cancelled = await queue.cancel(job.id);
      assert.equal(cancelled.state, 'cancelled');
      assert.equal((await settle(queue, job.id)).state, 'cancelled');
      const again = await queue.retry(job.id);
      assert.ok(['created', 'retry', 'active'].includes(again.state), again.state);
      const done = await settle(queue, job.id);
      assert.equal(done.state, 'completed', JSON.stringify(done.error));
    });

    it('list pages newest first and filters by kind and state', async (queue) => {
      const first = await queue.list({ limit: 1 });
      assert.equal(first.items.length, 1);
      assert.ok(first.next, 'a second page');
      const second = await queue.list({ limit: 1, cursor: first.next! });
      assert.equal(second.items.length, 1);
      assert.notEqual(second.items[0]!.id, first.items[0]!.id);
      assert.ok(second.items[0]!.createdAt <= first.items[0]!.createdAt);
      const all = await queue.list({ limit: 100 });
      assert.equal(new Set(all.items.map((j) => j.id)).size, all.items.length);
      const trains = await queue.list({ kind: 'train' });
      assert.ok(trains.items.length > 0);
      assert.ok(trains.items.every((j) => j.kind === 'train'));
      const failed = await queue.list({ state: 'failed' });
      assert.ok(failed.items.length > 0);
      assert.ok(failed.items.every((j) => j.state === 'failed'));
    });

    it('an unknown job id is undefined', async (queue) => {
      assert.equal(await queue.get('00000000-0000-4000-8000-000000000000'), undefined);
    });
  });
}

describeJobQueue('embedded pool', async () => {
  const queue = new LocalJobQueue(workspace, 2);
  return { queue, close: () => queue.close() };
});

describeJobQueue('pg-boss on PostgreSQL', async () => {
  if (!pg) return 'PostgreSQL is not installed here (no /usr/lib/postgresql/N/bin, no ATELIER_TEST_PG_URL)';
  const url = await pg.newDatabase();
  const queue = await PgJobQueue.open(url);
  const worker = await TeamWorker.start(url, workspace, { concurrency: 2, kinds: ['train', 'cross-validation', 'pipeline'], leaseSeconds: 5, log: () => {} });
  return {
    queue,
    close: async () => {
      await worker.stop(0);
      await queue.close();
    },
  };
});

describe('idempotent training jobs', () => {
  test('a retry that finds its earlier attempt finished and registered returns that version', { timeout: 120_000 }, async () => {
    const ctx = await openContext(workspace);
    try {
      const jobId = '11111111-1111-4111-8111-111111111111';
      const payload = trainJob.payload.parse({ config: carried(LINEAR) });
      const progress = () => {};
      const first = await trainJob.run(ctx, payload, { jobId, attempt: 1, progress });
      assert.equal(first.run, jobRunId(jobId, 1));
      assert.ok(first.version);
      const again = await trainJob.run(ctx, payload, { jobId, attempt: 2, progress });
      assert.equal(again.recovered, true);
      assert.equal(again.version, first.version);
      assert.equal(again.run, first.run);
      const versions = (await ctx.store.listModelVersions({ model: 'housing-linear' })).items.filter((v) => v.runId?.startsWith(jobRunId(jobId, 1)));
      assert.equal(versions.length, 1);
      assert.equal(await ctx.store.getRun(jobRunId(jobId, 2)), undefined);
    } finally {
      await ctx.store.close();
    }
  });

  test('a retry that finds its earlier attempt unfinished marks it failed and starts over', { timeout: 120_000 }, async () => {
    const ctx = await openContext(workspace);
    try {
      const jobId = '22222222-2222-4222-8222-222222222222';
      const dataset = (await ctx.store.getDatasetVersion('housing'))!;
      const stale = jobRunId(jobId, 1);
      await ctx.store.insertRun({
        id: stale, model: 'housing-linear', status: 'running', config: {}, configHash: 'x', datasetVersionId: dataset.id,
        params: {}, startedAt: new Date().toISOString(), endedAt: null, user: 'test', host: 'test', error: null,
        parentRunId: null, experiment: null, heartbeatAt: null, pid: null,
      });
      const outcome = await trainJob.run(ctx, trainJob.payload.parse({ config: carried(LINEAR) }), { jobId, attempt: 2, progress: () => {} });
      assert.equal(outcome.run, jobRunId(jobId, 2));
      assert.equal(outcome.recovered, undefined);
      const old = await ctx.store.getRun(stale);
      assert.equal(old?.status, 'failed');
      assert.match(old!.error!, /did not finish/);
      assert.equal((await ctx.store.listModelVersions({ model: 'housing-linear' })).items.filter((v) => v.runId === stale).length, 0);
    } finally {
      await ctx.store.close();
    }
  });
});

describe('thread budget', () => {
  test('a job process takes its share of the cores from ATELIER_THREADS', { timeout: 10_000 }, () => {
    const saved = process.env[THREADS_ENV];
    try {
      process.env[THREADS_ENV] = '3';
      assert.equal(threadBudget(), 3);
      delete process.env[THREADS_ENV];
      assert.ok(threadBudget() >= 1);
      assert.equal(shareOfCores(1), threadBudget());
      assert.equal(shareOfCores(10_000), 1);
    } finally {
      if (saved === undefined) delete process.env[THREADS_ENV];
      else process.env[THREADS_ENV] = saved;
    }
  });
});

describe('opening the team queue', () => {
  test('processes opening a fresh queue at once all succeed: the queues are created one process at a time', { timeout: 120_000 }, async (t) => {
    if (!pg) return t.skip('PostgreSQL is not installed here (no /usr/lib/postgresql/N/bin, no ATELIER_TEST_PG_URL)');
    // Three workers started together on a fresh database deadlocked in pg-boss's create_queue.
    const url = await pg.newDatabase();
    const opened = await Promise.allSettled(Array.from({ length: 6 }, () => PgJobQueue.open(url)));
    for (const o of opened) if (o.status === 'fulfilled') await o.value.close();
    assert.deepEqual(opened.filter((o) => o.status === 'rejected').map((o) => String((o as PromiseRejectedResult).reason)), []);
  });
});
