/**
 * The network defaults on small data, against the linear family and scikit-learn, 5-fold CV.
 *
 *   npm run build && node --import tsx bench/dnn_defaults.ts
 *
 * Sets: housing (examples/housing/housing.csv, 506 rows, label MEDV); a synthetic binary set (400
 * rows, 10 standard normal features, label drawn from a logistic of 5 of them); a synthetic linear
 * regression set (300 rows, 20 features, 6 in the label, noise of standard deviation 2). Each is
 * trained with `atelier train CONFIG --cv 5` as `model: {family: linear}`, `model: {family: dnn}`
 * (the defaults) and the dnn with the previous defaults (`training: {learning_rate: 0.01,
 * batch_size: 32, early_stopping: false}`); scikit-learn (bench/dnn_defaults_peer.py) runs
 * StandardScaler + linear/logistic regression and MLPs on the same CSVs with its own folds.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seededRandom } from '../src/core/random.js';

const root = join(import.meta.dirname, '..');
const cli = join(root, 'dist', 'cli', 'main.js');
const ws = mkdtempSync(join(tmpdir(), 'atelier-dnn-defaults-'));
const run = (args: string[]) => JSON.parse(execFileSync(process.execPath, [cli, ...args, '--json'], { cwd: ws, encoding: 'utf8' }));

function normal(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

function writeSet(file: string, rows: number, features: number, label: (x: number[], random: () => number) => string, seed: number): string {
  const random = seededRandom(seed);
  const lines = [[...Array.from({ length: features }, (_v, i) => `x${i}`), 'label'].join(',')];
  for (let r = 0; r < rows; r++) {
    const x = Array.from({ length: features }, () => normal(random));
    lines.push([...x.map((v) => v.toFixed(5)), label(x, random)].join(','));
  }
  const path = join(ws, file);
  writeFileSync(path, lines.join('\n') + '\n');
  return path;
}

const sets = [
  { name: 'housing', task: 'regression', label: 'MEDV', metric: 'rmse', path: join(root, 'examples', 'housing', 'housing.csv') },
  {
    name: 'binary',
    task: 'binary',
    label: 'label',
    metric: 'logloss',
    path: writeSet('binary.csv', 400, 10, (x, random) => (random() < 1 / (1 + Math.exp(-(1.5 * x[0]! - 2 * x[1]! + 0.8 * x[2]! + 0.5 * x[3]! - 0.7 * x[4]! + 0.3))) ? 'yes' : 'no'), 7),
  },
  {
    name: 'linear',
    task: 'regression',
    label: 'label',
    metric: 'rmse',
    path: writeSet('linear.csv', 300, 20, (x, random) => (3 * x[0]! - 2 * x[1]! + 1.5 * x[2]! + x[3]! - x[4]! + 0.5 * x[5]! + 2 * normal(random)).toFixed(5), 11),
  },
];
const variants = [
  ['linear', '{family: linear}', '{}'],
  ['dnn, defaults', '{family: dnn}', '{}'],
  ['dnn, old defaults', '{family: dnn}', '{learning_rate: 0.01, batch_size: 32, early_stopping: false}'],
] as const;

try {
  run(['init', '.']);
  const rows: string[] = [];
  for (const set of sets) {
    run(['data', 'import', set.path, '--name', set.name]);
    const cells: string[] = [];
    for (const [name, model, training] of variants) {
      const config = join(ws, `${set.name}.yaml`);
      writeFileSync(config, `name: ${set.name}\ntask: ${set.task}\ndata: { dataset: ${set.name}, label: ${set.label} }\nmodel: ${model}\ntraining: ${training}\n`);
      const t = performance.now();
      const cv = run(['train', config, '--cv', '5']).cv as Record<string, { mean: number }>;
      process.stderr.write(`${set.name}, ${name}: ${set.metric} ${cv[set.metric]!.mean.toFixed(4)} (${((performance.now() - t) / 1000).toFixed(1)} s)\n`);
      cells.push(cv[set.metric]!.mean.toFixed(set.metric === 'rmse' ? 2 : 3));
    }
    const peer = JSON.parse(execFileSync('/usr/bin/python3', [join(import.meta.dirname, 'dnn_defaults_peer.py'), set.path, set.label, set.task], { encoding: 'utf8' }).trim().split('\n').pop()!) as Record<string, number>;
    const digits = set.metric === 'rmse' ? 2 : 3;
    rows.push(`| ${set.name}, ${set.metric === 'rmse' ? 'RMSE' : 'log loss'} | ${cells.join(' | ')} | ${[peer['linear']!, peer['mlp']!, peer['mlp_es']!].map((v) => v.toFixed(digits)).join(' | ')} |`);
  }
  console.log(`| set (5-fold CV) | ${variants.map(([name]) => name).join(' | ')} | scikit-learn linear / logistic | MLP default | MLP (64, 32), early_stopping=True |`);
  console.log(`|---|---|---|---|---|---|---|`);
  for (const row of rows) console.log(row);
} finally {
  rmSync(ws, { recursive: true, force: true });
}
