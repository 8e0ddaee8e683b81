import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { cli, HOUSING, tempDir } from './helpers.js';

/** Housing plus a categorical column, as CSV text; `edit` may change each row. */
function homesCsv(edit: (row: Record<string, number | string>, i: number) => void = () => {}, order?: (rows: string[]) => string[]): string {
  const [header, ...lines] = readFileSync(HOUSING, 'utf8').trim().split('\n');
  const names = header!.split(',').map((h) => JSON.parse(h) as string);
  const rows = lines.map((line, i) => {
    const row: Record<string, number | string> = Object.fromEntries(line.split(',').map((v, j) => [names[j]!, Number(v)]));
    row.access = (row.RAD as number) <= 4 ? 'near' : (row.RAD as number) <= 8 ? 'mid' : 'far';
    edit(row, i);
    return [...names, 'access'].map((n) => row[n]).join(',');
  });
  return [[...names, 'access'].join(','), ...(order ? order(rows) : rows)].join('\n') + '\n';
}

describe('data quality: statistics, schema, validation, drift, and training on bad data', () => {
  let ws: string;
  const run = (...args: string[]) => cli(args, { cwd: ws });
  before(async () => {
    ws = tempDir();
    assert.equal((await run('init')).code, 0);
    writeFileSync(join(ws, 'homes.csv'), homesCsv());
    // The same rows in another order: different bytes, the same distribution.
    writeFileSync(join(ws, 'homes-shuffled.csv'), homesCsv(undefined, (rows) => [...rows].reverse()));
    // RM shifted by one standard deviation; most rows get a new dominant access value.
    writeFileSync(join(ws, 'homes-drifted.csv'), homesCsv((row, i) => {
      row.RM = (row.RM as number) + 0.7026;
      if (i % 10 !== 0) row.access = 'remote';
    }));
    for (const file of ['homes.csv', 'homes-shuffled.csv', 'homes-drifted.csv']) {
      const imported = await run('data', 'import', file, '--name', 'homes');
      assert.equal(imported.code, 0, imported.stderr);
    }
  });

  test('stats: a table with histograms, JSON figures, and an offline HTML page', async () => {
    const human = await run('data', 'stats', 'homes@1', '--html', 'homes.html');
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /homes@1: 506 rows, 15 features/);
    assert.match(human.stdout, /MEDV\s+float\s+506\s+0\s+22\.533\s+9\.1971\s+5\s+21\.2\s+50\s+229\s+[▁▂▃▄▅▆▇█ ]{10}/);
    assert.match(human.stdout, /access\s+string\s+506.*near 38%, mid 36%, far 26%/);
    const json = await run('data', 'stats', 'homes@1', '--json');
    const medv = json.json.statistics.features.MEDV;
    assert.equal(Number(medv.mean.toFixed(4)), 22.5328);
    assert.equal(medv.histogram.length, 10);
    assert.equal(medv.histogram.reduce((n: number, b: { count: number }) => n + b.count, 0), 506);
    const page = readFileSync(join(ws, 'homes.html'), 'utf8');
    assert.equal((page.match(/<svg/g) ?? []).length, 14 + 1, 'an equal-width histogram per numeric feature, value counts for access');
    assert.doesNotMatch(page, /<script|https?:\/\/(?!www\.w3\.org)/, 'no scripts or network fetches');
  });

  test('schema inferred; the data it came from and an unchanged copy pass; a drifted copy is flagged', async () => {
    const inferred = await run('data', 'schema', 'infer', 'homes@1', '--label', 'MEDV', '-o', 'homes.schema.yaml', '--json');
    assert.equal(inferred.code, 0, inferred.stderr);
    assert.equal(inferred.json.version, 1);
    const yaml = readFileSync(join(ws, 'homes.schema.yaml'), 'utf8');
    assert.match(yaml, /access:\n\s+type: string\n\s+presence: required\n\s+domain: \{ values: \[ far, mid, near \] \}/);

    const self = await run('data', 'validate', 'homes@1', '--json');
    assert.equal(self.code, 0, self.stdout);
    assert.deepEqual(self.json.anomalies, []);

    const unchanged = await run('data', 'validate', 'homes@2', '--against', 'homes@1', '--json');
    assert.equal(unchanged.code, 0, JSON.stringify(unchanged.json?.anomalies));
    assert.deepEqual(unchanged.json.anomalies, []);
    const quiet = await run('data', 'drift', 'homes@1', 'homes@2', '--json');
    assert.deepEqual(quiet.json.crossed, []);

    const drifted = await run('data', 'validate', 'homes@3', '--against', 'homes@1', '--json');
    assert.equal(drifted.code, 1);
    const drift = drifted.json.anomalies.filter((a: any) => a.kind === 'drift').map((a: any) => a.feature).sort();
    assert.deepEqual(drift, ['RM', 'access']);
    const unknown = drifted.json.anomalies.find((a: any) => a.kind === 'unknown_categories');
    assert.equal(unknown.feature, 'access');
    assert.match(unknown.message, /remote/);
    const loud = await run('data', 'drift', 'homes@1', 'homes@3', '--json');
    assert.deepEqual([...loud.json.crossed].sort(), ['RM', 'access']);
    const text = await run('data', 'validate', 'homes@3', '--against', 'homes@1');
    assert.match(text.stdout, /error\s+access\s+drift/);
  });

  test('training refuses data that breaks its schema unless --allow-anomalies, and the run records it', async () => {
    const config = `name: homes\ntask: regression\ndata: { dataset: homes@3, label: MEDV }\nmodel: { family: linear }\n`;
    writeFileSync(join(ws, 'homes.yaml'), config);
    const refused = await run('train', 'homes.yaml');
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /homes@3 breaks homes schema v1 with \d+ errors .*--allow-anomalies/);
    const models = await run('models', 'list', '--json');
    assert.deepEqual(models.json.models, []);
    const allowed = await run('train', 'homes.yaml', '--allow-anomalies', '--json');
    assert.equal(allowed.code, 0, allowed.stderr);
    const shown = await run('models', 'show', 'homes@1', '--json');
    assert.equal(shown.json.run.params.validation.allowedAnomalies, true);
    assert.ok(shown.json.run.params.validation.errors > 0);
    writeFileSync(join(ws, 'homes-ok.yaml'), config.replace('homes@3', 'homes@1'));
    assert.equal((await run('train', 'homes-ok.yaml')).code, 0);
  });
});
