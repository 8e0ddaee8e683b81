import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { cli, HOUSING, ROOT, tempDir } from './helpers.js';

const BASELINE = join(ROOT, 'examples', 'housing', 'blessing', 'baseline.yaml');
const CHALLENGER = join(ROOT, 'examples', 'housing', 'blessing', 'challenger.yaml');

async function ok(cwd: string, args: string[]) {
  const result = await cli([...args, '--json'], { cwd });
  assert.equal(result.code, 0, `atelier ${args.join(' ')}: ${result.stderr}`);
  return result.json;
}

describe('blessing: champion against challenger (housing)', () => {
  const cwd = tempDir();
  let first: any;
  let second: any;
  let third: any;

  before(async () => {
    await ok(cwd, ['init']);
    await ok(cwd, ['data', 'import', HOUSING, '--name', 'housing']);
    first = await ok(cwd, ['train', BASELINE]);
    await ok(cwd, ['models', 'promote', 'houses@1', '--reason', 'first model']);
    second = await ok(cwd, ['train', CHALLENGER]);
  });

  test('a first version has no champion: only its absolute bounds are checked', () => {
    assert.equal(first.version, 1);
    assert.equal(first.validation.blessed, true);
    assert.deepEqual(first.validation.champion, { alias: 'production', version: null });
    assert.deepEqual(
      first.validation.checks.map((c: any) => [c.metric, c.champion, c.passed]),
      [['rmse', null, true]],
    );
  });

  test('the better config is blessed against production, both evaluated on the same held-out rows', () => {
    const v = second.validation;
    assert.equal(v.blessed, true);
    assert.deepEqual(v.champion, { alias: 'production', version: 1 });
    assert.deepEqual(v.data, { dataset: 'housing@1', split: 'eval', rows: first.rows.eval });
    const rmse = v.checks.find((c: any) => c.metric === 'rmse');
    // The champion's number is its own held-out RMSE: the same rows, the same bundle.
    assert.ok(Math.abs(rmse.champion - first.metrics.rmse) < 1e-9, `${rmse.champion} vs ${first.metrics.rmse}`);
    assert.ok(Math.abs(rmse.challenger - second.metrics.rmse) < 1e-9);
    assert.ok(rmse.challenger <= 0.99 * rmse.champion && rmse.challenger <= 4.0);
    assert.deepEqual(v.checks.map((c: any) => c.metric), ['rmse', 'r2']);
  });

  test('promote takes the blessed version; an unblessed one is refused unless --force, which is recorded', async () => {
    const promoted = await ok(cwd, ['models', 'promote', 'houses@2', '--reason', 'blessed challenger']);
    assert.deepEqual([promoted.version, promoted.previous, promoted.blessed, promoted.forced], [2, 1, true, false]);

    third = await ok(cwd, ['train', CHALLENGER]); // the same trees again: not 1% better than production
    assert.equal(third.validation.blessed, false);
    assert.match(third.validation.checks[0].failures[0], /rmse 2\.\d+ is not 1% better than the champion's 2\.\d+ \(needed <= 2\.\d+\)/);

    const refused = await cli(['models', 'promote', 'houses@3'], { cwd });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr.trim(), /^atelier: houses@3 is not blessed, so it cannot become production: it failed validation: rmse .* --force promotes it anyway/);
    const json = await cli(['models', 'promote', 'houses@3', '--json'], { cwd });
    assert.equal(json.json.error.code, 'MODEL_NOT_BLESSED');
    const list = await ok(cwd, ['models', 'list']);
    assert.deepEqual(list.models[0].versions.find((v: any) => v.version === 2).aliases, ['production']);

    const again = await cli(['models', 'validate', 'houses@3', '--json'], { cwd });
    assert.equal(again.code, 1);
    assert.equal(again.json.blessed, false);

    const forced = await ok(cwd, ['models', 'promote', 'houses@3', '--force', '--reason', 'hotfix']);
    assert.deepEqual([forced.version, forced.previous, forced.blessed, forced.forced], [3, 2, false, true]);
    const rolled = await ok(cwd, ['models', 'rollback', 'houses', '--reason', 'back to the blessed one']);
    assert.deepEqual([rolled.from, rolled.to], [3, 2]);
  });

  test('history shows every step: validations, promotions (blessed, forced), the rollback', async () => {
    const { events } = await ok(cwd, ['history']);
    const steps = events
      .filter((e: any) => ['model.validated', 'model.promoted', 'model.rolled_back'].includes(e.kind))
      .sort((a: any, b: any) => a.seq - b.seq)
      .map((e: any) => `${e.kind} ${e.subject}${e.kind === 'model.validated' ? ` ${e.details.blessed}` : ''}${e.kind === 'model.promoted' ? ` forced=${e.details.forced}` : ''}`);
    assert.deepEqual(steps, [
      'model.validated houses@1 true',
      'model.promoted houses@1 forced=false',
      'model.validated houses@2 true',
      'model.promoted houses@2 forced=false',
      'model.validated houses@3 false',
      'model.validated houses@3 false',
      'model.promoted houses@3 forced=true',
      'model.rolled_back houses@2',
    ]);
  });

  test('the registry keeps with each version its importance, charts, split, config hash and verdict', async () => {
    const shown = await ok(cwd, ['models', 'show', 'houses@2']);
    assert.deepEqual(shown.evaluation.importance.features.slice(0, 2).map((f: any) => f.feature).sort(), ['LSTAT', 'RM']);
    assert.equal(shown.evaluation.importance.metric, 'rmse');
    assert.ok(['importance', 'residuals', 'training'].every((c) => c in shown.evaluation.charts), Object.keys(shown.evaluation.charts).join());
    assert.equal(shown.verdict.blessed, true);
    assert.match(shown.run.configHash, /^[0-9a-f]{64}$/);
    assert.equal(shown.run.params.split.evalRows, first.rows.eval);
    assert.ok(shown.run.params.parameters, 'a summary of the learned parameters');
  });

  test('the verdict travels with an exported bundle, so the importing workspace may promote it', async () => {
    const archive = join(tempDir(), 'houses.tgz');
    await ok(cwd, ['models', 'export', 'houses@2', archive]);
    const other = tempDir();
    await ok(other, ['init']);
    await ok(other, ['models', 'import', archive]);
    const promoted = await ok(other, ['models', 'promote', 'houses@1']);
    assert.equal(promoted.blessed, true);
    await ok(cwd, ['models', 'export', 'houses@3', archive]);
    await ok(other, ['models', 'import', archive]);
    const refused = await cli(['models', 'promote', 'houses@2', '--json'], { cwd: other });
    assert.equal(refused.json.error.code, 'MODEL_NOT_BLESSED');
  });
});
