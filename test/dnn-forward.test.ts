import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DnnModelConfig } from '../src/core/config.js';
import { seededRandom } from '../src/core/random.js';
import type { Task } from '../src/models/family.js';
import { dnnFamily, JS_FORWARD_MAX_ROWS } from '../src/models/dnn/index.js';
import type { Matrix } from '../src/features/transform.js';
import type { TrainedModel } from '../src/models/family.js';
import { tempDir } from './helpers.js';

/** TF.js's predict, the reference the JavaScript and wasm paths are held to. */
function viaTfjs(model: TrainedModel, x: Matrix): Promise<Float64Array> {
  return (model as unknown as { predictTf(x: Matrix): Promise<Float64Array> }).predictTf(x);
}

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
    // The same rows through TF.js's own predict.
    const reference = await viaTfjs(loaded, train.x);
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

/** A relu net (on the wasm kernel) fitted for 3 epochs, and the same model saved and loaded, as serving sees it. */
async function reluNetSavedAndLoaded(task: Task, classes: number, x: Matrix, y: Float64Array, hidden_units: number[]): Promise<{ model: TrainedModel; loaded: TrainedModel }> {
  const { model } = await dnnFamily.fit({
    task,
    numClasses: classes,
    train: { x, y },
    params: { family: 'dnn', hidden_units, activation: 'relu', dropout: 0, l2: 0, batch_norm: false },
    training: { epochs: 3, batchSize: 64, optimizer: 'adam', learningRate: 0.01, seed: 3 },
  });
  const dir = tempDir();
  await model.save(dir);
  return { model, loaded: await dnnFamily.load(dir) };
}

test('large batches of plain dense regressors (wasm kernel) predict what TF.js predicts', async () => {
  const random = seededRandom(5);
  // 7 inputs (padded to 8 in the kernel), 2 outputs would not be a regressor: one output, padded to 4.
  const cols = 7;
  const rows = 2 * 1024 + 13; // two whole kernel blocks and a ragged one
  const x = Float32Array.from({ length: rows * cols }, () => random() * 4 - 2);
  const y = Float64Array.from({ length: rows }, (_v, i) => 5 * Math.sin(x[i * cols]!) + x[i * cols + 1]! * x[i * cols + 6]! + 20);
  for (const hidden_units of [[16, 8], [33]]) {
    const { model, loaded } = await reluNetSavedAndLoaded('regression', 0, { data: x, rows, cols }, y, hidden_units);
    const matrix = { data: x, rows, cols };
    const reference = await viaTfjs(loaded, matrix);
    const spread = Math.max(...reference) - Math.min(...reference);
    assert.ok(spread > 1, `the net learned something (outputs spread ${spread})`);
    for (const m of [model, loaded]) {
      const got = await m.predict(matrix);
      assert.equal(got.length, rows);
      for (let i = 0; i < rows; i++) {
        assert.ok(Math.abs(got[i]! - reference[i]!) <= 1e-5 * Math.max(1, Math.abs(reference[i]!)), `${hidden_units}, row ${i}: ${got[i]} vs TF.js ${reference[i]}`);
      }
      // A batch of 17 rows (just above the JavaScript path) and the same rows inside the whole batch agree.
      const some = await m.predict({ data: x.subarray(100 * cols, 117 * cols), rows: 17, cols });
      for (let i = 0; i < 17; i++) assert.equal(some[i], got[100 + i]);
    }
    model.dispose();
    loaded.dispose();
  }
});

test('large batches of relu classifiers (sigmoid and softmax heads, trained and predicted on the wasm kernel) predict what TF.js predicts', { timeout: 60_000 }, async () => {
  const random = seededRandom(9);
  const cols = 5;
  const rows = 1024 + 37;
  const x = Float32Array.from({ length: rows * cols }, () => random() * 4 - 2);
  for (const [task, classes] of [['binary', 2], ['multiclass', 3]] as const) {
    const y = Float64Array.from({ length: rows }, (_v, i) => Math.min(classes - 1, Math.floor(((Math.sin(x[i * cols]!) + x[i * cols + 1]! + 3) / 6) * classes)));
    const { model, loaded } = await reluNetSavedAndLoaded(task, classes, { data: x, rows, cols }, y, [12, 6]);
    const matrix = { data: x, rows, cols };
    const reference = await viaTfjs(loaded, matrix);
    for (const m of [model, loaded]) {
      const got = await m.predict(matrix);
      assert.equal(got.length, reference.length);
      for (let i = 0; i < got.length; i++) assert.ok(Math.abs(got[i]! - reference[i]!) <= 1e-5, `${task}, value ${i}: ${got[i]} vs TF.js ${reference[i]}`);
    }
    model.dispose();
    loaded.dispose();
  }
});
