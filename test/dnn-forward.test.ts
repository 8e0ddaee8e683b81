import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DnnModelConfig } from '../src/core/config.js';
import { seededRandom } from '../src/core/random.js';
import type { Task } from '../src/models/family.js';
import { dnnFamily, JS_FORWARD_MAX_ROWS } from '../src/models/dnn/index.js';
import { tempDir } from './helpers.js';

const COLS = 6;
const ROWS = 200;

function data(task: Task, classes: number) {
  const random = seededRandom(3);
  const x = Float32Array.from({ length: ROWS * COLS }, () => random() * 4 - 2);
  const y = new Float64Array(ROWS);
  for (let i = 0; i < ROWS; i++) {
    const v = Math.sin(x[i * COLS]!) + x[i * COLS + 1]! * x[i * COLS + 2]! + 3;
    y[i] = task === 'regression' ? v * 10 : Math.min(classes - 1, Math.floor((v / 6) * classes));
  }
  return { x: { data: x, rows: ROWS, cols: COLS }, y };
}

const CASES: { name: string; task: Task; classes: number; params: DnnModelConfig }[] = [
  { name: 'regression, relu', task: 'regression', classes: 0, params: { family: 'dnn', hidden_units: [16, 8], activation: 'relu', dropout: 0, l2: 0, batch_norm: false } },
  { name: 'regression, elu, batch norm, dropout', task: 'regression', classes: 0, params: { family: 'dnn', hidden_units: [12], activation: 'elu', dropout: 0.2, l2: 0, batch_norm: true } },
  { name: 'binary, tanh', task: 'binary', classes: 2, params: { family: 'dnn', hidden_units: [10, 10], activation: 'tanh', dropout: 0, l2: 0.01, batch_norm: false } },
  { name: 'multiclass, selu', task: 'multiclass', classes: 3, params: { family: 'dnn', hidden_units: [9], activation: 'selu', dropout: 0, l2: 0, batch_norm: false } },
  { name: 'multiclass, sigmoid', task: 'multiclass', classes: 4, params: { family: 'dnn', hidden_units: [7, 5], activation: 'sigmoid', dropout: 0, l2: 0, batch_norm: false } },
];

for (const c of CASES) {
  test(`small batches (JavaScript forward pass) predict what TF.js predicts: ${c.name}`, async () => {
    const train = data(c.task, c.classes);
    const { model } = await dnnFamily.fit({
      task: c.task,
      numClasses: c.classes,
      train,
      params: c.params,
      training: { epochs: 5, batchSize: 32, optimizer: c.task === 'regression' && !c.params.batch_norm ? 'adam' : 'rmsprop', learningRate: 0.01, seed: 7 },
    });
    // Saved and loaded, as serving sees it.
    const dir = tempDir();
    await model.save(dir);
    const loaded = await dnnFamily.load(dir);
    const rows = JS_FORWARD_MAX_ROWS;
    const small = { data: train.x.data.subarray(0, rows * COLS), rows, cols: COLS };
    // The same rows inside a batch too large for the JavaScript path: TF.js answers them.
    const reference = await loaded.predict(train.x);
    for (const m of [model, loaded]) {
      const fast = await m.predict(small);
      assert.equal(fast.length, rows * m.outputWidth);
      for (let i = 0; i < fast.length; i++) {
        assert.ok(Math.abs(fast[i]! - reference[i]!) <= 1e-6 * Math.max(1, Math.abs(reference[i]!)), `${c.name}, value ${i}: ${fast[i]} vs TF.js ${reference[i]}`);
      }
      const one = await m.predict({ data: train.x.data.subarray(COLS, 2 * COLS), rows: 1, cols: COLS });
      for (let k = 0; k < m.outputWidth; k++) assert.ok(Math.abs(one[k]! - reference[m.outputWidth + k]!) <= 1e-6 * Math.max(1, Math.abs(reference[m.outputWidth + k]!)));
    }
    model.dispose();
    loaded.dispose();
  });
}
