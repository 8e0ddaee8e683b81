import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { chromium } from 'playwright-core';
import { binaryReport } from '../src/evaluation/metrics-binary.js';
import { cli, HOUSING, ROOT, tempDir } from './helpers.js';
import { pixelSummary } from './png.js';

/** Debian's chromium; CI installs it (.ci/run). Missing, the browser test fails: it does not skip. */
const CHROMIUM = '/usr/bin/chromium';

/** Housing with MEDV turned into a binary label: true when the median value is above 25 (k$). */
function writeExpensive(dir: string): string {
  const [header, ...lines] = readFileSync(HOUSING, 'utf8').trim().split('\n');
  const names = header!.split(',');
  const medv = names.indexOf('"MEDV"');
  const out = [[...names.filter((_n, j) => j !== medv), 'expensive'].join(',')];
  for (const line of lines) {
    const cells = line.split(',');
    out.push([...cells.filter((_c, j) => j !== medv), String(Number(cells[medv]) > 25)].join(','));
  }
  const file = join(dir, 'expensive.csv');
  writeFileSync(file, out.join('\n') + '\n');
  writeFileSync(
    join(dir, 'expensive.yaml'),
    ['name: expensive', 'task: binary', 'data:', '  dataset: expensive', '  label: expensive', '  split: { eval: 0.2, seed: 42 }', 'model:', '  family: linear', ''].join('\n'),
  );
  return file;
}

async function ok(cwd: string, args: string[]) {
  const result = await cli([...args, '--json'], { cwd });
  assert.equal(result.code, 0, `atelier ${args.join(' ')}: ${result.stderr}`);
  return result.json;
}

/** Exit `code`, one line on stderr matching `pattern`. */
async function refused(cwd: string, args: string[], code: number, pattern: RegExp) {
  const result = await cli(args, { cwd });
  assert.equal(result.code, code, `exit code of atelier ${args.join(' ')}: ${result.stderr}`);
  assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
  assert.match(result.stderr, pattern);
}

describe('atelier evaluate: metrics by task, slices, importance, report', () => {
  let ws: string;
  let trained: Record<string, any>;

  before(async () => {
    ws = tempDir('atelier-eval-');
    assert.equal((await cli(['init'], { cwd: ws })).code, 0);
    await ok(ws, ['data', 'import', HOUSING, '--name', 'housing']);
    await ok(ws, ['data', 'import', join(ROOT, 'examples', 'iris', 'iris.csv'), '--name', 'iris']);
    await ok(ws, ['data', 'import', writeExpensive(ws), '--name', 'expensive']);
    trained = {};
    for (const config of [join(ROOT, 'examples', 'housing', 'gbdt.yaml'), join(ROOT, 'examples', 'iris', 'logistic.yaml'), 'expensive.yaml']) {
      const t = await ok(ws, ['train', config]);
      trained[t.model] = t;
    }
  });

  test('regression: the held-out figures of training, MAPE, residual quantiles, slices with row counts, importance', async () => {
    const r = await ok(ws, ['evaluate', 'housing-gbdt', '--slice', 'CHAS', '--slice', 'AGE', '--slice', 'TAX:2']);
    assert.deepEqual([r.model, r.version, r.dataset, r.datasetVersion, r.split], ['housing-gbdt', 1, 'housing', 1, 'eval']);
    assert.deepEqual(r.metrics, trained['housing-gbdt'].metrics, 'the default split reproduces training');
    const d = r.details;
    assert.equal(d.task, 'regression');
    assert.equal(d.count, 102);
    assert.deepEqual([d.rmse, d.mae, d.r2], [r.metrics.rmse, r.metrics.mae, r.metrics.r2]);
    assert.equal(d.mapeSkippedZeroLabels, 0);
    assert.ok(d.mape > 0.05 && d.mape < 0.2, `MAPE ${d.mape}`);
    const q = d.residuals;
    assert.ok(q.p5 < q.p25 && q.p25 < q.p50 && q.p50 < q.p75 && q.p75 < q.p95);

    assert.deepEqual(
      r.slices.map((s: any) => [s.feature, s.kind, s.slices.map((x: any) => [x.value, x.rows])]),
      [
        ['CHAS', 'values', [['0', 100], ['1', 2]]],
        ['AGE', 'quantiles', [['[6, 42.125)', 26], ['[42.125, 77.25)', 25], ['[77.25, 91.775)', 25], ['[91.775, 100]', 26]]],
        ['TAX', 'quantiles', [['[188, 384)', 49], ['[384, 711]', 53]]],
      ],
    );
    assert.deepEqual(Object.keys(r.slices[0].slices[0].metrics), ['rmse', 'mae', 'mape', 'r2', 'bias']);

    assert.equal(r.importance.metric, 'rmse');
    assert.equal(r.importance.baseline, d.rmse);
    assert.deepEqual([r.importance.repeats, r.importance.seed], [5, 42]);
    assert.equal(r.importance.features.length, 13);
    assert.deepEqual(r.importance.features.slice(0, 2).map((f: any) => f.feature), ['LSTAT', 'RM'], 'the two features housing models lean on');
    const seeded = ['evaluate', 'housing-gbdt', '--importance-repeats', '2', '--seed', '7'];
    const [again, twice, none, text] = await Promise.all([
      ok(ws, seeded),
      ok(ws, seeded),
      ok(ws, ['evaluate', 'housing-gbdt', '--no-importance']),
      cli(['evaluate', 'housing-gbdt', '--slice', 'CHAS', '--no-importance'], { cwd: ws }),
    ]);
    assert.deepEqual([again.importance.repeats, again.importance.seed], [2, 7]);
    assert.notDeepEqual(again.importance.features, r.importance.features);
    assert.deepEqual(twice.importance, again.importance, 'seeded');
    assert.equal(none.importance, null);

    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^housing-gbdt@1 on housing@1:eval \(102 rows\)\n\n {2}RMSE [\d.]+ · MAE [\d.]+ · R² [\d.]+\n/);
    assert.match(text.stdout, /Residuals \(actual − predicted\)\n {2}P5\s+P25\s+P50\s+P75\s+P95\n/);
    assert.match(text.stdout, /Slices by CHAS \(values\)\n {2}CHAS\s+ROWS\s+RMSE\s+MAE\s+MAPE\s+R²\s+BIAS\n {2}0\s+100\s+[\d.]+/);
  });

  test('binary: ROC and PR AUC, log loss, thresholds, best-F1 threshold, calibration; the same figures as the predictions give', async () => {
    const all = await ok(ws, ['evaluate', 'expensive', '--data', 'expensive:all', '--slice', 'CHAS', '--no-importance']);
    const d = all.details;
    assert.equal(d.task, 'binary');
    assert.deepEqual(all.classes, ['false', 'true']);
    assert.equal(d.count, 506);
    assert.equal(d.positives, 124, 'houses above 25 (k$)');
    assert.equal(d.rocAuc, all.metrics.auc);
    assert.equal(d.logloss, all.metrics.logloss);
    assert.equal(d.atThreshold.accuracy, all.metrics.accuracy);
    assert.ok(d.rocAuc > 0.9 && d.prAuc > 0.7, `AUC ${d.rocAuc}, AP ${d.prAuc}`);
    assert.ok(d.bestF1.f1 >= d.atThreshold.f1);
    assert.equal(d.calibration.length, 10);
    assert.equal(d.calibration.reduce((n: number, b: any) => n + b.count, 0), 506);
    assert.deepEqual(Object.keys(all.slices[0].slices[0].metrics), ['positives', 'rocAuc', 'prAuc', 'logloss', 'accuracy', 'precision', 'recall', 'f1']);
    assert.equal(all.slices[0].slices.reduce((n: number, s: any) => n + s.rows, 0), 506);

    // The report of the batch predictions' probabilities is the evaluation's, to the last digit.
    const scored = await cli(['predict', 'expensive', 'expensive.csv', '-o', 'scored.csv'], { cwd: ws });
    assert.equal(scored.code, 0, scored.stderr);
    const [header, ...rows] = readFileSync(join(ws, 'scored.csv'), 'utf8').trim().split('\n');
    const columns = header!.split(',');
    const yes = columns.indexOf('probability_true');
    const label = columns.indexOf('expensive');
    const cells = rows.map((l) => l.split(','));
    const expected = binaryReport(cells.map((c) => Number(c[yes])), cells.map((c) => (c[label] === 'true' ? 1 : 0)));
    for (const key of ['rocAuc', 'prAuc', 'brier', 'positives'] as const) assert.ok(Math.abs(d[key] - expected[key]) < 1e-9, `${key}: ${d[key]} vs ${expected[key]}`);
    assert.deepEqual(d.atThreshold, expected.atThreshold);

    const low = await ok(ws, ['evaluate', 'expensive', '--data', 'expensive:all', '--threshold', '0.2', '--no-importance']);
    assert.equal(low.details.atThreshold.threshold, 0.2);
    assert.ok(low.details.atThreshold.recall >= d.atThreshold.recall);
    assert.deepEqual(low.details.bestF1, d.bestF1, 'the best-F1 threshold does not depend on --threshold');

    const held = await ok(ws, ['evaluate', 'expensive']);
    assert.equal(held.importance.metric, 'logloss');
    assert.deepEqual(held.metrics, trained.expensive.metrics);
  });

  test('multiclass: accuracy, macro and weighted F1, per class, confusion matrix; slices by a text column', async () => {
    const r = await ok(ws, ['evaluate', 'iris-logistic', '--data', 'iris:all', '--slice', 'species', '--no-importance']);
    const d = r.details;
    assert.equal(d.task, 'multiclass');
    assert.equal(d.accuracy, r.metrics.accuracy);
    assert.deepEqual(d.perClass.map((c: any) => [c.class, c.support]), [['setosa', 50], ['versicolor', 50], ['virginica', 50]]);
    assert.equal(d.confusion.flat().reduce((a: number, b: number) => a + b, 0), 150);
    assert.deepEqual(d.confusion.map((row: number[], k: number) => row[k]).reduce((a: number, b: number) => a + b, 0), Math.round(d.accuracy * 150));
    assert.deepEqual(
      r.slices[0].slices.map((s: any) => [s.value, s.rows, s.metrics.accuracy]),
      d.perClass.map((c: any) => [c.class, 50, c.recall]),
      'per label value, accuracy is the class recall',
    );
    assert.equal(r.slices[0].kind, 'categorical');
  });

  test('the report is one self-contained HTML file with the charts inline', async () => {
    const r = await ok(ws, ['evaluate', 'expensive', '--report', 'expensive.html']);
    assert.equal(r.report, join(ws, 'expensive.html'));
    assert.equal(r.charts, undefined, 'the JSON answer carries no SVG');
    const page = readFileSync(join(ws, 'expensive.html'), 'utf8');
    assert.deepEqual([...page.matchAll(/data-chart="(\w+)"/g)].map((m) => m[1]), ['roc', 'pr', 'calibration', 'confusion', 'importance', 'training']);
    assert.equal((page.match(/<svg/g) ?? []).length, 6);
    assert.doesNotMatch(page, /<script|<link|@import|url\((?!#)|https?:\/\/(?!www\.w3\.org)/, 'no scripts, no fetches');
    assert.match(page, /<h2>Thresholds<\/h2>/);
    const regression = await ok(ws, ['evaluate', 'housing-gbdt', '--report', 'housing.html']);
    assert.ok(regression.report);
    assert.deepEqual([...readFileSync(join(ws, 'housing.html'), 'utf8').matchAll(/data-chart="(\w+)"/g)].map((m) => m[1]), ['residuals', 'importance', 'training']);
  });

  test('the report opens in headless Chromium with no console errors and no requests, and every chart is drawn', async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium)`);
    await ok(ws, ['evaluate', 'expensive', '--report', 'browser-binary.html', '--slice', 'CHAS']);
    await ok(ws, ['evaluate', 'iris-logistic', '--data', 'iris:all', '--report', 'browser-multiclass.html']);
    await ok(ws, ['evaluate', 'housing-gbdt', '--report', 'browser-regression.html']);
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    try {
      for (const [file, charts] of [
        ['browser-binary.html', ['roc', 'pr', 'calibration', 'confusion', 'importance', 'training']],
        ['browser-multiclass.html', ['confusion', 'importance', 'training']],
        ['browser-regression.html', ['residuals', 'importance', 'training']],
      ] as const) {
        const page = await browser.newPage();
        const problems: string[] = [];
        const requests: string[] = [];
        page.on('console', (m) => {
          if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
        });
        page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
        page.on('request', (r) => requests.push(r.url()));
        const url = `file://${join(ws, file)}`;
        await page.goto(url, { waitUntil: 'load' });
        assert.deepEqual(problems, [], `${file}: console`);
        assert.deepEqual(requests, [url], `${file}: the page fetches nothing but itself`);
        assert.match(await page.title(), /^Evaluation of /);
        const figures = page.locator('figure.chart');
        assert.deepEqual(await figures.evaluateAll((list) => list.map((f) => f.getAttribute('data-chart'))), charts);
        for (let i = 0; i < charts.length; i++) {
          const figure = figures.nth(i);
          const box = await figure.boundingBox();
          assert.ok(box && box.width > 150 && box.height > 100, `${file} ${charts[i]}: laid out at ${JSON.stringify(box)}`);
          const shot = pixelSummary(await figure.screenshot());
          assert.ok(shot.colours >= 20, `${file} ${charts[i]}: ${shot.colours} distinct colours`);
          assert.ok(shot.inked > 0.02, `${file} ${charts[i]}: ${(shot.inked * 100).toFixed(1)}% of pixels drawn`);
        }
        await page.close();
      }
    } finally {
      await browser.close();
    }
  });

  test('training stores the held-out report and charts in the bundle; models show lists them', async () => {
    const show = await ok(ws, ['models', 'show', 'expensive']);
    assert.deepEqual(Object.keys(show.evaluation.charts), ['calibration', 'confusion', 'importance', 'pr', 'roc', 'training']);
    for (const file of Object.values(show.evaluation.charts) as string[]) assert.match(readFileSync(file, 'utf8'), /^<svg/);
    assert.equal(show.evaluation.report.task, 'binary');
    assert.equal(show.evaluation.report.rocAuc, trained.expensive.metrics.auc);
    const manifest = JSON.parse(readFileSync(join(show.bundle, 'bundle.json'), 'utf8'));
    assert.ok(manifest.files['evaluation/charts/roc.svg'], 'the charts are hashed with the bundle');
    const text = await cli(['models', 'show', 'housing-gbdt'], { cwd: ws });
    assert.match(text.stdout, /\n {2}charts {4}importance, residuals, training \(held-out split\) in \S+evaluation\/charts\n/);
    assert.ok(existsSync(join((await ok(ws, ['models', 'show', 'iris-logistic'])).bundle, 'evaluation', 'charts', 'confusion.svg')));
  });

  test('bad input is refused with the field named', async () => {
    await Promise.all([
      refused(ws, ['evaluate', 'housing-gbdt', '--slice', 'NOPE'], 1, /--slice: no feature "NOPE" in the data; its features are CRIM, ZN, INDUS, CHAS, NOX, RM, AGE, DIS, RAD, TAX, PTRATIO, B, LSTAT, MEDV/),
      refused(ws, ['evaluate', 'housing-gbdt', '--slice', 'AGE:1'], 2, /--slice AGE:1: the bucket count after ":" must be a whole number from 2 to 100/),
      refused(ws, ['evaluate', 'housing-gbdt', '--threshold', '0.3'], 2, /--threshold applies to binary models; housing-gbdt@1 is a regression model/),
      refused(ws, ['evaluate', 'expensive', '--threshold', '1.5'], 2, /--threshold must be a probability from 0 to 1, got 1\.5/),
      refused(ws, ['evaluate', 'expensive', '--threshold', 'half'], 2, /--threshold expects a number, got "half"/),
      refused(ws, ['evaluate', 'expensive', '--importance-repeats', '-1'], 2, /--importance-repeats must be a whole number from 0 to 100, got -1/),
      refused(ws, ['evaluate', 'expensive', '--report', 'no/such/folder/r.html'], 1, /--report no\/such\/folder\/r\.html: folder \S+no\/such\/folder does not exist/),
    ]);
  });
});
