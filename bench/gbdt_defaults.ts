/**
 * GBDT defaults on small data: 5-fold CV of a default `gbdt` model (what a config with only
 * `model.family: gbdt` trains: the family's fit with a validation slice of 10% of each fold's
 * training rows, as training carves it) against XGBoost's defaults and the best of a grid of tuned
 * XGBoost settings, on the same folds, in the same run.
 *
 *   node --import tsx bench/gbdt_defaults.ts          (PEER=0 skips XGBoost; PARAMS='{"max_depth":4}' overrides ours)
 *
 * Sets: housing.csv (regression, 506 rows), iris.csv (multiclass, 150), two synthetic binary sets
 * (400 x 10 and 1,000 x 20) and a synthetic regression (Friedman, 1,000 x 10). Scores: RMSE
 * (regression) or log loss (classification), mean over folds; accuracy beside log loss.
 */
import { readFileSync } from 'node:fs';
import { seededRandom } from '../src/core/random.js';
import { gbdtFamily } from '../src/models/gbdt/family.js';
import type { Task } from '../src/models/family.js';
import { logLoss, rmse } from '../src/models/losses.js';
import { friedman } from './friedman.js';
import { runPythonPeer } from './peer.js';

interface DataSet { name: string; task: Task; x: Float32Array; y: Float32Array; rows: number; cols: number; classes: number }

const DATASETS = '/work/shared/datasets';
const K = 5;
const VALIDATION = 0.1;
const PEER = process.env.PEER !== '0';
const OVERRIDES = JSON.parse(process.env.PARAMS ?? '{}') as Record<string, unknown>;

function readCsv(path: string, label: string, name: string, task: Task): DataSet {
  const [head, ...lines] = readFileSync(path, 'utf8').trim().split(/\r?\n/);
  const names = head!.split(',').map((s) => s.replace(/"/g, ''));
  const at = names.indexOf(label);
  const cols = names.length - 1;
  const rows = lines.length;
  const x = new Float32Array(rows * cols);
  const y = new Float32Array(rows);
  const levels = new Map<string, number>();
  const labels = lines.map((l) => l.split(',')[at]!);
  if (task !== 'regression') [...new Set(labels)].sort().forEach((v, i) => levels.set(v, i));
  lines.forEach((line, i) => {
    const cells = line.split(',');
    let c = 0;
    cells.forEach((cell, j) => {
      if (j !== at) x[i * cols + c++] = Number(cell);
    });
    y[i] = task === 'regression' ? Number(labels[i]) : levels.get(labels[i]!)!;
  });
  return { name, task, x, y, rows, cols, classes: levels.size };
}

/** Binary labels drawn from a nonlinear logit of uniform features (seeded). */
function syntheticBinary(name: string, rows: number, cols: number, seed: number): DataSet {
  const random = seededRandom(seed);
  const x = new Float32Array(rows * cols);
  const y = new Float32Array(rows);
  for (let i = 0; i < x.length; i++) x[i] = random();
  for (let i = 0; i < rows; i++) {
    const r = x.subarray(i * cols, (i + 1) * cols);
    const logit = 4 * Math.sin(Math.PI * r[0]! * r[1]!) + 6 * (r[2]! - 0.5) ** 2 * 4 - 3 * r[3]! + (r[4]! > 0.5 ? 1.5 : -1.5) - 1.2;
    y[i] = random() < 1 / (1 + Math.exp(-logit)) ? 1 : 0;
  }
  return { name, task: 'binary', x, y, rows, cols, classes: 2 };
}

/** Seeded fold of each row: shuffled, then dealt round-robin (sizes within one). */
function foldsOf(rows: number, seed: number): Int32Array {
  const random = seededRandom(seed);
  const order = Array.from({ length: rows }, (_, i) => i);
  for (let i = rows - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const fold = new Int32Array(rows);
  order.forEach((row, k) => (fold[row] = k % K));
  return fold;
}

function take(d: DataSet, rows: number[]): { x: { data: Float32Array; rows: number; cols: number }; y: Float64Array } {
  const data = new Float32Array(rows.length * d.cols);
  rows.forEach((r, i) => data.set(d.x.subarray(r * d.cols, (r + 1) * d.cols), i * d.cols));
  return { x: { data, rows: rows.length, cols: d.cols }, y: Float64Array.from(rows, (r) => d.y[r]!) };
}

interface Score { loss: number; accuracy?: number | null; trees: number }

async function oursCv(d: DataSet, fold: Int32Array): Promise<Score> {
  let loss = 0;
  let accuracy = 0;
  let trees = 0;
  for (let f = 0; f < K; f++) {
    const train: number[] = [];
    const test: number[] = [];
    for (let i = 0; i < d.rows; i++) (fold[i] === f ? test : train).push(i);
    // The validation slice: a seeded tenth of the fold's training rows, as training carves it.
    const random = seededRandom(100 + f);
    const fit = train.filter(() => random() >= VALIDATION);
    const watch = train.filter((r) => !fit.includes(r));
    const { model, summary } = await gbdtFamily.fit({
      task: d.task,
      numClasses: d.task === 'regression' ? 0 : d.classes,
      train: take(d, fit),
      eval: take(d, watch),
      params: { family: 'gbdt', ...OVERRIDES },
      training: { epochs: 200, batchSize: 32, optimizer: 'adam', learningRate: 0.01, seed: 42 },
    });
    trees += summary.bestEpoch / K;
    const t = take(d, test);
    const out = model.predict(t.x);
    if (d.task === 'regression') loss += rmse(out, t.y) / K;
    else {
      const width = model.outputWidth;
      const probs = width === 1 ? Float64Array.from({ length: out.length * 2 }, (_, i) => (i % 2 ? out[i >> 1]! : 1 - out[i >> 1]!)) : out;
      const w = width === 1 ? 2 : width;
      loss += logLoss(probs, w, t.y) / K;
      let right = 0;
      for (let i = 0; i < t.y.length; i++) {
        let best = 0;
        for (let c = 1; c < w; c++) if (probs[i * w + c]! > probs[i * w + best]!) best = c;
        if (best === t.y[i]) right++;
      }
      accuracy += right / t.y.length / K;
    }
    model.dispose();
  }
  return { loss, accuracy: d.task === 'regression' ? undefined : accuracy, trees };
}

const sets: DataSet[] = [
  readCsv(`${DATASETS}/housing.csv`, 'MEDV', 'housing', 'regression'),
  readCsv(`${DATASETS}/iris.csv`, 'species', 'iris', 'multiclass'),
  syntheticBinary('binary-400x10', 400, 10, 11),
  syntheticBinary('binary-1000x20', 1000, 20, 12),
  (() => {
    const { x, y } = friedman(1000, 10, 13);
    return { name: 'friedman-1000x10', task: 'regression' as Task, x, y, rows: 1000, cols: 10, classes: 0 };
  })(),
];

const fmt = (s: Score | undefined) => (s ? `${s.loss.toFixed(4)}${s.accuracy != null ? ` (acc ${s.accuracy.toFixed(3)})` : ''}` : '-');
console.log(`5-fold CV, ours: gbdt family defaults${Object.keys(OVERRIDES).length ? ` + ${JSON.stringify(OVERRIDES)}` : ''}; loss = RMSE (regression) or log loss`);
console.log(['set', 'ours default', 'trees kept', 'xgb default', 'xgb tuned (best of grid)', 'ours / xgb default', 'ours / xgb tuned'].join(' | '));
for (const d of sets) {
  const fold = foldsOf(d.rows, 1);
  const ours = await oursCv(d, fold);
  type PeerOut = { default: Score; tuned: Score & { params: string } };
  const peer = PEER
    ? runPythonPeer<PeerOut>('gbdt_defaults_peer.py', d.x, d.y, [d.rows, d.cols, d.task, d.classes, Array.from(fold).join('')])
    : undefined;
  const ratio = (p?: Score) => (p ? (ours.loss / p.loss).toFixed(3) : '-');
  console.log([d.name, fmt(ours), ours.trees.toFixed(0), fmt(peer?.default), `${fmt(peer?.tuned)} ${peer?.tuned.params ?? ''}`, ratio(peer?.default), ratio(peer?.tuned)].join(' | '));
}
