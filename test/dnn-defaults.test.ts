import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { seededRandom } from '../src/core/random.js';
import { defaultBatchSize } from '../src/training/fit.js';
import { cli, tempDir } from './helpers.js';

/** A small binary set (200 rows, 4 features, a noisy logistic label): the size where a net fitted for all its epochs overfits. */
function smallBinaryCsv(path: string): void {
  const random = seededRandom(5);
  const lines = ['a,b,c,d,label'];
  for (let i = 0; i < 200; i++) {
    const x = [random(), random(), random(), random()].map((v) => 2 * v - 1);
    const z = 3 * x[0]! - 2 * x[1]! + 0.5 * x[2]!;
    lines.push(`${x.map((v) => v.toFixed(4)).join(',')},${random() < 1 / (1 + Math.exp(-z)) ? 'yes' : 'no'}`);
  }
  writeFileSync(path, lines.join('\n') + '\n');
}

test('a default DNN (only name, task, data and family) stops early on a validation slice and keeps its best epoch', { timeout: 120_000 }, async () => {
  const ws = tempDir();
  smallBinaryCsv(join(ws, 'small.csv'));
  await cli(['init'], { cwd: ws });
  assert.equal((await cli(['data', 'import', 'small.csv', '--name', 'small'], { cwd: ws })).code, 0);
  writeFileSync(join(ws, 'default.yaml'), 'name: small\ntask: binary\ndata: { dataset: small, label: label }\nmodel: { family: dnn }\n');
  const trained = await cli(['train', 'default.yaml', '--json'], { cwd: ws });
  assert.equal(trained.code, 0, trained.stderr);
  const epochs = trained.json.epochs as { run: number; best: number; stoppedEarly: boolean };
  assert.equal(epochs.stoppedEarly, true, JSON.stringify(epochs));
  assert.ok(epochs.run < 200 && epochs.best < epochs.run, JSON.stringify(epochs));

  // early_stopping: false turns it off: every epoch runs.
  writeFileSync(join(ws, 'off.yaml'), 'name: off\ntask: binary\ndata: { dataset: small, label: label }\nmodel: { family: dnn }\ntraining: { epochs: 5, early_stopping: false }\n');
  const off = await cli(['train', 'off.yaml', '--json'], { cwd: ws });
  assert.equal(off.code, 0, off.stderr);
  assert.deepEqual(off.json.epochs, { run: 5, best: 5, stoppedEarly: false });
});

test('the default batch size is 32 on small data and about 100 steps an epoch above, at most 1,024', { timeout: 10_000 }, () => {
  assert.equal(defaultBatchSize(300), 32);
  assert.equal(defaultBatchSize(3200), 32);
  assert.equal(defaultBatchSize(10_000), 64);
  assert.equal(defaultBatchSize(100_000), 512);
  assert.equal(defaultBatchSize(800_000), 1024);
});
