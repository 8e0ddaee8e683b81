import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { findWorkspace } from '../src/core/workspace.js';
import { openArtifactStore } from '../src/store/open-artifacts.js';
import { HOUSING, ROOT, cli, tempDir, withWorkspaceStore } from './helpers.js';

/** The pid of a process that has exited: its temp files are garbage. */
function deadPid(): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
    child.on('error', reject);
    child.on('close', () => resolve(child.pid!));
  });
}


async function storedKeys(dir: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const item of (await openArtifactStore(findWorkspace({ dir }))).listKeys()) keys.push(item.key);
  return keys;
}

describe('atelier gc', () => {
  const dir = tempDir('atelier-gc-');
  const tmp = join(dir, '.atelier', 'tmp');
  let orphanKey: string;
  let deadTemp: string;
  let oldTemp: string;
  let liveTemp: string;
  let unregisteredBundle: string;

  before(async () => {
    assert.equal((await cli(['init'], { cwd: dir })).code, 0);
    assert.equal((await cli(['data', 'import', HOUSING, '--name', 'housing'], { cwd: dir })).code, 0);
    const config = join(ROOT, 'examples', 'housing', 'linear.yaml');
    assert.equal((await cli(['train', config], { cwd: dir })).code, 0);
    // A run trained without registering keeps its bundle: the run refers to it.
    const unregistered = await cli(['train', config, '--no-register', '--json'], { cwd: dir });
    assert.equal(unregistered.code, 0, unregistered.stderr);
    unregisteredBundle = unregistered.json.bundle;

    // Garbage: a stored file nothing records, a bundle folder nothing records, temp files of dead processes.
    const source = join(dir, 'stray.bin');
    writeFileSync(source, 'stored, then the process died before recording it');
    orphanKey = (await (await openArtifactStore(findWorkspace({ dir }))).importFile(source, '.parquet')).key;
    mkdirSync(join(dir, '.atelier', 'artifacts', 'bundles', 'f00d', 'model'), { recursive: true });
    writeFileSync(join(dir, '.atelier', 'artifacts', 'bundles', 'f00d', 'model', 'model.json'), '{}');
    deadTemp = join(tmp, `${await deadPid()}-${Date.now()}-0a1b2c-bundle`);
    mkdirSync(deadTemp);
    writeFileSync(join(deadTemp, 'weights.bin'), Buffer.alloc(1000));
    // A name from before temp names held the pid, untouched for two hours.
    oldTemp = join(tmp, `${Date.now() - 7_200_000}-0123456789ab.parquet`);
    writeFileSync(oldTemp, 'old');
    utimesSync(oldTemp, new Date(Date.now() - 7_200_000), new Date(Date.now() - 7_200_000));
    // A live process's temp file (this test's own) is never touched.
    liveTemp = join(tmp, `${process.pid}-${Date.now()}-0c0ffee.json`);
    writeFileSync(liveTemp, '{}');
  });

  test('--dry-run lists what would go and removes nothing', { timeout: 60_000 }, async () => {
    const result = await cli(['gc', '--dry-run', '--grace', '0', '--json'], { cwd: dir });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.json.dryRun, true);
    assert.deepEqual([...result.json.temp.paths].sort(), [deadTemp, oldTemp].sort());
    assert.deepEqual([...result.json.artifacts.keys].sort(), ['bundles/f00d', orphanKey].sort());
    assert.ok(existsSync(deadTemp) && existsSync(oldTemp) && existsSync(join(dir, '.atelier', 'artifacts', orphanKey)));
    const human = await cli(['gc', '--dry-run', '--grace', '0'], { cwd: dir });
    assert.match(human.stdout, /temp files: would remove 2 \(.+\)/);
    assert.match(human.stdout, /artifacts: would remove 2 unreferenced/);
    assert.match(human.stdout, /dry run: nothing removed/);
  });

  test('the grace period keeps young unreferenced artifacts (a write in flight); dead processes\' temp files go', { timeout: 60_000 }, async () => {
    const result = await cli(['gc', '--json'], { cwd: dir });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.json.temp.files, 2);
    assert.ok(result.json.temp.bytes >= 1000);
    assert.equal(result.json.artifacts.files, 0);
    assert.ok(!existsSync(deadTemp) && !existsSync(oldTemp));
    assert.ok(existsSync(liveTemp), 'a live process keeps its temp file');
    assert.ok(existsSync(join(dir, '.atelier', 'artifacts', orphanKey)));
  });

  test('removes unreferenced artifacts, keeps every referenced one, prints counts and bytes freed', { timeout: 60_000 }, async () => {
    const result = await cli(['gc', '--grace', '0', '--json'], { cwd: dir });
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual([...result.json.artifacts.keys].sort(), ['bundles/f00d', orphanKey].sort());
    assert.ok(result.json.artifacts.bytes > 0);
    assert.ok(!existsSync(join(dir, '.atelier', 'artifacts', 'bundles', 'f00d')), 'the unrecorded bundle folder goes as one entry');
    assert.ok(existsSync(join(unregisteredBundle, 'bundle.json')), 'the --no-register run keeps its bundle');
    const referenced = new Set(await withWorkspaceStore(dir, (store) => store.referencedArtifactKeys()));
    const keys = await storedKeys(dir);
    assert.ok(keys.length > 0);
    assert.deepEqual(keys.filter((k) => !referenced.has(k) && !referenced.has(k.split('/').slice(0, 2).join('/'))), [], 'zero orphaned files');
    // Everything still works: the registered version predicts from its bundle.
    const predicted = await cli(['predict', 'housing-linear', HOUSING, '--output', join(dir, 'predictions.csv'), '--json'], { cwd: dir });
    assert.equal(predicted.code, 0, predicted.stderr);
    const human = await cli(['gc'], { cwd: dir });
    assert.match(human.stdout, /artifacts: removed 0 unreferenced \(0 bytes\); kept \d+/);
    assert.match(human.stdout, /freed: 0 bytes/);
  });

  test('every command sweeps first: a dead process\'s temp file is gone after `atelier history`', { timeout: 60_000 }, async () => {
    const temp = join(tmp, `${await deadPid()}-${Date.now()}-0beef.parquet`);
    writeFileSync(temp, 'partial');
    assert.equal((await cli(['history'], { cwd: dir })).code, 0);
    assert.ok(!existsSync(temp));
    assert.ok(existsSync(liveTemp));
  });

  test('a run on another machine whose heartbeat lapsed is failed by the next command that looks; a fresh one stays running', { timeout: 60_000 }, async () => {
    const datasetVersionId = (await withWorkspaceStore(dir, (store) => store.getDatasetVersion('housing')))!.id;
    const minutesAgo = (m: number) => new Date(Date.now() - m * 60_000).toISOString();
    const run = (id: string, heartbeatAt: string) => ({
      id,
      model: 'housing-linear',
      status: 'running' as const,
      config: {},
      configHash: 'c',
      datasetVersionId,
      params: {},
      startedAt: minutesAgo(30),
      endedAt: null,
      user: 'ada',
      host: 'another-machine',
      error: null,
      heartbeatAt,
      pid: 1,
      parentRunId: null,
      experiment: null,
    });
    await withWorkspaceStore(dir, async (store) => {
      await store.insertRun(run('run-lapsed', minutesAgo(10)));
      await store.insertRun(run('run-alive', minutesAgo(0)));
    });
    assert.equal((await cli(['models', 'list'], { cwd: dir })).code, 0);
    await withWorkspaceStore(dir, async (store) => {
      const lapsed = await store.getRun('run-lapsed');
      assert.equal(lapsed?.status, 'failed');
      assert.match(lapsed?.error ?? '', /process vanished \(no heartbeat from another-machine since .+\)/);
      assert.equal((await store.getRun('run-alive'))?.status, 'running');
      await store.endRun('run-alive', { status: 'killed', endedAt: new Date().toISOString(), error: 'test over' });
    });
    const failed = (await cli(['history', '--json', '--kind', 'run.failed'], { cwd: dir })).json.events as { subject: string }[];
    assert.ok(failed.some((e) => e.subject === 'run-lapsed'));
  });

  test('--grace that is not a duration is a usage error', { timeout: 30_000 }, async () => {
    const result = await cli(['gc', '--grace', 'soon'], { cwd: dir });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--grace: "soon" is not a duration/);
  });
});

test('gc on a fresh workspace finds nothing to do', { timeout: 30_000 }, async () => {
  const dir = tempDir('atelier-gc-empty-');
  assert.equal((await cli(['init'], { cwd: dir })).code, 0);
  const result = await cli(['gc', '--json'], { cwd: dir });
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(result.json.runs, []);
  assert.equal(result.json.temp.files, 0);
  assert.equal(result.json.artifacts.files, 0);
  assert.deepEqual(readdirSync(join(dir, '.atelier', 'tmp')), []);
});
