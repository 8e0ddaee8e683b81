import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { Matrix } from '../src/features/transform.js';
import type { EpochReport, FitInput, Task } from '../src/models/family.js';
import { defaultParams, effectiveL2, LinearModel, linearFamily, resolveParams, type LinearParams } from '../src/models/linear/index.js';
import { seededRandom, shuffledIndices } from '../src/models/tf.js';

const ROOT = join(import.meta.dirname, '..');
const TRAINING: FitInput<LinearParams>['training'] = { epochs: 10, batchSize: 32, optimizer: 'adam', learningRate: 0.01, seed: 1 };

function matrix(rows: number[][]): Matrix {
  const cols = rows[0]?.length ?? 0;
  const data = new Float32Array(rows.length * cols);
  rows.forEach((r, i) => data.set(r, i * cols));
  return { data, rows: rows.length, cols };
}

async function fit(
  task: Task,
  x: Matrix,
  y: ArrayLike<number>,
  params: Partial<LinearParams> = {},
  extra: Partial<FitInput<LinearParams>> = {},
): Promise<LinearModel> {
  const numClasses = task === 'regression' ? 0 : task === 'binary' ? 2 : Math.max(...Array.from(y)) + 1;
  const { model } = await linearFamily.fit({
    task,
    numClasses,
    train: { x, y: Float64Array.from(y) },
    params: params as LinearParams,
    training: TRAINING,
    ...extra,
  });
  return model as LinearModel;
}

function normals(n: number, seed: number): Float64Array {
  const random = seededRandom(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - random()));
    const t = 2 * Math.PI * random();
    out[i] = r * Math.cos(t);
    if (i + 1 < n) out[i + 1] = r * Math.sin(t);
  }
  return out;
}

function syntheticX(n: number, p: number, seed: number): Matrix {
  return { data: Float32Array.from(normals(n * p, seed)), rows: n, cols: p };
}

function row(x: Matrix, i: number): Float32Array {
  return x.data.subarray(i * x.cols, (i + 1) * x.cols);
}

/** Gradient of mean loss (squared error / 2 or log loss) w.r.t. the coefficients, computed independently. */
function lossGradient(model: LinearModel, x: Matrix, y: Float64Array): { weights: Float64Array; intercepts: Float64Array } {
  const { outputs, features } = model.coefficients();
  const predictions = model.predict(x);
  const weights = new Float64Array(outputs * features);
  const intercepts = new Float64Array(outputs);
  for (let i = 0; i < x.rows; i++) {
    for (let k = 0; k < outputs; k++) {
      const target = model.task === 'multiclass' ? (y[i] === k ? 1 : 0) : y[i]!;
      const r = (predictions[i * outputs + k]! - target) / x.rows;
      intercepts[k] += r;
      for (let j = 0; j < features; j++) weights[k * features + j] += r * x.data[i * features + j]!;
    }
  }
  return { weights, intercepts };
}

/** Largest violation of the optimality conditions of mean loss + l1‖w‖₁ + (l2/2)‖w‖². */
function kktViolation(model: LinearModel, x: Matrix, y: Float64Array): number {
  const { l1, l2 } = model.fit;
  const { weights } = model.coefficients();
  const g = lossGradient(model, x, y);
  let worst = 0;
  g.intercepts.forEach((v) => (worst = Math.max(worst, Math.abs(v))));
  weights.forEach((w, j) => {
    const smooth = g.weights[j]! + l2 * w;
    const violation = w !== 0 ? Math.abs(smooth + l1 * Math.sign(w)) : Math.max(0, Math.abs(smooth) - l1);
    worst = Math.max(worst, violation);
  });
  return worst;
}

function parseCsv(file: string): { header: string[]; rows: string[][] } {
  const lines = readFileSync(file, 'utf8').trim().split(/\r?\n/);
  const unquote = (s: string) => s.trim().replace(/^"|"$/g, '');
  return { header: lines[0]!.split(',').map(unquote), rows: lines.slice(1).map((l) => l.split(',').map(unquote)) };
}

/** Seeded shuffled k folds (contiguous slices of one shuffled order, as KFold(shuffle=True)). */
function folds(n: number, k: number, seed: number): { train: number[]; test: number[] }[] {
  const order = Array.from(shuffledIndices(n, seededRandom(seed)));
  return Array.from({ length: k }, (_, f) => {
    const lo = Math.floor((f * n) / k);
    const hi = Math.floor(((f + 1) * n) / k);
    return { train: [...order.slice(0, lo), ...order.slice(hi)], test: order.slice(lo, hi) };
  });
}

/** Standardizes with the mean and (population) std of the training rows only. */
function standardized(features: number[][], train: number[], test: number[]): { train: Matrix; test: Matrix } {
  const p = features[0]!.length;
  const mean = new Float64Array(p);
  const std = new Float64Array(p);
  for (const i of train) for (let j = 0; j < p; j++) mean[j] += features[i]![j]! / train.length;
  for (const i of train) for (let j = 0; j < p; j++) std[j] += (features[i]![j]! - mean[j]!) ** 2 / train.length;
  for (let j = 0; j < p; j++) std[j] = Math.sqrt(std[j]!) || 1;
  const build = (rows: number[]) => matrix(rows.map((i) => features[i]!.map((v, j) => (v - mean[j]!) / std[j]!)));
  return { train: build(train), test: build(test) };
}

/** Least squares with an intercept by Householder QR: an independent check of the Cholesky path. */
function qrLeastSquares(x: Matrix, y: Float64Array): { weights: Float64Array; intercept: number } {
  const n = x.rows;
  const m = x.cols + 1;
  const a = Array.from({ length: n }, (_, i) => [1, ...Array.from(row(x, i))]);
  const b = Array.from(y);
  for (let k = 0; k < m; k++) {
    let norm = 0;
    for (let i = k; i < n; i++) norm += a[i]![k]! ** 2;
    norm = Math.sqrt(norm);
    const alpha = a[k]![k]! > 0 ? -norm : norm;
    const v = a.map((r, i) => (i < k ? 0 : r[k]!));
    v[k] -= alpha;
    const vv = v.reduce((s, t) => s + t * t, 0);
    for (let j = k; j < m; j++) {
      const s = (2 * a.reduce((acc, r, i) => acc + v[i]! * r[j]!, 0)) / vv;
      for (let i = k; i < n; i++) a[i]![j] -= s * v[i]!;
    }
    const s = (2 * b.reduce((acc, t, i) => acc + v[i]! * t, 0)) / vv;
    for (let i = k; i < n; i++) b[i] -= s * v[i]!;
  }
  const beta = new Float64Array(m);
  for (let k = m - 1; k >= 0; k--) {
    let s = b[k]!;
    for (let j = k + 1; j < m; j++) s -= a[k]![j]! * beta[j]!;
    beta[k] = s / a[k]![k]!;
  }
  return { intercept: beta[0]!, weights: beta.slice(1) };
}

const TINY = matrix([[1], [2], [3], [4]]);
const TINY_Y = [2, 4, 5, 8];

describe('linear family: regression', () => {
  test('ridge matches the closed form on a hand-computed example', async () => {
    // x̄ = 2.5, ȳ = 4.75, Σ(x−x̄)² = 5, Σ(x−x̄)(y−ȳ) = 9.5, n = 4:
    // w = (9.5/4) / (5/4 + l2), b = ȳ − x̄·w.
    const ols = (await fit('regression', TINY, TINY_Y)).coefficients();
    assert.ok(Math.abs(ols.weights[0]! - 1.9) < 1e-12, `OLS slope ${ols.weights[0]}`);
    assert.ok(Math.abs(ols.intercepts[0]!) < 1e-12, `OLS intercept ${ols.intercepts[0]}`);

    const ridge = (await fit('regression', TINY, TINY_Y, { l2: 0.25 })).coefficients();
    assert.ok(Math.abs(ridge.weights[0]! - 19 / 12) < 1e-12, `ridge slope ${ridge.weights[0]}`);
    assert.ok(Math.abs(ridge.intercepts[0]! - 19 / 24) < 1e-12, `ridge intercept ${ridge.intercepts[0]}`);

    // Without an intercept: w = Σxy / (Σx² + n·l2) = 57 / (30 + 1).
    const origin = (await fit('regression', TINY, TINY_Y, { l2: 0.25, fit_intercept: false })).coefficients();
    assert.ok(Math.abs(origin.weights[0]! - 57 / 31) < 1e-12, `no-intercept slope ${origin.weights[0]}`);
    assert.equal(origin.intercepts[0], 0);
  });

  test('two correlated features: ridge satisfies its normal equations', async () => {
    const x = matrix([
      [1, 2],
      [2, 3],
      [3, 5],
      [4, 4],
      [5, 7],
    ]);
    const y = Float64Array.from([3, 5, 9, 8, 13]);
    const model = await fit('regression', x, y, { l2: 0.5 });
    assert.ok(kktViolation(model, x, y) < 1e-12, `normal equations residual ${kktViolation(model, x, y)}`);
  });

  test('lasso and elastic net: closed form on one feature', async () => {
    // w = S(9.5/4, l1) / (5/4 + l2)
    const lasso = await fit('regression', TINY, TINY_Y, { l1: 0.375 });
    assert.equal(lasso.fit.solver, 'coordinate_descent');
    assert.ok(Math.abs(lasso.coefficients().weights[0]! - 1.6) < 1e-12);
    assert.ok(Math.abs(lasso.coefficients().intercepts[0]! - 0.75) < 1e-12);
    const net = await fit('regression', TINY, TINY_Y, { l1: 0.375, l2: 0.25 });
    assert.ok(Math.abs(net.coefficients().weights[0]! - 4 / 3) < 1e-12);
    const all = await fit('regression', TINY, TINY_Y, { l1: 3 });
    assert.equal(all.coefficients().weights[0], 0);
    assert.equal(all.coefficients().intercepts[0], 4.75);
  });

  test('lasso zeroes irrelevant features exactly and meets its optimality conditions', async () => {
    const x = syntheticX(300, 6, 11);
    const noise = normals(300, 12);
    const y = new Float64Array(300);
    for (let i = 0; i < 300; i++) {
      const r = row(x, i);
      y[i] = 1 + 3 * r[0]! - 2 * r[1]! + 0.5 * r[2]! + 0.3 * noise[i]!;
    }
    const model = await fit('regression', x, y, { l1: 0.1 });
    const { weights } = model.coefficients();
    assert.ok(model.fit.converged);
    for (const j of [3, 4, 5]) assert.equal(weights[j], 0, `irrelevant feature ${j}: ${weights[j]}`);
    for (const j of [0, 1, 2]) assert.ok(Math.abs(weights[j]!) > 0.2, `relevant feature ${j}: ${weights[j]}`);
    assert.ok(kktViolation(model, x, y) < 1e-6, `KKT violation ${kktViolation(model, x, y)}`);
    const summary = model.parameterSummary();
    assert.equal(summary.nonzero, 3);
    assert.equal(summary.coefficients, 6);
    assert.equal(summary.parameters, 7);
    // Shrinkage: each kept coefficient is pulled toward 0 by about l1 / var(x_j).
    assert.ok(weights[0]! < 3 && weights[0]! > 2.7 && weights[1]! > -2 && weights[1]! < -1.7);
  });

  test('coordinate descent with a negligible l1 reproduces the exact ridge solution', async () => {
    const x = syntheticX(200, 5, 21);
    const y = Float64Array.from({ length: 200 }, (_, i) => row(x, i).reduce((s, v, j) => s + (j + 1) * v, 0) + Math.sin(i));
    const exact = (await fit('regression', x, y, { l2: 0.1 })).coefficients();
    const cd = (await fit('regression', x, y, { l1: 1e-12, l2: 0.1, tolerance: 1e-14 })).coefficients();
    exact.weights.forEach((w, j) => assert.ok(Math.abs(w - cd.weights[j]!) < 1e-7, `coefficient ${j}: ${w} vs ${cd.weights[j]}`));
  });

  test('housing: 5-fold CV RMSE of least squares (seeded shuffled folds)', async () => {
    const { header, rows } = parseCsv(join(ROOT, 'examples', 'housing', 'housing.csv'));
    const label = header.indexOf('MEDV');
    const columns = header.map((_, j) => j).filter((j) => j !== label);
    assert.equal(columns.length, 13);
    const features = rows.map((r) => columns.map((j) => Number(r[j])));
    const target = rows.map((r) => Number(r[label]));
    let sumRmse = 0;
    let sumQrRmse = 0;
    for (const fold of folds(rows.length, 5, 0)) {
      const { train, test: held } = standardized(features, fold.train, fold.test);
      const yTrain = Float64Array.from(fold.train.map((i) => target[i]!));
      const model = await fit('regression', train, yTrain);
      assert.equal(model.fit.solver, 'cholesky');
      const predicted = await model.predict(held);
      const qr = qrLeastSquares(train, yTrain);
      // The Cholesky solution agrees with an independent QR least-squares solve.
      const coefficients = model.coefficients();
      qr.weights.forEach((w, j) => assert.ok(Math.abs(w - coefficients.weights[j]!) < 1e-8 * (1 + Math.abs(w)), `coefficient ${j}`));
      let squares = 0;
      let qrSquares = 0;
      fold.test.forEach((i, r) => {
        squares += (predicted[r]! - target[i]!) ** 2;
        const qrPrediction = qr.intercept + Array.from(row(held, r)).reduce((s, v, j) => s + v * qr.weights[j]!, 0);
        qrSquares += (qrPrediction - target[i]!) ** 2;
      });
      sumRmse += Math.sqrt(squares / fold.test.length);
      sumQrRmse += Math.sqrt(qrSquares / fold.test.length);
    }
    const cvRmse = sumRmse / 5;
    console.log(`housing 5-fold CV RMSE (seed 0): ${cvRmse.toFixed(6)} (QR least squares ${(sumQrRmse / 5).toFixed(6)})`);
    assert.ok(Math.abs(cvRmse - sumQrRmse / 5) < 1e-8);
    assert.ok(Math.abs(cvRmse - 4.84) / 4.84 < 0.01, `CV RMSE ${cvRmse}`);
  });
});

describe('linear family: classification', () => {
  test('binary logistic on a separable-ish set: accurate, optimal, penalty as configured', async () => {
    const n = 400;
    const x = syntheticX(n, 4, 31);
    const flip = seededRandom(32);
    const y = Float64Array.from({ length: n }, (_, i) => {
      const r = row(x, i);
      const side = 2 * r[0]! - r[1]! + 0.3 > 0 ? 1 : 0;
      return flip() < 0.05 ? 1 - side : side;
    });
    const model = await fit('binary', x, y);
    assert.equal(model.outputWidth, 1);
    assert.equal(model.fit.l2, 1 / n, 'default l2 is 1/n (LogisticRegression C=1)');
    assert.ok(model.fit.converged, `stopped after ${model.fit.iterations}`);
    assert.ok(kktViolation(model, x, y) < 1e-7, `gradient ${kktViolation(model, x, y)}`);
    const p = await model.predict(x);
    let correct = 0;
    p.forEach((v, i) => {
      assert.ok(v > 0 && v < 1);
      if ((v > 0.5 ? 1 : 0) === y[i]) correct++;
    });
    assert.ok(correct / n >= 0.9, `accuracy ${correct / n}`);
    const { weights } = model.coefficients();
    assert.ok(weights[0]! > 0 && weights[1]! < 0 && Math.abs(weights[0]!) > Math.abs(weights[1]!));
    assert.ok(Math.abs(weights[2]!) < 0.5 && Math.abs(weights[3]!) < 0.5);

    // L1: the two irrelevant features are dropped exactly; the conditions of optimality hold.
    const sparse = await fit('binary', x, y, { l1: 0.03 });
    assert.equal(sparse.fit.solver, 'owlqn');
    assert.equal(sparse.fit.l2, 0);
    assert.deepEqual(Array.from(sparse.coefficients().weights.slice(2)), [0, 0]);
    assert.ok(sparse.coefficients().weights[0]! > 0);
    assert.ok(kktViolation(sparse, x, y) < 1e-7, `L1 KKT violation ${kktViolation(sparse, x, y)}`);
  });

  test('iris: multinomial logistic, 5-fold CV accuracy', async () => {
    const { header, rows } = parseCsv('/work/shared/datasets/iris.csv');
    const label = header.indexOf('species');
    const names = [...new Set(rows.map((r) => r[label]!))].sort();
    assert.equal(names.length, 3);
    const columns = header.map((_, j) => j).filter((j) => j !== label);
    const features = rows.map((r) => columns.map((j) => Number(r[j])));
    const classes = rows.map((r) => names.indexOf(r[label]!));
    let correct = 0;
    for (const fold of folds(rows.length, 5, 0)) {
      const { train, test: held } = standardized(features, fold.train, fold.test);
      const yTrain = Float64Array.from(fold.train.map((i) => classes[i]!));
      const model = await fit('multiclass', train, yTrain);
      assert.ok(model.fit.converged);
      assert.ok(kktViolation(model, train, yTrain) < 1e-7);
      const p = await model.predict(held);
      assert.equal(p.length, held.rows * 3);
      fold.test.forEach((i, r) => {
        const probabilities = Array.from(p.subarray(r * 3, r * 3 + 3));
        assert.ok(Math.abs(probabilities.reduce((a, b) => a + b) - 1) < 1e-12);
        if (probabilities.indexOf(Math.max(...probabilities)) === classes[i]) correct++;
      });
    }
    const accuracy = correct / rows.length;
    console.log(`iris 5-fold CV accuracy (seed 0): ${accuracy.toFixed(4)}`);
    assert.ok(accuracy >= 0.95, `accuracy ${accuracy}`);
  });

  test('multinomial with l1 keeps the optimality conditions', async () => {
    const x = syntheticX(240, 5, 41);
    const y = Float64Array.from({ length: 240 }, (_, i) => {
      const r = row(x, i);
      const scores = [r[0]!, r[1]! - 0.5, -r[0]! - r[1]!];
      return scores.indexOf(Math.max(...scores));
    });
    const model = await fit('multiclass', x, y, { l1: 0.01 });
    assert.ok(model.fit.converged);
    assert.ok(kktViolation(model, x, y) < 1e-7, `KKT violation ${kktViolation(model, x, y)}`);
    const { weights } = model.coefficients();
    // Features 2..4 carry no signal: most of their 9 coefficients are exactly 0.
    const zeros = [0, 1, 2].flatMap((k) => [2, 3, 4].map((j) => weights[k * 5 + j])).filter((w) => w === 0).length;
    assert.ok(zeros >= 6, `${zeros} of 9 irrelevant coefficients are zero`);
  });
});

describe('linear family: reporting, persistence, determinism, parameters', () => {
  test('onEpoch reports every iteration with the task loss, eval loss when eval is given', async () => {
    const x = syntheticX(120, 3, 51);
    const y = Float64Array.from({ length: 120 }, (_, i) => (row(x, i)[0]! + 0.2 * row(x, i)[1]! > 0 ? 1 : 0));
    const reports: EpochReport[] = [];
    const evalSet = { x: syntheticX(40, 3, 52), y: Float64Array.from({ length: 40 }, (_, i) => i % 2) };
    const { model, summary } = await linearFamily.fit({
      task: 'binary',
      numClasses: 2,
      train: { x, y },
      eval: evalSet,
      params: { ...defaultParams() },
      training: TRAINING,
      onEpoch: (r) => reports.push(r),
    });
    assert.ok(reports.length >= 2);
    assert.equal(summary.epochsRun, reports.length);
    assert.equal(summary.stoppedEarly, false);
    reports.forEach((r, i) => {
      assert.equal(r.epoch, i + 1);
      assert.equal(r.epochs, 1000);
      assert.equal(r.lossName, 'logloss');
      assert.ok(r.evalLoss !== undefined && r.evalLoss > 0);
    });
    for (let i = 1; i < reports.length; i++) assert.ok(reports[i]!.trainLoss <= reports[i - 1]!.trainLoss + 1e-3);

    const regression: EpochReport[] = [];
    const ry = Float64Array.from({ length: 120 }, (_, i) => 2 * row(x, i)[0]! + 1);
    const fitted = await linearFamily.fit({
      task: 'regression',
      numClasses: 0,
      train: { x, y: ry },
      params: { ...defaultParams(), family: 'linear' } as LinearParams,
      training: TRAINING,
      onEpoch: (r) => regression.push(r),
    });
    assert.equal(regression.length, 1);
    assert.equal(regression[0]!.lossName, 'rmse');
    assert.equal(regression[0]!.evalLoss, undefined);
    assert.ok(regression[0]!.trainLoss < 1e-5);
    assert.equal(fitted.summary.epochsRun, 1);
  });

  test('save and load give identical predictions for every task; fits are bit-identical', async () => {
    const x = syntheticX(150, 4, 61);
    const targets: Record<Task, Float64Array> = {
      regression: Float64Array.from({ length: 150 }, (_, i) => row(x, i)[0]! - 2 * row(x, i)[3]!),
      binary: Float64Array.from({ length: 150 }, (_, i) => (row(x, i)[1]! > 0 ? 1 : 0)),
      multiclass: Float64Array.from({ length: 150 }, (_, i) => (row(x, i)[2]! > 0.5 ? 2 : row(x, i)[2]! > -0.5 ? 1 : 0)),
    };
    for (const task of ['regression', 'binary', 'multiclass'] as const) {
      for (const params of [{}, { l1: 0.01 }]) {
        const model = await fit(task, x, targets[task], params);
        const again = await fit(task, x, targets[task], params);
        const before = await model.predict(x);
        assert.deepEqual(Buffer.from(again.coefficients().weights.buffer), Buffer.from(model.coefficients().weights.buffer));
        assert.deepEqual(Buffer.from((await again.predict(x)).buffer), Buffer.from(before.buffer));

        const dir = mkdtempSync(join(tmpdir(), 'atelier-linear-'));
        await model.save(dir);
        assert.ok(existsSync(join(dir, 'linear.json')));
        const saved = JSON.parse(readFileSync(join(dir, 'linear.json'), 'utf8'));
        assert.equal(saved.task, task);
        assert.equal(saved.numClasses, task === 'regression' ? 0 : task === 'binary' ? 2 : 3);
        assert.equal(saved.coefficients.length, model.outputWidth);
        const loaded = await linearFamily.load(dir);
        assert.equal(loaded.family, 'linear');
        assert.equal(loaded.outputWidth, model.outputWidth);
        assert.deepEqual(Buffer.from((await loaded.predict(x)).buffer), Buffer.from(before.buffer));
        assert.deepEqual(loaded.parameterSummary(), model.parameterSummary());
      }
    }
  });

  test('parameters: defaults, conventions and checks', async () => {
    assert.deepEqual(defaultParams(), { l1: 0, l2: undefined, max_iterations: 1000, tolerance: 1e-8, fit_intercept: true });
    assert.equal(effectiveL2(defaultParams(), 'regression', 100), 0);
    assert.equal(effectiveL2(defaultParams(), 'multiclass', 100), 0.01);
    assert.equal(effectiveL2({ ...defaultParams(), l1: 0.1 }, 'binary', 100), 0);
    assert.equal(effectiveL2({ ...defaultParams(), l2: 0.5 }, 'binary', 100), 0.5);
    assert.throws(() => resolveParams({ l1: -1 }), /l1/);
    assert.throws(() => resolveParams({ max_iterations: 0 }), /max_iterations/);
    assert.throws(() => resolveParams({ lambda: 1 } as Partial<LinearParams>), /unknown linear parameter "lambda"/);
    await assert.rejects(fit('binary', TINY, [0, 1, 2, 1]), /class index 0\.\.1/);
    await assert.rejects(fit('regression', TINY, TINY_Y, { tolerance: 0 }), { code: 'CONFIG_INVALID' });
    const model = await fit('regression', TINY, TINY_Y);
    assert.throws(() => model.predict(matrix([[1, 2]])), { code: 'INPUT_INVALID' });
  });
});
