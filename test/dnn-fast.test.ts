import assert from 'node:assert/strict';
import { test } from 'node:test';
import type * as TF from '@tensorflow/tfjs';
import { seededRandom } from '../src/core/random.js';
import { FastDenseTrainer, fastPathUnsupported } from '../src/models/dnn/fast-train.js';
import { loadLayersModel, saveLayersModel } from '../src/models/dnn/files.js';
import { buildNetwork } from '../src/models/dnn/network.js';
import { tensorflow } from '../src/models/tf.js';
import { tempDir } from './helpers.js';

const ROWS = 300; // not a multiple of the batch: the last batch is short
const COLS = 5;
const BATCH = 64;
const EPOCHS = 4;
const LR = 0.01;
const PARAMS = { hidden_units: [16, 8], activation: 'relu' as const, dropout: 0, l2: 0, batch_norm: false };

function data() {
  const random = seededRandom(11);
  const x = Float32Array.from({ length: ROWS * COLS }, () => random());
  const y = new Float32Array(ROWS);
  for (let i = 0; i < ROWS; i++) y[i] = Math.sin(3 * x[i * COLS]!) + x[i * COLS + 1]! * x[i * COLS + 2]! - 0.5;
  return { x, y };
}

test('the fast dense path follows the layers path (same init, same batches) and saves a loadable layers model', async () => {
  const tf = await tensorflow();
  const { x, y } = data();
  const layered = buildNetwork(tf, COLS, PARAMS, 5, 1, 'regression');
  const fastNet = buildNetwork(tf, COLS, PARAMS, 5, 1, 'regression');
  layered.compile({ optimizer: tf.train.adam(LR), loss: 'meanSquaredError' });
  assert.equal(fastPathUnsupported(fastNet, 'regression', 'adam'), undefined);
  const trainer = new FastDenseTrainer(tf, fastNet, { learningRate: LR });

  const slow: number[] = [];
  const fast: number[] = [];
  for (let epoch = 0; epoch < EPOCHS; epoch++) {
    for (let start = 0; start < ROWS; start += BATCH) {
      const size = Math.min(BATCH, ROWS - start);
      const xs = x.slice(start * COLS, (start + size) * COLS);
      const ys = y.slice(start, start + size);
      const xt = tf.tensor2d(xs, [size, COLS]);
      const yt = tf.tensor2d(ys, [size, 1]);
      slow.push((await layered.trainOnBatch(xt, yt)) as number);
      xt.dispose();
      yt.dispose();
      fast.push(trainer.step(xs, ys, size));
    }
  }
  assert.ok(fast[fast.length - 1]! < fast[0]! * 0.7, `the loss falls: ${fast[0]} -> ${fast[fast.length - 1]}`);
  for (let i = 0; i < slow.length; i++) {
    assert.ok(Math.abs(slow[i]! - fast[i]!) <= 1e-4 * Math.max(1, Math.abs(slow[i]!)), `step ${i}: layers ${slow[i]} vs fast ${fast[i]}`);
  }
  trainer.syncToNetwork();
  const a = layered.getWeights().map((w) => w.dataSync());
  const b = fastNet.getWeights().map((w) => w.dataSync());
  for (let k = 0; k < a.length; k++) {
    for (let i = 0; i < a[k]!.length; i++) assert.ok(Math.abs(a[k]![i]! - b[k]![i]!) < 1e-4, `weight ${k}[${i}]: ${a[k]![i]} vs ${b[k]![i]}`);
  }

  // The saved files are the layers format: tf.loadLayersModel gives back identical predictions.
  const dir = tempDir('atelier-dnn-fast-');
  await saveLayersModel(tf, fastNet, dir);
  const loaded = await loadLayersModel(tf, dir);
  const input = tf.tensor2d(x, [ROWS, COLS]);
  const before = (fastNet.predict(input) as TF.Tensor).dataSync();
  const after = (loaded.predict(input) as TF.Tensor).dataSync();
  assert.deepEqual(Array.from(after), Array.from(before));
  input.dispose();
  for (const m of [layered, fastNet, loaded]) m.dispose();
});

test('the fast dense path declines what it does not implement', async () => {
  const tf = await tensorflow();
  const cases: [Parameters<typeof buildNetwork>[2], string, string, string][] = [
    [{ ...PARAMS, dropout: 0.1 }, 'regression', 'adam', 'layer Dropout'],
    [{ ...PARAMS, l2: 0.01 }, 'regression', 'adam', 'regularizer'],
    [{ ...PARAMS, activation: 'tanh' }, 'regression', 'adam', 'activation tanh'],
    [PARAMS, 'regression', 'sgd', 'optimizer sgd'],
  ];
  for (const [params, task, optimizer, reason] of cases) {
    const net = buildNetwork(tf, COLS, params, 1, 1, task as 'regression');
    assert.equal(fastPathUnsupported(net, task, optimizer), reason);
    net.dispose();
  }
  // Classifiers' heads (sigmoid, softmax) train on the kernel; a head that is not the task's does not.
  const binary = buildNetwork(tf, COLS, PARAMS, 1, 1, 'binary');
  const multiclass = buildNetwork(tf, COLS, PARAMS, 1, 3, 'multiclass');
  assert.equal(fastPathUnsupported(binary, 'binary', 'adam'), undefined);
  assert.equal(fastPathUnsupported(multiclass, 'multiclass', 'adam'), undefined);
  assert.equal(fastPathUnsupported(binary, 'regression', 'adam'), 'task regression with a sigmoid output');
  binary.dispose();
  multiclass.dispose();
});
