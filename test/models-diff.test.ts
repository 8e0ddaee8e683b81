import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { cli, HOUSING, ROOT, tempDir } from './helpers.js';

/** `models diff` compares metrics on the same rows (B's held-out split), as blessing does. */
describe('models diff: metrics on the same rows', () => {
  let ws: string;
  const ok = async (args: string[]) => {
    const result = await cli([...args, '--json'], { cwd: ws });
    assert.equal(result.code, 0, `atelier ${args.join(' ')}: ${result.stderr}`);
    return result.json;
  };

  before(async () => {
    ws = tempDir('atelier-diff-');
    const lines = readFileSync(HOUSING, 'utf8').trim().split('\n');
    writeFileSync(join(ws, 'later.csv'), [lines[0], ...lines.slice(200)].join('\n') + '\n');
    const config = join(ROOT, 'examples', 'housing', 'linear.yaml');
    await ok(['init', '.']);
    await ok(['data', 'import', HOUSING, '--name', 'housing']);
    await ok(['train', config]); // housing-linear@1 on housing@1
    await ok(['data', 'import', 'later.csv', '--name', 'housing']);
    await ok(['train', config]); // housing-linear@2 on housing@2: other rows
  });

  test('by default both versions are measured on B\'s held-out rows; B\'s figures equal its recorded ones', { timeout: 120_000 }, async () => {
    const diff = await ok(['models', 'diff', 'housing-linear@1', 'housing-linear@2']);
    assert.equal(diff.metricsOn.sameRows, true);
    assert.equal(diff.metricsOn.dataset, 'housing@2');
    const shown = await ok(['models', 'show', 'housing-linear@2']);
    assert.equal(diff.metricsOn.rows, shown.metrics.count);
    const rmse = diff.metrics.find((m: { name: string }) => m.name === 'rmse');
    assert.ok(Math.abs(rmse.b - shown.metrics.rmse) < 1e-9, `${rmse.b} against recorded ${shown.metrics.rmse}`);
    const recordedA = (await ok(['models', 'show', 'housing-linear@1'])).metrics.rmse;
    assert.notEqual(rmse.a, recordedA, 'version 1 measured on other rows than its own held-out split');
    const human = await cli(['models', 'diff', 'housing-linear@1', 'housing-linear@2'], { cwd: ws });
    assert.match(human.stdout, new RegExp(`metrics, both measured on the same ${shown.metrics.count} rows \\(housing@2, held-out split\\):`));
  });

  test('train --data NAME@V retrains on another dataset version without editing the config', { timeout: 120_000 }, async () => {
    const trained = await ok(['train', join(ROOT, 'examples', 'housing', 'linear.yaml'), '--data', 'housing@1']);
    assert.equal(trained.dataset, 'housing@1'); // the config names `housing`, whose latest is housing@2
    const shown = await ok(['models', 'show', `housing-linear@${trained.version}`]);
    assert.equal(shown.dataset, 'housing@1');
    const missing = await cli(['train', join(ROOT, 'examples', 'housing', 'linear.yaml'), '--data', 'housing@9'], { cwd: ws });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /housing.*9/);
  });

  test('--recorded compares the recorded metrics and says loudly that the rows differ', { timeout: 120_000 }, async () => {
    const diff = await ok(['models', 'diff', 'housing-linear@1', 'housing-linear@2', '--recorded']);
    assert.equal(diff.metricsOn.sameRows, false);
    const human = await cli(['models', 'diff', 'housing-linear@1', 'housing-linear@2', '--recorded'], { cwd: ws });
    assert.match(human.stdout, /metrics \(NOT on the same rows: recorded held-out metrics: each version was measured on its own held-out split\):/);
  });
});

describe('models show and evaluate: one permutation importance', () => {
  test('for the same version and split they report the same figures (same rows, shuffles and seed)', { timeout: 120_000 }, async () => {
    const ws = tempDir('atelier-importance-');
    const run = async (args: string[]) => {
      const result = await cli([...args, '--json'], { cwd: ws });
      assert.equal(result.code, 0, `atelier ${args.join(' ')}: ${result.stderr}`);
      return result.json;
    };
    await run(['init', '.']);
    await run(['data', 'import', HOUSING, '--name', 'housing']);
    await run(['train', join(ROOT, 'examples', 'housing', 'linear.yaml')]);
    const kept = (await run(['models', 'show', 'housing-linear'])).evaluation.importance;
    const measured = (await run(['evaluate', 'housing-linear'])).importance;
    assert.ok(kept.features.length > 5);
    assert.deepEqual(measured, kept);
  });
});
