import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parsePipeline } from '../src/pipeline/config.js';
import { windowMembers } from '../src/pipeline/window.js';
import type { DatasetVersionRecord } from '../src/store/types.js';
import { CLI, cli, HOUSING, ROOT, tempDir } from './helpers.js';

const SCHEMA = join(ROOT, 'examples', 'pipelines', 'housing.schema.yaml');

async function ok(cwd: string, args: string[]) {
  const result = await cli([...args, '--json'], { cwd });
  assert.equal(result.code, 0, `atelier ${args.join(' ')}: ${result.stderr}`);
  return result.json;
}

const statuses = (run: any) => run.steps.map((s: any) => `${s.step}:${s.status}`);

describe('pipeline file', () => {
  test('errors name the file, line and field', () => {
    const text = 'name: ct\nsteps:\n  import: { dataset: housing }\n  train: { config: m.yaml }\n  push: { policy: sometimes }\n';
    assert.throws(() => parsePipeline(text, 'p.yaml'), /^AtelierError: p\.yaml:5: steps\.push\.policy: Invalid option: expected one of "automatic"\|"locked"$/);
    assert.throws(() => parsePipeline(text.replace('sometimes', 'automatic'), 'p.yaml'), /p\.yaml:5: steps\.push: push needs a bless step/);
    assert.throws(() => parsePipeline('name: ct\nsteps:\n  import: { dataset: housing }\n  train: { config: m.yaml, epochs: 3 }\n', 'p.yaml'), /p\.yaml:4: steps\.train\.epochs: unknown field/);
    assert.throws(() => parsePipeline('name: ct\nsteps:\n  import: { dataset: housing }\n', 'p.yaml'), /p\.yaml:3: steps\.train: required field is missing/);
    const parsed = parsePipeline('name: ct\nsteps:\n  import: { dataset: housing }\n  statistics:\n  train: { config: m.yaml }\n', '/x/p.yaml');
    assert.deepEqual(parsed.config.steps.statistics, {});
    assert.equal(parsed.paths.modelConfig, '/x/m.yaml');
  });

  test('a sliding window keeps the last N versions, and those of the last D days', () => {
    const v = (version: number, day: number) => ({ version, createdAt: `2026-01-${String(day).padStart(2, '0')}T00:00:00.000Z` }) as DatasetVersionRecord;
    const all = [v(1, 1), v(2, 5), v(4, 9), v(3, 8)];
    assert.deepEqual(windowMembers(all, { versions: 2 }).map((m) => m.version), [3, 4]);
    assert.deepEqual(windowMembers(all, { days: 4 }).map((m) => m.version), [2, 3, 4]);
    assert.deepEqual(windowMembers(all, { versions: 5, days: 1 }).map((m) => m.version), [3, 4]);
  });
});

describe('pipeline run: cached steps, resume after a kill', () => {
  test('an unchanged rerun is all cached; a run killed during training resumes after validation and trains once', async () => {
    const cwd = tempDir();
    await ok(cwd, ['init']);
    // A net slow enough (seconds) to be killed while it trains.
    writeFileSync(
      join(cwd, 'slow.yaml'),
      'name: slow\ntask: regression\ndata: { dataset: housing, label: MEDV }\nmodel: { family: dnn, hidden_units: [64, 64] }\ntraining: { epochs: 300, batch_size: 8, early_stopping: false }\n',
    );
    const pipeline = (config: string) =>
      `name: ct\nsteps:\n  import: { source: ${HOUSING}, dataset: housing }\n  statistics:\n  validate: { schema: ${SCHEMA} }\n  train: { config: ${config} }\n  evaluate:\n  bless:\n  push: { policy: automatic }\n`;
    writeFileSync(join(cwd, 'slow-ct.yaml'), pipeline('slow.yaml'));

    const child = spawn(process.execPath, [CLI, 'pipeline', 'run', 'slow-ct.yaml'], { cwd, env: { ...process.env, ATELIER_WORKSPACE: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    const exited = new Promise<number | null>((done) => child.on('close', (code, signal) => done(signal ? null : code)));
    await new Promise<void>((done, fail) => {
      child.stderr.on('data', (d) => {
        stderr += d;
        if (/dnn on \d+ rows/.test(stderr)) done();
      });
      void exited.then(() => fail(new Error(`the run ended before training: ${stderr}`)));
    });
    child.kill('SIGKILL');
    assert.equal(await exited, null);
    assert.match(stderr, /✓ validate/);
    assert.deepEqual((await ok(cwd, ['models', 'list'])).models, []);

    const resumed = await ok(cwd, ['pipeline', 'run', 'slow-ct.yaml']);
    assert.equal(resumed.status, 'succeeded');
    assert.deepEqual(statuses(resumed), ['import:cached', 'statistics:cached', 'validate:cached', 'train:done', 'evaluate:done', 'bless:done', 'push:done']);
    const again = await ok(cwd, ['pipeline', 'run', 'slow-ct.yaml']);
    assert.deepEqual(statuses(again), ['import:cached', 'statistics:cached', 'validate:cached', 'train:cached', 'evaluate:cached', 'bless:cached', 'push:cached']);
    const versions = (await ok(cwd, ['models', 'versions', 'slow'])).versions ?? (await ok(cwd, ['models', 'list'])).models[0].versions;
    assert.equal(versions.length, 1, 'trained once');
    const { events } = await ok(cwd, ['history']);
    assert.deepEqual(
      events.filter((e: any) => e.kind.startsWith('run.')).map((e: any) => e.kind),
      ['run.started', 'run.failed', 'run.started', 'run.finished'],
      'the killed run started and never finished (the next command found its process gone); the resumed one finished',
    );
  });
});

describe('pipeline windows: over the dataset\'s validated deliveries', () => {
  test('a second pipeline over the same dataset and schema trains its first run on the last three deliveries, not on one', { timeout: 300_000 }, async () => {
    const cwd = tempDir();
    await ok(cwd, ['init']);
    // Three deliveries of the same distribution (every third row each), so none drifts.
    const [header, ...rows] = readFileSync(HOUSING, 'utf8').trim().split('\n');
    mkdirSync(join(cwd, 'deliveries'));
    for (let d = 0; d < 3; d++) writeFileSync(join(cwd, 'deliveries', `d${d + 1}.csv`), [header, ...rows.filter((_r, i) => i % 3 === d)].join('\n') + '\n');
    const pipeline = (name: string, model: string) =>
      `name: ${name}\nsteps:\n  import: { dataset: housing }\n  statistics:\n  validate: { schema: ${SCHEMA} }\n  train: { config: ${model}.yaml, window: { versions: 3 } }\n  evaluate:\n  bless:\n  push: { policy: locked }\n`;
    for (const model of ['first', 'second']) {
      writeFileSync(join(cwd, `${model}.yaml`), `name: ${model}\ntask: regression\ndata: { dataset: housing, label: MEDV }\nmodel: { family: linear }\n`);
      writeFileSync(join(cwd, `${model}-ct.yaml`), pipeline(`${model}-ct`, model));
    }
    await ok(cwd, ['pipeline', 'watch', 'first-ct.yaml', '--dir', 'deliveries', '--once']);
    const rowsOf = async (model: string) => {
      const shown = await ok(cwd, ['models', 'show', model]);
      const [name, version] = String(shown.dataset).split('@');
      return { dataset: shown.dataset, rows: (await ok(cwd, ['data', 'show', `${name}@${version}`])).rowCount };
    };
    assert.deepEqual(await rowsOf('first@3'), { dataset: 'housing-window@2', rows: rows.length });
    // The second pipeline sees the newest delivery only, yet its window holds the three validated ones.
    await ok(cwd, ['pipeline', 'run', 'second-ct.yaml', '--source', join('deliveries', 'd3.csv')]);
    assert.deepEqual(await rowsOf('second@1'), { dataset: 'housing-window@2', rows: rows.length }, 'the same three deliveries: the same merged version');
  });
});
