import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadBundle } from '../src/bundle/load.js';
import { loadModelConfig } from '../src/core/config.js';
import { findWorkspace } from '../src/core/workspace.js';
import { readColumns } from '../src/data/table.js';
import { outputNames, rowsToColumns, transformColumns } from '../src/features/transform.js';
import { bundleDir, resolveModelVersion } from '../src/registry/models.js';
import { openContext } from '../src/store/context.js';
import { fitFeatures, prepareData } from '../src/training/prepare.js';
import { cli, freePort, HOUSING, postJson, ROOT, startCli, tempDir } from './helpers.js';

const CONFIG = join(ROOT, 'examples', 'housing', 'derived.yaml');

async function housingWorkspace(): Promise<string> {
  const dir = tempDir();
  assert.equal((await cli(['init', 'ws'], { cwd: dir })).code, 0);
  const workspace = join(dir, 'ws');
  assert.equal((await cli(['data', 'import', HOUSING, '--name', 'housing'], { cwd: workspace })).code, 0);
  return workspace;
}

test('derived features come out identical through training, the bundle, `atelier predict` and the HTTP server', async () => {
  const workspace = await housingWorkspace();
  const trained = await cli(['train', CONFIG, '--json'], { cwd: workspace });
  assert.equal(trained.code, 0, trained.stderr);

  const ctx = await openContext(findWorkspace({ dir: workspace }));
  const config = loadModelConfig(CONFIG);
  const bundle = await loadBundle(await bundleDir(ctx, await resolveModelVersion(ctx, 'housing-derived')));
  try {
    // Training's path: the transform fitted on the training split is the one frozen in the bundle.
    const data = await prepareData(ctx, config);
    const fitted = fitFeatures(data, data.trainRows);
    assert.deepEqual(fitted.transform, bundle.transform);
    assert.equal(bundle.transform.formatVersion, 3);
    assert.deepEqual(
      bundle.transform.derived!.map((d) => `${d.name}:${d.dtype}<-${d.inputs.map((i) => i.name).join('+')}`),
      ['log_lstat:float<-LSTAT', 'log_crim:float<-CRIM', 'rooms_squared:float<-RM', 'rooms_per_age:float<-RM+AGE', 'old_house:string<-AGE'],
    );
    assert.deepEqual(outputNames(bundle.transform).slice(13, 20), ['log_lstat', 'log_crim', 'rooms_squared', 'rooms_per_age', 'old_house=new', 'old_house=old', 'old_house#0']);
    // A request sends the raw columns only.
    const inputNames = bundle.transform.inputs.map((i) => i.name);
    assert.deepEqual(inputNames, ['CRIM', 'ZN', 'INDUS', 'CHAS', 'NOX', 'RM', 'AGE', 'DIS', 'RAD', 'TAX', 'PTRATIO', 'B', 'LSTAT']);
    assert.deepEqual(bundle.manifest.signature.inputs.map((i) => i.name), inputNames);

    const all = Uint32Array.from({ length: data.table.rows }, (_v, i) => i);
    const trainingMatrix = fitted.inputs(all);
    const version = (await ctx.store.getDatasetVersion('housing'))!;
    const raw = await readColumns(ctx, version, inputNames, (n) => n);
    const rows = Array.from({ length: raw.rows }, (_v, r) => Object.fromEntries(inputNames.map((name) => [name, raw.columns.get(name)![r]])));
    // Online path: JSON-like rows in, the same matrix out, bit for bit.
    assert.deepEqual(transformColumns(bundle.transform, rowsToColumns(bundle.transform, rows), rows.length).data, trainingMatrix.data);
    const online = (await bundle.predict(rows)) as number[];
    assert.deepEqual(online, Array.from(bundle.toPredictions(await bundle.predictColumns(raw.columns, raw.rows), raw.rows) as number[]));

    // Batch path: a CSV of the raw columns only through `atelier predict`.
    const csv = [inputNames.join(','), ...rows.map((row) => inputNames.map((n) => String(row[n])).join(','))].join('\n') + '\n';
    writeFileSync(join(workspace, 'raw.csv'), csv);
    const batch = await cli(['predict', 'housing-derived', 'raw.csv', '-o', 'scored.csv', '--json'], { cwd: workspace });
    assert.equal(batch.code, 0, batch.stderr);
    const { readFileSync } = await import('node:fs');
    const scored = readFileSync(join(workspace, 'scored.csv'), 'utf8').trim().split('\n').slice(1).map((line) => Number(line.split(',').pop()));
    assert.deepEqual(scored, online);

    // Online path over HTTP: the server answers the same numbers; a row whose derived value is
    // not finite, or whose expression fails, is refused with the feature named.
    const port = await freePort();
    const server = await startCli(['serve', '--port', String(port), '--json'], { cwd: workspace });
    try {
      const url = `http://127.0.0.1:${port}/v1/models/housing-derived:predict`;
      const answer = await postJson(url, { instances: rows });
      assert.equal(answer.status, 200);
      assert.deepEqual(answer.body.predictions, online);
      const infinite = await postJson(url, { instances: [{ ...rows[0], AGE: -1 }] });
      assert.equal(infinite.status, 400);
      assert.match(infinite.body.error, /instance 0: derived feature "rooms_per_age" = RM \/ \(AGE \+ 1\) is NULL or not finite/);
      const failing = await postJson(url, { instances: [rows[0], { ...rows[1], LSTAT: 0 }] });
      assert.equal(failing.status, 400);
      assert.match(failing.body.error, /row 1: derived feature "log_lstat" \(ln\(LSTAT\)\): cannot take logarithm of zero/);
    } finally {
      server.child.kill('SIGINT');
      await server.stopped;
    }
  } finally {
    bundle.dispose();
    await ctx.store.close();
  }
});

test('bad expressions stop `atelier train` with the feature, the position and what was expected; nothing is registered', async () => {
  const workspace = await housingWorkspace();
  const attempt = async (sql: string) => {
    writeFileSync(
      join(workspace, 'bad.yaml'),
      `name: bad\ntask: regression\ndata: { dataset: housing, label: MEDV }\nfeatures:\n  - RM\n  - { name: ratio, sql: ${JSON.stringify(sql)} }\nmodel: { family: linear }\n`,
    );
    const result = await cli(['train', 'bad.yaml', '--json'], { cwd: workspace });
    assert.equal(result.code, 1, result.stdout);
    const { code, message, ...facts } = result.json.error;
    return { code, message, facts };
  };
  assert.deepEqual(await attempt('RM / (AGE +'), {
    code: 'EXPRESSION_INVALID',
    message: `features[1].sql (feature "ratio"): at character 12 (the end): expected a value: a number, a 'string', a column, a function call, CASE, CAST or "(", found the end of the expression`,
    facts: {
      field: 'features[1].sql',
      feature: 'ratio',
      position: 12,
      expected: `a value: a number, a 'string', a column, a function call, CASE, CAST or "("`,
      got: 'the end of the expression',
    },
  });
  assert.deepEqual(await attempt('RM / AGEE'), {
    code: 'COLUMN_NOT_FOUND',
    message:
      'features[1].sql (feature "ratio"): dataset housing@1 has no column "AGEE" (at character 6 ("AGEE")); it has CRIM, ZN, INDUS, CHAS, NOX, RM, AGE, DIS, RAD, TAX, PTRATIO, B, LSTAT, MEDV',
    facts: { field: 'features[1].sql', feature: 'ratio', column: 'AGEE', position: 6 },
  });
  assert.deepEqual((await attempt("RM + 'a'")).message, `features[1].sql (feature "ratio"): at character 6 ("'a'"): "+" needs a number, got text (VARCHAR)`);
  assert.deepEqual((await attempt('MEDV / RM')).code, 'CONFIG_INVALID');
  assert.deepEqual((await attempt('ln(ZN)')).message, 'row 1: derived feature "ratio" (ln(ZN)): cannot take logarithm of zero');

  // The text form on stderr, as a user sees it.
  const plain = await cli(['train', 'bad.yaml'], { cwd: workspace });
  assert.equal(plain.stderr.trim(), 'atelier: row 1: derived feature "ratio" (ln(ZN)): cannot take logarithm of zero');
  const models = await cli(['models', 'list', '--json'], { cwd: workspace });
  assert.deepEqual(models.json.models, []);
});
