import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { cli, freePort, postJson, startCli, tempDir } from './helpers.js';

function parseCsv(text: string): Record<string, string>[] {
  const [header, ...lines] = text.trim().split('\n');
  const names = header!.split(',');
  return lines.map((line) => Object.fromEntries(line.split(',').map((v, i) => [names[i]!, v])));
}

test('quickstart trains, registers, serves and predicts; the workspace then works as a new user would use it', async () => {
  const home = tempDir();
  const port = await freePort();
  const quick = await cli(['quickstart', '--no-serve', '--json', '--port', String(port)], { cwd: home });
  assert.equal(quick.code, 0, quick.stderr);
  const result = quick.json;
  assert.equal(result.model, 'housing');
  assert.equal(result.version, 1);
  assert.equal(result.alias, 'production');
  assert.ok(result.rmse > 0 && result.rmse < 4.5, `held-out RMSE ${result.rmse} should be below 4.5`);
  assert.equal(result.predictions.length, 2);
  for (const p of result.predictions) assert.ok(p > 5 && p < 50, `prediction ${p} is a plausible MEDV`);
  assert.match(result.curl, /^curl .*\/v1\/models\/housing:predict/);

  const workspace = join(home, 'atelier-quickstart');
  const list = await cli(['models', 'list', '--json'], { cwd: workspace });
  assert.equal(list.code, 0, list.stderr);
  assert.deepEqual(list.json.models.map((m: any) => [m.name, m.versions.map((v: any) => [v.version, v.aliases])]), [['housing', [[1, ['production']]]]]);

  // The server answers a TF Serving predict, and batch prediction gives the same numbers.
  const servePort = await freePort();
  const server = await startCli(['serve', '--port', String(servePort), '--json'], { cwd: workspace });
  try {
    assert.equal(server.json.port, servePort);
    const houses = JSON.parse(readFileSync(join(workspace, 'houses.json'), 'utf8'));
    const answer = await postJson(`http://127.0.0.1:${servePort}/v1/models/housing:predict`, houses);
    assert.equal(answer.status, 200);
    assert.equal(answer.body.predictions.length, 2);
    assert.deepEqual(answer.body.predictions, result.predictions);

    // The same rows as CSV through `atelier predict`.
    const names = Object.keys(houses.instances[0]);
    const csv = [names.join(','), ...houses.instances.map((h: any) => names.map((n) => h[n]).join(','))].join('\n') + '\n';
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(workspace, 'two-houses.csv'), csv);
    const batch = await cli(['predict', 'housing', 'two-houses.csv', '-o', 'out.csv', '--json'], { cwd: workspace });
    assert.equal(batch.code, 0, batch.stderr);
    assert.equal(batch.json.rows, 2);
    const rows = parseCsv(readFileSync(join(workspace, 'out.csv'), 'utf8'));
    // Float32 networks: the server answers two rows with its JavaScript forward pass, batch
    // prediction with the kernel it uses for every chunk size; they agree to float32 rounding.
    rows.forEach((row, i) => assert.ok(Math.abs(Number(row.prediction) - answer.body.predictions[i]) <= 1e-5 * Math.abs(answer.body.predictions[i]), `${row.prediction} against ${answer.body.predictions[i]}`));
  } finally {
    server.child.kill('SIGINT');
  }
  assert.equal(await server.stopped, 0);
});

test('quickstart without --no-serve keeps serving until Ctrl-C', async () => {
  const home = tempDir();
  const port = await freePort();
  const running = await startCli(['quickstart', '--json', '--port', String(port)], { cwd: home });
  try {
    assert.equal(running.json.serving, true);
    assert.equal(running.json.url, `http://127.0.0.1:${port}`);
    const houses = JSON.parse(readFileSync(join(home, 'atelier-quickstart', 'houses.json'), 'utf8'));
    const answer = await postJson(`${running.json.url}/v1/models/housing:predict`, houses);
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.body.predictions, running.json.predictions);
  } finally {
    running.child.kill('SIGINT');
  }
  assert.equal(await running.stopped, 0);
});
