import assert from 'node:assert/strict';
import { test } from 'node:test';
import { binaryReport, calibrationBins, thresholdMetrics } from '../src/evaluation/metrics-binary.js';
import { multiclassReport } from '../src/evaluation/metrics-multiclass.js';
import { regressionReport } from '../src/evaluation/metrics-regression.js';
import { parseSlices, sliceBy } from '../src/evaluation/slices.js';
import { permutationImportance } from '../src/evaluation/importance.js';
import { AtelierError } from '../src/core/errors.js';

/** Equal to 12 significant digits: the figures below were computed with scikit-learn 1.2.1. */
function close(actual: number | null, expected: number, what: string) {
  assert.ok(actual !== null && Math.abs(actual - expected) <= 1e-12 * Math.max(1, Math.abs(expected)), `${what}: ${actual} != ${expected}`);
}

// y = [0,0,1,1,0,1,0,1,1,0], p = [0.1,0.4,0.35,0.8,0.2,0.9,0.6,0.55,0.7,0.4]
const Y = [0, 0, 1, 1, 0, 1, 0, 1, 1, 0];
const P = [0.1, 0.4, 0.35, 0.8, 0.2, 0.9, 0.6, 0.55, 0.7, 0.4];

test('binary: ROC AUC, average precision, log loss, Brier and F1 match scikit-learn', () => {
  const r = binaryReport(P, Y);
  close(r.rocAuc, 0.8400000000000001, 'roc_auc_score');
  close(r.prAuc, 0.885, 'average_precision_score');
  close(r.logloss, 0.4599284182543239, 'log_loss');
  close(r.brier, 0.14950000000000002, 'brier_score_loss');
  assert.deepEqual(
    { ...r.atThreshold, f1: Number(r.atThreshold.f1.toFixed(12)) },
    { threshold: 0.5, accuracy: 0.8, precision: 0.8, recall: 0.8, f1: 0.8, truePositives: 4, falsePositives: 1, trueNegatives: 4, falseNegatives: 1 },
  );
  // precision_recall_curve: the best F1 (0.8) is at threshold 0.55.
  assert.equal(r.bestF1.threshold, 0.55);
  close(r.bestF1.f1, 0.8, 'best f1');
  // roc_curve(drop_intermediate=False), with sklearn's first threshold (max + 1) as null.
  assert.deepEqual(
    r.curves.roc.map((p) => [p.fpr, p.tpr, p.threshold]),
    [[0, 0, null], [0, 0.2, 0.9], [0, 0.4, 0.8], [0, 0.6, 0.7], [0.2, 0.6, 0.6], [0.2, 0.8, 0.55], [0.6, 0.8, 0.4], [0.6, 1, 0.35], [0.8, 1, 0.2], [1, 1, 0.1]],
  );
  // precision_recall_curve, from the highest threshold down.
  assert.deepEqual(
    r.curves.pr.map((p) => [Number(p.precision.toFixed(12)), p.recall, p.threshold]),
    [[1, 0.2, 0.9], [1, 0.4, 0.8], [1, 0.6, 0.7], [0.75, 0.6, 0.6], [0.8, 0.8, 0.55], [0.571428571429, 0.8, 0.4], [0.625, 1, 0.35], [0.555555555556, 1, 0.2], [0.5, 1, 0.1]],
  );
});

test('binary: ties of scores count as one threshold, as scikit-learn', () => {
  const r = binaryReport([0.9, 0.9, 0.7, 0.5, 0.5, 0.3, 0.2, 0.2], [1, 0, 1, 0, 1, 1, 0, 0]);
  close(r.rocAuc, 0.6875, 'roc_auc_score');
  close(r.prAuc, 0.6083333333333333, 'average_precision_score');
  close(r.logloss, 0.7251468525831064, 'log_loss');
  close(r.brier, 0.24750000000000003, 'brier_score_loss');
});

test('binary: the calibration curve has 10 bins closed on the right, as calibration_curve', () => {
  const bins = calibrationBins(P, Y);
  assert.equal(bins.length, 10);
  const used = bins.filter((b) => b.count > 0);
  // calibration_curve(y, p, n_bins=10): prob_true, prob_pred
  assert.deepEqual(used.map((b) => b.fractionPositive), [0, 0, 1 / 3, 0.5, 1, 1, 1]);
  assert.deepEqual(used.map((b) => Number(b.meanPredicted!.toFixed(12))), [0.1, 0.2, 0.383333333333, 0.575, 0.7, 0.8, 0.9]);
  assert.deepEqual(bins.map((b) => b.count), [1, 1, 0, 3, 0, 2, 1, 1, 1, 0]);
  assert.deepEqual(thresholdMetrics(P, Y, 0.95), { threshold: 0.95, accuracy: 0.5, precision: 0, recall: 0, f1: 0, truePositives: 0, falsePositives: 0, trueNegatives: 5, falseNegatives: 5 });
});

test('multiclass: accuracy, macro and weighted F1, log loss, per class and the confusion matrix match scikit-learn', () => {
  const probabilities = [0.7, 0.2, 0.1, 0.2, 0.5, 0.3, 0.1, 0.3, 0.6, 0.3, 0.4, 0.3, 0.6, 0.3, 0.1, 0.8, 0.1, 0.1, 0.2, 0.2, 0.6, 0.1, 0.8, 0.1];
  const r = multiclassReport(probabilities, ['a', 'b', 'c'], [0, 1, 2, 2, 1, 0, 2, 1]);
  assert.equal(r.accuracy, 0.75);
  close(r.macroF1, 0.7555555555555555, 'f1 macro');
  close(r.weightedF1, 0.75, 'f1 weighted');
  close(r.logloss, 0.6157132604138688, 'log_loss');
  assert.deepEqual(r.confusion, [[2, 0, 0], [1, 2, 0], [0, 1, 2]]);
  assert.deepEqual(
    r.perClass.map((c) => [c.class, Number(c.precision.toFixed(8)), Number(c.recall.toFixed(8)), c.support]),
    [['a', 0.66666667, 1, 2], ['b', 0.66666667, 0.66666667, 3], ['c', 1, 0.66666667, 3]],
  );
  // A class absent from both labels and predictions does not count in the macro mean (sklearn: 0.6667).
  const slice = multiclassReport([0.9, 0.05, 0.05, 0.4, 0.5, 0.1, 0.1, 0.8, 0.1], ['a', 'b', 'c'], [0, 0, 1]);
  close(slice.macroF1, 0.6666666666666666, 'f1 macro of present classes');
});

test('regression: RMSE, MAE, R², MAPE without the zero labels, residual quantiles match scikit-learn and numpy', () => {
  const r = regressionReport([2.5, 0.0, 2, 8, 0.3, 3.0], [3, -0.5, 2, 7, 0, 4.0]);
  close(r.rmse, 0.6570134448142341, 'rmse');
  close(r.mae, 0.5499999999999999, 'mae');
  close(r.r2, 0.9322137404580153, 'r2');
  close(r.mape, 0.3119047619047619, 'mape on non-zero labels');
  assert.equal(r.mapeSkippedZeroLabels, 1);
  // numpy.percentile(y - q, [5, 25, 50, 75, 95])
  assert.deepEqual(
    Object.fromEntries(Object.entries(r.residuals).map(([k, v]) => [k, Number(v.toFixed(12))])),
    { p5: -0.875, p25: -0.45, p50: -0.15, p75: 0.375, p95: 0.875 },
  );
  assert.equal(regressionReport([1, 2], [0, 0]).mape, null, 'all labels zero: no MAPE');
});

test('slices: categories by frequency, numbers in quartiles or per value, missing values apart', () => {
  const count = (rows: Uint32Array) => rows.length;
  const text = sliceBy({ feature: 'city', buckets: 4 }, ['b', 'a', null, 'b', 'a', 'b'], count);
  assert.deepEqual(text, {
    feature: 'city',
    kind: 'categorical',
    slices: [
      { value: 'b', rows: 3, metrics: 3 },
      { value: 'a', rows: 2, metrics: 2 },
      { value: '(missing)', rows: 1, metrics: 1 },
    ],
  });
  const numbers = sliceBy({ feature: 'x', buckets: 4 }, Float64Array.from([1, 2, 3, 4, 5, 6, 7, 8, Number.NaN]), count);
  assert.equal(numbers.kind, 'quantiles');
  assert.deepEqual(
    numbers.slices.map((s) => [s.value, s.rows]),
    [['[1, 2.75)', 2], ['[2.75, 4.5)', 2], ['[4.5, 6.25)', 2], ['[6.25, 8]', 2], ['(missing)', 1]],
  );
  const flags = sliceBy({ feature: 'flag', buckets: 4 }, Float64Array.from([0, 1, 0, 0]), count);
  assert.deepEqual([flags.kind, flags.slices.map((s) => [s.value, s.rows])], ['values', [['0', 3], ['1', 1]]]);
  assert.deepEqual(parseSlices(['x', 'y:10'], ['x', 'y']), [{ feature: 'x', buckets: 4 }, { feature: 'y', buckets: 10 }]);
  assert.throws(() => parseSlices(['z'], ['x', 'y']), (e: unknown) => e instanceof AtelierError && e.code === 'COLUMN_NOT_FOUND' && e.message === '--slice: no feature "z" in the data; its features are x, y');
  assert.throws(() => parseSlices(['x:1'], ['x', 'y']), /--slice x:1: the bucket count after ":" must be a whole number from 2 to 100/);
});

test('permutation importance: the feature the loss depends on matters, the other does not; seeded', async () => {
  const n = 200;
  const signal = Float64Array.from({ length: n }, (_v, i) => i);
  const noise = Float64Array.from({ length: n }, (_v, i) => (i * 7919) % 13);
  const columns = new Map<string, Float64Array | (string | null)[]>([['signal', signal], ['noise', noise]]);
  // The "model" predicts the signal exactly; the loss is RMSE against it.
  const loss = async (c: Map<string, Float64Array | (string | null)[]>) => {
    const x = c.get('signal') as Float64Array;
    let sum = 0;
    for (let i = 0; i < n; i++) sum += (x[i]! - signal[i]!) ** 2;
    return { name: 'rmse', value: Math.sqrt(sum / n) };
  };
  const result = await permutationImportance(columns, ['noise', 'signal'], loss, { repeats: 3, seed: 7 });
  assert.equal(result.metric, 'rmse');
  assert.equal(result.baseline, 0);
  assert.deepEqual(result.features.map((f) => f.feature), ['signal', 'noise']);
  assert.ok(result.features[0]!.degradation > 50, `shuffled signal RMSE ${result.features[0]!.degradation}`);
  assert.deepEqual([result.features[1]!.degradation, result.features[1]!.std], [0, 0]);
  assert.deepEqual(await permutationImportance(columns, ['noise', 'signal'], loss, { repeats: 3, seed: 7 }), result, 'same seed, same figures');
  assert.notDeepEqual((await permutationImportance(columns, ['noise', 'signal'], loss, { repeats: 3, seed: 8 })).features[0], result.features[0]);
});
