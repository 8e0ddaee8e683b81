import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { findWorkspace } from '../../src/core/workspace.js';
import { openArtifactStore } from '../../src/store/open-artifacts.js';
import type { MetadataStore } from '../../src/store/metadata-store.js';
import { openStore } from '../../src/store/open.js';
import type { RunRecord } from '../../src/store/types.js';
import { CLI, HOUSING, ROOT, cli, tempDir, withWorkspaceStore } from '../helpers.js';
import { startPostgres, type TestPostgres } from '../services/postgres.js';

/** The housing DNN with epochs enough to still be training when the signal comes, and no early stop. */
function longConfig(dir: string): string {
  const text = readFileSync(join(ROOT, 'examples', 'housing', 'dnn.yaml'), 'utf8')
    .replace('epochs: 300', 'epochs: 1000000')
    .replace(/ {2}early_stopping:\n(?: {4}.*\n)+/, '  early_stopping: false\n');
  const file = join(dir, 'long.yaml');
  writeFileSync(file, text);
  return file;
}

interface Training {
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr: () => string;
}

/**
 * Starts `atelier ARGS` and resolves once stderr matches `ready`; by default "dnn on ...", the note
 * that comes after the run is recorded as running and its Ctrl-C handling is in place.
 */
function startTraining(cwd: string, args: string[], ready = /dnn on \d+ rows/): Promise<Training> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd, env: { ...process.env, ATELIER_WORKSPACE: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let fitting = false;
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => child.on('close', (code, signal) => done({ code, signal })));
    child.stdout!.resume();
    child.stderr!.on('data', (d) => {
      stderr += d;
      if (!fitting && ready.test(stderr)) {
        fitting = true;
        resolve({ child, exited, stderr: () => stderr });
      }
    });
    void exited.then(({ code }) => {
      if (!fitting) reject(new Error(`atelier ${args.join(' ')} exited ${code} before ${ready}: ${stderr}`));
    });
  });
}


const runOf = (dir: string, pid: number) =>
  withWorkspaceStore(dir, async (store) => (await store.listRunningRuns()).find((r) => r.pid === pid));

describe('training runs killed by SIGINT, SIGTERM and kill -9', () => {
  const dir = tempDir('atelier-lifecycle-');
  let config: string;
  const killed: Record<string, string> = {};

  before(async () => {
    assert.equal((await cli(['init'], { cwd: dir })).code, 0);
    assert.equal((await cli(['data', 'import', HOUSING, '--name', 'housing'], { cwd: dir })).code, 0);
    config = longConfig(dir);
  });

  for (const [signal, exitCode] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    test(`${signal} marks the run killed, removes its temp files and exits ${exitCode}`, { timeout: 120_000 }, async () => {
      const training = await startTraining(dir, ['train', config]);
      const pid = training.child.pid!;
      const running = await runOf(dir, pid);
      assert.ok(running, 'the run is recorded as running, with the pid of its process');
      assert.equal(running.status, 'running');
      assert.ok(running.heartbeatAt, 'a running run has a heartbeat');
      if (signal === 'SIGINT') {
        // The heartbeat moves on while it trains (every few seconds; the test's timeout bounds the wait).
        let beat: string | null = running.heartbeatAt;
        while (beat === running.heartbeatAt) {
          await sleep(500);
          beat = (await withWorkspaceStore(dir, (store) => store.getRun(running.id)))?.heartbeatAt ?? null;
        }
        assert.ok(beat! > running.heartbeatAt!);
      }
      // A temp file the training is writing when the signal comes.
      writeFileSync(join(dir, '.atelier', 'tmp', `${pid}-${Date.now()}-0abc-bundle`), 'partial');
      training.child.kill(signal);
      const { code } = await training.exited;
      assert.equal(code, exitCode, training.stderr());
      const run = await withWorkspaceStore(dir, (store) => store.getRun(running.id));
      assert.equal(run?.status, 'killed');
      assert.ok(run?.endedAt, 'a killed run has its end time');
      assert.equal(run?.error, `killed by ${signal}`);
      assert.deepEqual(readdirSync(join(dir, '.atelier', 'tmp')).filter((f) => f.startsWith(`${pid}-`)), []);
      const events = (await cli(['history', '--json', '--kind', 'run.killed'], { cwd: dir })).json.events as { subject: string }[];
      assert.ok(events.some((e) => e.subject === running.id), 'run.killed is in the event log');
      killed[signal] = running.id;
    });
  }

  test('SIGINT during cross-validation exits 130 and leaves no temp files', { timeout: 120_000 }, async () => {
    const training = await startTraining(dir, ['train', config, '--cv', '3'], /fold 1 of 3/);
    const pid = training.child.pid!;
    training.child.kill('SIGINT');
    assert.equal((await training.exited).code, 130, training.stderr());
    assert.deepEqual(readdirSync(join(dir, '.atelier', 'tmp')).filter((f) => f.startsWith(`${pid}-`)), []);
  });

  test('SIGTERM during a pipeline run kills its training run and records the step as failed, then exits 143', { timeout: 120_000 }, async () => {
    writeFileSync(join(dir, 'ct.yaml'), `name: ct\nsteps:\n  import: { source: ${HOUSING}, dataset: housing }\n  train: { config: ${config} }\n`);
    const training = await startTraining(dir, ['pipeline', 'run', 'ct.yaml']);
    const running = await runOf(dir, training.child.pid!);
    assert.ok(running, 'the pipeline\'s training run is running');
    training.child.kill('SIGTERM');
    assert.equal((await training.exited).code, 143, training.stderr());
    await withWorkspaceStore(dir, async (store) => {
      assert.equal((await store.getRun(running.id))?.status, 'killed');
      const step = (await store.listExecutions({ pipeline: 'ct', step: 'train' })).items.at(-1);
      assert.equal(step?.state, 'failed');
      assert.equal(step?.error, 'killed by SIGTERM');
    });
  });

  test('kill -9 during a pipeline run: gc fails its training run and its step (process vanished)', { timeout: 120_000 }, async () => {
    const training = await startTraining(dir, ['pipeline', 'run', 'ct.yaml']);
    const running = await runOf(dir, training.child.pid!);
    assert.ok(running);
    training.child.kill('SIGKILL');
    await training.exited;
    const gc = await cli(['gc', '--json'], { cwd: dir });
    assert.equal(gc.code, 0, gc.stderr);
    assert.deepEqual(gc.json.runs.map((r: { id: string }) => r.id), [running.id]);
    assert.deepEqual(gc.json.steps.map((s: { pipeline: string; step: string }) => `${s.pipeline}:${s.step}`), ['ct:train']);
    await withWorkspaceStore(dir, async (store) => {
      assert.deepEqual((await store.listExecutions({ state: 'running' })).items, [], 'no pipeline step is left running');
      assert.match((await store.listExecutions({ pipeline: 'ct', step: 'train' })).items.at(-1)?.error ?? '', /process vanished \(pid \d+ on .+ is gone\)/);
    });
  });

  test('kill -9 leaves the run running until the next command finds its process gone; gc leaves nothing running and nothing orphaned', { timeout: 180_000 }, async () => {
    const training = await startTraining(dir, ['train', config]);
    const pid = training.child.pid!;
    const running = await runOf(dir, pid);
    assert.ok(running, 'the run is recorded as running');
    training.child.kill('SIGKILL');
    await training.exited;
    // Nobody closed it: the process died without a word.
    assert.equal((await withWorkspaceStore(dir, (store) => store.getRun(running.id)))?.status, 'running');
    // What the dead process was writing.
    const orphan = join(dir, '.atelier', 'tmp', `${pid}-${Date.now()}-0def.parquet`);
    writeFileSync(orphan, 'half a parquet file');

    const gc = await cli(['gc', '--json', '--grace', '0'], { cwd: dir });
    assert.equal(gc.code, 0, gc.stderr);
    assert.deepEqual(gc.json.runs.map((r: { id: string }) => r.id), [running.id]);
    assert.match(gc.json.runs[0].reason, /process vanished \(pid \d+ on .+ is gone\)/);
    assert.ok(gc.json.temp.paths.includes(orphan), 'the dead process temp file went');

    await withWorkspaceStore(dir, async (store) => {
      assert.deepEqual(await store.listRunningRuns(), [], 'no run is left running');
      const [bySigint, bySigterm, byKill] = await Promise.all([store.getRun(killed.SIGINT!), store.getRun(killed.SIGTERM!), store.getRun(running.id)]);
      assert.equal(bySigint?.status, 'killed');
      assert.equal(bySigterm?.status, 'killed');
      assert.equal(byKill?.status, 'failed');
      assert.ok(byKill?.endedAt);
      // Zero orphaned files: no temp files, and every stored file is referenced by the metadata.
      assert.deepEqual(readdirSync(join(dir, '.atelier', 'tmp')), []);
      const referenced = new Set(await store.referencedArtifactKeys());
      const keys: string[] = [];
      for await (const item of (await openArtifactStore(findWorkspace({ dir }))).listKeys()) keys.push(item.key);
      assert.ok(keys.length > 0, 'the dataset is stored');
      assert.deepEqual(keys.filter((k) => !referenced.has(k)), []);
    });
  });
});

test('run.finished and model.registered commit together: a refused registration leaves the run failed and no version', { timeout: 120_000 }, async () => {
  const dir = tempDir('atelier-lifecycle-tx-');
  assert.equal((await cli(['init'], { cwd: dir })).code, 0);
  assert.equal((await cli(['data', 'import', HOUSING, '--name', 'housing'], { cwd: dir })).code, 0);
  const config = join(dir, 'linear.yaml');
  // A regression model reports no accuracy: registering it is refused inside the run's closing transaction.
  writeFileSync(config, readFileSync(join(ROOT, 'examples', 'housing', 'linear.yaml'), 'utf8') + '\nvalidation:\n  metrics:\n    accuracy: { at_least: 0.5 }\n');
  const trained = await cli(['train', config, '--json'], { cwd: dir });
  assert.equal(trained.code, 1, trained.stderr);
  assert.equal(trained.json.error.code, 'CONFIG_INVALID');
  const events = (await cli(['history', '--json'], { cwd: dir })).json.events as { kind: string }[];
  const kinds = events.map((e) => e.kind);
  assert.ok(kinds.includes('run.failed'), kinds.join(' '));
  assert.ok(!kinds.includes('run.finished'), 'run.finished rolled back with the registration');
  assert.ok(!kinds.includes('model.registered'));
  assert.equal((await cli(['models', 'list', '--json'], { cwd: dir })).json.models.length, 0);
});

/** The store's run lifecycle methods, on SQLite and (when installed) PostgreSQL, through migration 0005. */
describe('store: heartbeats, ending running runs, referenced artifact keys', () => {
  let postgres: TestPostgres | undefined;
  before(async () => {
    postgres = await startPostgres();
  });
  after(async () => {
    await postgres?.stop();
  });

  const dataset = {
    id: 'ds-1',
    dataset: 'housing',
    version: 1,
    contentHash: 'h1',
    rowCount: 3,
    columns: [],
    source: 'housing.csv',
    artifact: 'sha256/aa/aa.parquet',
    statistics: null,
    createdAt: '2026-01-01T00:00:00.000Z',
    createdBy: 'ada',
  };
  const run = (id: string, status: RunRecord['status'], params: Record<string, unknown> = {}): RunRecord => ({
    id,
    model: 'housing',
    status,
    config: {},
    configHash: 'c',
    datasetVersionId: 'ds-1',
    params,
    startedAt: '2026-01-01T00:00:01.000Z',
    endedAt: null,
    user: 'ada',
    host: 'lab',
    error: null,
    heartbeatAt: '2026-01-01T00:00:01.000Z',
    pid: 4242,
    parentRunId: null,
    experiment: null,
  });

  async function exercise(store: MetadataStore) {
    const { version: _version, ...newDataset } = dataset;
    await store.addDatasetVersion(newDataset);
    await store.setDatasetStatistics('ds-1', 'sha256/bb/bb.json');
    await store.insertRun(run('run-a', 'running'));
    await store.insertRun(run('run-b', 'running'));
    await store.insertRun(run('run-c', 'finished', { bundle: 'bundles/cc' }));
    await store.heartbeatRun('run-a', '2026-01-01T00:05:00.000Z');
    assert.equal((await store.getRun('run-a'))?.heartbeatAt, '2026-01-01T00:05:00.000Z');
    assert.equal((await store.getRun('run-a'))?.pid, 4242);
    assert.deepEqual((await store.listRunningRuns()).map((r) => r.id), ['run-a', 'run-b']);
    assert.equal(await store.endRun('run-a', { status: 'killed', endedAt: '2026-01-01T00:06:00.000Z', error: 'killed by SIGINT' }), true);
    // Ending twice, or ending a finished run, changes nothing.
    assert.equal(await store.endRun('run-a', { status: 'failed', endedAt: '2026-01-01T00:07:00.000Z', error: 'process vanished' }), false);
    assert.equal(await store.endRun('run-c', { status: 'failed', endedAt: '2026-01-01T00:07:00.000Z', error: 'process vanished' }), false);
    assert.equal((await store.getRun('run-a'))?.status, 'killed');
    assert.equal((await store.getRun('run-c'))?.status, 'finished');
    // A heartbeat of an ended run is ignored.
    await store.heartbeatRun('run-a', '2026-01-01T00:08:00.000Z');
    assert.equal((await store.getRun('run-a'))?.heartbeatAt, '2026-01-01T00:05:00.000Z');
    assert.deepEqual((await store.listRunningRuns()).map((r) => r.id), ['run-b']);
    await store.addModelVersion({
      model: 'housing',
      runId: null,
      bundleUri: 'bundles/dd',
      bundleHash: 'dd',
      metrics: {},
      createdAt: '2026-01-01T00:00:02.000Z',
      createdBy: 'ada',
      description: null,
    });
    await store.putArtifact({ id: 'statistics:ee', type: 'statistics', uri: 'sha256/ee/ee.json', fingerprint: 'ee', properties: {}, createdAt: '2026-01-01T00:00:03.000Z' });
    assert.deepEqual(
      (await store.referencedArtifactKeys()).sort(),
      ['bundles/cc', 'bundles/dd', 'sha256/aa/aa.parquet', 'sha256/bb/bb.json', 'sha256/ee/ee.json'],
    );
  }

  test('on SQLite', { timeout: 30_000 }, async () => {
    const store = await openStore(`sqlite:${join(tempDir('atelier-lifecycle-store-'), 'metadata.db')}`);
    try {
      await exercise(store);
    } finally {
      await store.close();
    }
  });

  test('on PostgreSQL', { timeout: 60_000 }, async (t) => {
    if (!postgres) return t.skip('PostgreSQL is not installed (no ATELIER_TEST_PG_URL, no /usr/lib/postgresql)');
    const store = await openStore(postgres.url);
    try {
      await exercise(store);
    } finally {
      await store.close();
    }
  });
});
