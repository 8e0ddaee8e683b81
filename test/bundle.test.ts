import assert from 'node:assert/strict';
import { appendFileSync, cpSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { parseModelConfig } from '../src/core/config.js';
import { AtelierError } from '../src/core/errors.js';
import type { RegressionMetrics } from '../src/evaluation/metrics.js';
import { initWorkspace } from '../src/core/workspace.js';
import { loadBundle } from '../src/bundle/load.js';
import { importDataset } from '../src/data/datasets.js';
import { readNumericColumns } from '../src/data/datasets.js';
import { rowsToColumns, transformColumns } from '../src/features/transform.js';
import { buildServer } from '../src/serving/server.js';
import { registerModelVersion } from '../src/registry/models.js';
import { openContext, type AtelierContext } from '../src/store/context.js';
import { runFolder, train, type TrainResult } from '../src/training/train.js';
import { readEvents } from '../src/training/tensorboard/index.js';
import { HOUSING, tempDir } from './helpers.js';

const CONFIG = `
name: small
task: regression
data: { dataset: housing, label: MEDV }
model: { family: dnn, hidden_units: [8] }
training: { epochs: 5, seed: 7 }
`;

describe('model bundle', () => {
  let ctx: AtelierContext;
  let trained: TrainResult;
  before(async () => {
    ctx = await openContext(initWorkspace(tempDir()));
    await importDataset(ctx, HOUSING, 'housing');
    trained = await train(ctx, parseModelConfig(CONFIG, 'small.yaml'));
  });

  test('the same config, data and seed give the same bundle, bit for bit', async () => {
    const again = await train(ctx, parseModelConfig(CONFIG, 'small.yaml'));
    assert.equal(again.manifest.contentHash, trained.manifest.contentHash);
    assert.deepEqual(again.metrics, trained.metrics);
  });

  test('features come out identical on the training path and the raw-row path', async () => {
    const bundle = await loadBundle(trained.bundleDir);
    try {
      const version = (await ctx.store.getDatasetVersion('housing'))!;
      const names = bundle.transform.inputs.map((i) => i.name);
      const columns = await readNumericColumns(ctx, version, names);
      const rows = Array.from({ length: version.rowCount }, (_v, i) => Object.fromEntries(names.map((n) => [n, columns.get(n)![i]!])));
      const fromColumns = transformColumns(bundle.transform, columns, version.rowCount);
      const fromRows = transformColumns(bundle.transform, rowsToColumns(bundle.transform, rows), rows.length);
      assert.deepEqual(fromRows.data, fromColumns.data);
      const online = await bundle.predict(rows);
      const batch = await bundle.predictColumns(columns, version.rowCount);
      assert.deepEqual(online, Array.from(batch));
      // One row at a time (as the server sees single requests) matches the batch: to float32
      // rounding, as small batches of a DNN run through the JavaScript forward pass.
      for (const i of [0, 17, 505]) {
        const one = (await bundle.predict([rows[i]]))[0] as number;
        assert.ok(Math.abs(one - batch[i]!) <= 1e-6 * Math.max(1, Math.abs(batch[i]!)), `row ${i}: ${one} alone, ${batch[i]} in the batch`);
      }
    } finally {
      bundle.dispose();
    }
  });

  test('the run writes TensorBoard events: losses per epoch, weight histograms, final metrics', async () => {
    const folder = runFolder(ctx, trained.run);
    const files = readdirSync(folder).filter((f) => f.includes('tfevents'));
    assert.equal(files.length, 1);
    const events = readEvents(join(folder, files[0]!));
    assert.equal(events[0]!.fileVersion, 'brain.Event:2');
    const values = events.flatMap((e) => (e.summary?.value ?? []).map((v) => ({ step: e.step, ...v })));
    const losses = values.filter((v) => v.tag === 'loss/train_rmse');
    assert.deepEqual(losses.map((v) => v.step), [1, 2, 3, 4, 5]);
    assert.ok(values.some((v) => v.tag === 'weights/hidden_0/kernel' && v.histo && v.histo.num === 13 * 8));
    const rmse = values.find((v) => v.tag === 'eval/rmse');
    assert.ok(rmse && Math.abs(rmse.simpleValue! - (trained.metrics as RegressionMetrics).rmse) < 1e-4);
  });

  test('bundle.json lists every file with its hash, and a signature', () => {
    const manifest = JSON.parse(readFileSync(join(trained.bundleDir, 'bundle.json'), 'utf8'));
    assert.deepEqual(Object.keys(manifest.files).sort(), [
      'evaluation/charts/importance.svg',
      'evaluation/charts/residuals.svg',
      'evaluation/charts/training.svg',
      'evaluation/importance.json',
      'evaluation/metrics.json',
      'evaluation/report.json',
      'model/model.json',
      'model/target.json',
      'model/weights.bin',
      'schema.json',
      'stats.json',
      'transform.json',
    ]);
    assert.equal(manifest.signature.inputs.length, 13);
    assert.deepEqual(manifest.signature.outputs, [{ name: 'prediction', dtype: 'float64', shape: [] }]);
  });

  test('an altered or missing file is refused on load, naming the file', async () => {
    const altered = join(tempDir(), 'bundle');
    cpSync(trained.bundleDir, altered, { recursive: true });
    appendFileSync(join(altered, 'model', 'weights.bin'), Buffer.from([1]));
    await assert.rejects(loadBundle(altered), (e: unknown) => e instanceof AtelierError && e.code === 'BUNDLE_INVALID' && /model\/weights\.bin was altered/.test(e.message));

    const missing = join(tempDir(), 'bundle');
    cpSync(trained.bundleDir, missing, { recursive: true });
    rmSync(join(missing, 'transform.json'));
    await assert.rejects(loadBundle(missing), /file transform\.json is missing/);
  });

  test('the server refuses to serve a corrupted bundle and says why', async () => {
    const version = await registerModelVersion(ctx, {
      model: 'small',
      runId: trained.run.id,
      bundleUri: trained.bundleUri,
      bundleHash: trained.manifest.contentHash,
      metrics: { ...trained.metrics },
    });
    const target = join(trained.bundleDir, 'transform.json');
    const original = readFileSync(target);
    appendFileSync(target, ' ');
    const { app } = await buildServer(ctx, { processMetrics: false });
    try {
      const response = await app.inject({ method: 'POST', url: `/v1/models/small/versions/${version.version}:predict`, payload: { instances: [] } });
      assert.equal(response.statusCode, 500);
      assert.match(response.json().error, /file transform\.json was altered/);
    } finally {
      await app.close();
      const { writeFileSync } = await import('node:fs');
      writeFileSync(target, original);
    }
  });
});
