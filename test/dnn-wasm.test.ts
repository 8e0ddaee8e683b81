import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type * as TF from '@tensorflow/tfjs';
import { seededRandom } from '../src/core/random.js';
import { FastDenseTrainer, readDenseLayers, type DenseLayerWeights } from '../src/models/dnn/fast-train.js';
import { dnnFamily } from '../src/models/dnn/index.js';
import { buildNetwork } from '../src/models/dnn/network.js';
import { WasmDenseTrainer } from '../src/models/dnn/wasm-train.js';
import { tensorflow } from '../src/models/tf.js';
import { tempDir } from './helpers.js';

// Widths that are not multiples of 4 (5 inputs, 7 units, 1 output): the kernel pads them.
const COLS = 5;
const PARAMS = { hidden_units: [16, 7], activation: 'relu' as const, dropout: 0, l2: 0, batch_norm: false };
const LR = 0.01;

function data(rows: number, cols: number, outputs = 1, seed = 11) {
  const random = seededRandom(seed);
  const x = Float32Array.from({ length: rows * cols }, () => random());
  const y = new Float32Array(rows * outputs);
  for (let i = 0; i < rows; i++) {
    for (let o = 0; o < outputs; o++) y[i * outputs + o] = Math.sin(3 * x[i * cols + o]!) + x[i * cols + 1]! * x[i * cols + 2]! - 0.5;
  }
  return { x, y };
}

/** A net with a linear hidden layer and two outputs, which the config cannot build but the kernel trains. */
function linearHiddenNet(tf: typeof TF): TF.Sequential {
  const net = tf.sequential({ name: 'dnn' });
  net.add(tf.layers.dense({ units: 6, activation: 'linear', inputShape: [COLS], kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }), biasInitializer: 'ones' }));
  net.add(tf.layers.dense({ units: 9, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }));
  net.add(tf.layers.dense({ units: 2, activation: 'linear', kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }));
  return net;
}

/** The batch's mean squared error in float64, from the weights as given (for finite differences). */
function lossF64(layers: DenseLayerWeights[], x: Float32Array, y: Float32Array, rows: number): number {
  let sum = 0;
  const outputs = layers[layers.length - 1]!.units;
  for (let r = 0; r < rows; r++) {
    let a = Array.from(x.subarray(r * COLS, (r + 1) * COLS), Number);
    for (const l of layers) {
      const z = Array.from(l.bias, Number);
      for (let i = 0; i < l.inputs; i++) for (let j = 0; j < l.units; j++) z[j]! += a[i]! * l.kernel[i * l.units + j]!;
      a = l.relu ? z.map((v) => Math.max(v, 0)) : z;
    }
    for (let o = 0; o < outputs; o++) sum += (a[o]! - y[r * outputs + o]!) ** 2;
  }
  return sum / (rows * outputs);
}

/** The kernel's loss and gradients (`got`) against TF.js autodiff of `loss` on the layers model. */
function assertAutodiffGradients(tf: typeof TF, name: string, net: TF.LayersModel, got: ReturnType<WasmDenseTrainer['gradients']>, loss: () => TF.Scalar): void {
  const { value, grads } = tf.variableGrads(loss);
  assert.ok(Math.abs(value.dataSync()[0]! - got.loss) <= 1e-6 * Math.max(1, got.loss), `${name}: loss ${got.loss} vs TF.js ${value.dataSync()[0]}`);
  const weights = net.trainableWeights;
  got.layers.forEach((layer, l) => {
    for (const [part, mine] of [['kernel', layer.kernel], ['bias', layer.bias]] as const) {
      // A second net with the same layer names gets unique variable names (name); originalName repeats.
      const theirs = grads[weights[2 * l + (part === 'kernel' ? 0 : 1)]!.name]!.dataSync();
      // float32 sums in another order: agreement to about 1e-7 of the gradient's scale.
      mine.forEach((g, i) => assert.ok(Math.abs(g - theirs[i]!) <= 2e-6, `${name}: layer ${l} ${part}[${i}]: kernel ${g}, TF.js ${theirs[i]}`));
    }
  });
}

test('the wasm kernel computes the gradients of TF.js autodiff and of finite differences (relu and linear hidden layers, 1 and 2 outputs)', async () => {
  const tf = await tensorflow();
  for (const [name, make, outputs] of [
    ['relu 16-7-1', () => buildNetwork(tf, COLS, PARAMS, 5, 1, 'regression'), 1],
    ['linear 6, relu 9, 2 outputs', () => linearHiddenNet(tf), 2],
  ] as const) {
    const rows = 37; // odd: the second lane has padded rows
    const { x, y } = data(rows, COLS, outputs);
    const net = make();
    const trainer = await WasmDenseTrainer.create(tf, net, { learningRate: LR, threads: 1, maxBatch: 64 });
    const got = trainer.gradients(x, y, rows);

    // TF.js: the gradient of meanSquaredError with respect to every weight, on the layers model.
    assertAutodiffGradients(tf, name, net, got, () => tf.losses.meanSquaredError(tf.tensor2d(y, [rows, outputs]), net.predict(tf.tensor2d(x, [rows, COLS])) as TF.Tensor) as TF.Scalar);

    // Finite differences of the float64 loss, for a spread of weights of every layer.
    const layers = readDenseLayers(net);
    const h = 1e-3;
    layers.forEach((layer, l) => {
      for (let i = 0; i < layer.kernel.length; i += 5) {
        const w = layer.kernel[i]!;
        layer.kernel[i] = w + h;
        const up = lossF64(layers, x, y, rows);
        layer.kernel[i] = w - h;
        const down = lossF64(layers, x, y, rows);
        layer.kernel[i] = w;
        const numeric = (up - down) / (2 * h);
        const analytic = got.layers[l]!.kernel[i]!;
        assert.ok(Math.abs(numeric - analytic) <= 1e-4 + 1e-3 * Math.abs(numeric), `${name}: layer ${l} kernel[${i}]: kernel ${analytic}, finite differences ${numeric}`);
      }
    });
    await trainer.close();
    net.dispose();
  }
});

test('the wasm kernel computes the cross-entropy gradients of TF.js autodiff for sigmoid and softmax heads', { timeout: 60_000 }, async () => {
  const tf = await tensorflow();
  for (const [task, classes] of [['binary', 2], ['multiclass', 3]] as const) {
    const rows = 37;
    const outputs = task === 'binary' ? 1 : classes;
    const { x } = data(rows, COLS);
    // Labels: 0/1 for a sigmoid, one-hot for a softmax (what the family gives the kernel).
    const y = new Float32Array(rows * outputs);
    for (let r = 0; r < rows; r++) {
      const label = Math.floor(x[r * COLS]! * 7) % classes;
      if (task === 'binary') y[r] = label;
      else y[r * outputs + label] = 1;
    }
    const net = buildNetwork(tf, COLS, PARAMS, 5, outputs, task);
    const trainer = await WasmDenseTrainer.create(tf, net, { learningRate: LR, threads: 1, maxBatch: 64 });
    const got = trainer.gradients(x, y, rows);
    const keras = task === 'binary' ? tf.metrics.binaryCrossentropy : tf.metrics.categoricalCrossentropy;
    assertAutodiffGradients(tf, task, net, got, () => tf.mean(keras(tf.tensor2d(y, [rows, outputs]), net.predict(tf.tensor2d(x, [rows, COLS])) as TF.Tensor)) as TF.Scalar);
    await trainer.close();
    net.dispose();
  }
});

test('one wasm Adam step equals tf.train.adam on the layers model', async () => {
  const tf = await tensorflow();
  const rows = 64;
  const { x, y } = data(rows, COLS);
  const layered = buildNetwork(tf, COLS, PARAMS, 5, 1, 'regression');
  layered.compile({ optimizer: tf.train.adam(LR), loss: 'meanSquaredError' });
  const net = buildNetwork(tf, COLS, PARAMS, 5, 1, 'regression');
  const trainer = await WasmDenseTrainer.create(tf, net, { learningRate: LR, threads: 1, maxBatch: rows });
  for (let step = 0; step < 2; step++) {
    const slow = (await layered.trainOnBatch(tf.tensor2d(x, [rows, COLS]), tf.tensor2d(y, [rows, 1]))) as number;
    const fast = trainer.step(x, y, rows);
    assert.ok(Math.abs(slow - fast) < 1e-6, `step ${step}: loss ${fast} vs ${slow}`);
    const mine = trainer.weights();
    const theirs = readDenseLayers(layered);
    // An Adam step moves each weight by about the learning rate (1e-2); the two agree to a few
    // float32 ulps of the weight (1e-7), the gradients being summed in another order.
    mine.forEach((l, i) => {
      l.kernel.forEach((w, j) => assert.ok(Math.abs(w - theirs[i]!.kernel[j]!) < 1e-7, `step ${step}, layer ${i} kernel[${j}]: ${w} vs ${theirs[i]!.kernel[j]}`));
      l.bias.forEach((w, j) => assert.ok(Math.abs(w - theirs[i]!.bias[j]!) < 1e-7, `step ${step}, layer ${i} bias[${j}]: ${w} vs ${theirs[i]!.bias[j]}`));
    });
  }
  layered.dispose();
  net.dispose();
});

test('training on the wasm kernel follows the TF.js fast path and the layers path over a few epochs', async () => {
  const tf = await tensorflow();
  const rows = 300; // the last batch is short
  const batch = 64;
  const { x, y } = data(rows, COLS);
  const layered = buildNetwork(tf, COLS, PARAMS, 5, 1, 'regression');
  layered.compile({ optimizer: tf.train.adam(LR), loss: 'meanSquaredError' });
  const tfFast = new FastDenseTrainer(tf, buildNetwork(tf, COLS, PARAMS, 5, 1, 'regression'), { learningRate: LR });
  const net = buildNetwork(tf, COLS, PARAMS, 5, 1, 'regression');
  const trainer = await WasmDenseTrainer.create(tf, net, { learningRate: LR, threads: 1, maxBatch: batch });
  const losses: number[] = [];
  for (let epoch = 0; epoch < 4; epoch++) {
    for (let start = 0; start < rows; start += batch) {
      const size = Math.min(batch, rows - start);
      const xs = x.slice(start * COLS, (start + size) * COLS);
      const ys = y.slice(start, start + size);
      const slow = (await layered.trainOnBatch(tf.tensor2d(xs, [size, COLS]), tf.tensor2d(ys, [size, 1]))) as number;
      const viaTf = tfFast.step(xs, ys, size);
      const mine = trainer.step(xs, ys, size);
      losses.push(mine);
      assert.ok(Math.abs(mine - slow) <= 1e-4 * Math.max(1, slow) && Math.abs(mine - viaTf) <= 1e-4 * Math.max(1, viaTf), `epoch ${epoch}, row ${start}: wasm ${mine}, TF.js fast ${viaTf}, layers ${slow}`);
    }
  }
  assert.ok(losses[losses.length - 1]! < losses[0]! * 0.7, `the loss falls: ${losses[0]} -> ${losses[losses.length - 1]}`);
  trainer.syncToNetwork();
  const a = readDenseLayers(layered);
  const b = readDenseLayers(net);
  a.forEach((l, i) => l.kernel.forEach((w, j) => assert.ok(Math.abs(w - b[i]!.kernel[j]!) < 1e-4, `layer ${i} kernel[${j}]: layers ${w}, wasm ${b[i]!.kernel[j]}`)));
  await trainer.close();
  layered.dispose();
  net.dispose();
});

test('dnn training on the wasm kernel is deterministic, and one and two threads give bit-identical models', async () => {
  const rows = 3000;
  const { x, y } = data(rows, COLS);
  const train = { x: { data: x, rows, cols: COLS }, y: Float64Array.from(y) };
  const weightsOf = async (threads: number) => {
    const params = { family: 'dnn' as const, ...PARAMS, threads };
    const { model } = await dnnFamily.fit({
      task: 'regression',
      numClasses: 0,
      train,
      params,
      training: { epochs: 2, batchSize: 512, optimizer: 'adam', learningRate: LR, seed: 42 },
    });
    const dir = tempDir('atelier-dnn-wasm-');
    await model.save(dir);
    model.dispose();
    return readFileSync(join(dir, 'weights.bin'));
  };
  const one = await weightsOf(1);
  assert.ok((await weightsOf(1)).equals(one), 'one thread, twice: the same weights');
  const two = await weightsOf(2);
  assert.ok((await weightsOf(2)).equals(two), 'two threads, twice: the same weights');
  assert.ok(two.equals(one), 'two threads give the one-thread weights');
});

test('the two-thread kernel runs lane 1 on a worker and matches one thread bit for bit, step by step', async () => {
  const tf = await tensorflow();
  const rows = 2048;
  const batch = 510; // lanes of 256 and 254 rows
  const { x, y } = data(rows, COLS, 1, 3);
  const nets = [buildNetwork(tf, COLS, PARAMS, 5, 1, 'regression'), buildNetwork(tf, COLS, PARAMS, 5, 1, 'regression')];
  const one = await WasmDenseTrainer.create(tf, nets[0]!, { learningRate: LR, threads: 1, maxBatch: batch });
  const two = await WasmDenseTrainer.create(tf, nets[1]!, { learningRate: LR, threads: 2, maxBatch: batch });
  try {
    assert.equal(one.threads, 1);
    assert.equal(two.threads, 2);
    for (let start = 0; start + batch <= rows; start += batch) {
      const xs = x.slice(start * COLS, (start + batch) * COLS);
      const ys = y.slice(start, start + batch);
      assert.equal(two.step(xs, ys, batch), one.step(xs, ys, batch), `rows ${start}: the same loss`);
    }
    assert.deepEqual(two.weights(), one.weights());
  } finally {
    await two.close();
    nets.forEach((n) => n.dispose());
  }
});

test('rows gathered by the kernel from its copy of the training set train as rows gathered in JavaScript', async () => {
  const tf = await tensorflow();
  const rows = 1000;
  const batch = 300; // the last batch has 100 rows
  const { x, y } = data(rows, COLS, 1, 9);
  const order = Uint32Array.from({ length: rows }, (_v, i) => (i * 7919) % rows);
  const nets = [buildNetwork(tf, COLS, PARAMS, 5, 1, 'regression'), buildNetwork(tf, COLS, PARAMS, 5, 1, 'regression')];
  const inKernel = await WasmDenseTrainer.create(tf, nets[0]!, { learningRate: LR, threads: 2, maxBatch: batch, data: { x, y } });
  const inJs = await WasmDenseTrainer.create(tf, nets[1]!, { learningRate: LR, threads: 1, maxBatch: batch });
  try {
    for (let epoch = 0; epoch < 2; epoch++) {
      for (let start = 0; start < rows; start += batch) {
        const size = Math.min(batch, rows - start);
        const xs = new Float32Array(size * COLS);
        const ys = new Float32Array(size);
        for (let i = 0; i < size; i++) {
          xs.set(x.subarray(order[start + i]! * COLS, (order[start + i]! + 1) * COLS), i * COLS);
          ys[i] = y[order[start + i]!]!;
        }
        assert.equal(inKernel.stepRows({ x, y, order, start, size }), inJs.step(xs, ys, size), `epoch ${epoch}, rows ${start}`);
      }
    }
    assert.deepEqual(inKernel.weights(), inJs.weights());
  } finally {
    await inKernel.close();
    nets.forEach((n) => n.dispose());
  }
});
