import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { parseJsonBody } from '../src/serving/json-body.js';
import { cli, tempDir } from './helpers.js';
import { request, serve, servingWorkspace } from './serving-setup.js';

describe('serving: edge cases (non-finite answers, made-up names, reloaded versions, bool logs, broken bundles)', () => {
  let ws: string;
  before(async () => {
    ws = await servingWorkspace();
    // A model with a bool input, for the prediction log's types.
    const lines = ['x,flag,y', ...Array.from({ length: 120 }, (_v, i) => `${i % 10},${i % 2 === 0},${(i % 10) * 2 + (i % 2 === 0 ? 3 : 0)}`)];
    writeFileSync(join(ws, 'flags.csv'), lines.join('\n') + '\n');
    writeFileSync(join(ws, 'flags.yaml'), 'name: flags\ntask: regression\ndata: { dataset: flags, label: y, split: { eval: 0.2, seed: 1 } }\nfeatures: [x, flag]\nmodel: { family: linear }\n');
    for (const args of [['data', 'import', 'flags.csv', '--name', 'flags'], ['train', 'flags.yaml']]) {
      const result = await cli(args, { cwd: ws });
      assert.equal(result.code, 0, `atelier ${args.join(' ')}: ${result.stderr}`);
    }
  });

  test('a prediction of Infinity or NaN answers 200 with the bare token, as TF Serving writes it, and /metrics still renders', async () => {
    const server = await serve(ws);
    try {
      // Infinity is outside the training range: served under the default accept policy.
      for (const [path, body] of [
        ['/v1/models/single:predict', '{"instances": [Infinity]}'],
        ['/v1/models/single:predict', '{"inputs": {"x": [-Infinity, 1]}}'],
        ['/v2/models/single/infer', '{"inputs": [{"name": "x", "shape": [1], "datatype": "FP64", "data": [Infinity]}]}'],
      ] as const) {
        const answer = await request(`${server.url}${path}`, { body });
        assert.equal(answer.status, 200, `${path} ${body}: ${answer.text}`);
        assert.match(answer.text, /(-?Infinity|NaN)/, answer.text);
        const parsed = parseJsonBody(answer.text) as { predictions?: number[]; outputs?: unknown };
        const values = (parsed.predictions ?? (Array.isArray(parsed.outputs) ? parsed.outputs : (parsed.outputs as { data: number[] }[])[0]!.data)) as number[];
        assert.ok(!Number.isFinite(values[0]), `${path}: ${answer.text}`);
      }
      const metrics = await request(`${server.url}/metrics`);
      assert.equal(metrics.status, 200);
      // Only finite values enter the histogram: the second row of the columnar request.
      assert.match(metrics.text, /^atelier_prediction_value_count\{model="single",version="1"\} 1$/m);
    } finally {
      await server.stop();
    }
  });

  test('requests for names the server does not serve are counted under model "", not as new series', async () => {
    const server = await serve(ws);
    try {
      for (const name of ['nope', 'made-up-1', '%00']) assert.equal((await request(`${server.url}/v1/models/${name}:predict`, { body: { instances: [1] } })).status, 404);
      const text = (await request(`${server.url}/metrics`)).text;
      assert.ok(text.includes('atelier_requests_total{model="",version="",api="predict",status="404"} 3'), text.split('\n').filter((l) => l.startsWith('atelier_requests_total')).join('\n'));
      assert.ok(!text.includes('nope') && !text.includes('made-up-1'));
    } finally {
      await server.stop();
    }
  });

  test('a version retired by a promotion and loaded again by number is listed once in its status', async () => {
    const server = await serve(ws, { pollMs: 50 });
    try {
      assert.equal((await cli(['models', 'promote', 'toy@2', '--alias', 'production', '--force'], { cwd: ws })).code, 0);
      const status = async () => (await request(`${server.url}/v1/models/toy`)).body.model_version_status as { version: string; state: string }[];
      for (let i = 0; i < 100 && !(await status()).some((s) => s.version === '1' && s.state === 'END'); i++) await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual((await status()).map((s) => [s.version, s.state]), [['2', 'AVAILABLE'], ['1', 'END']]);
      // Version 1 by number: 503 while it loads again, then served.
      const row = { instances: [{ x: 1.5, n: 2, color: 'red' }] };
      let answer = await request(`${server.url}/v1/models/toy/versions/1:predict`, { body: row });
      for (let i = 0; i < 100 && answer.status === 503; i++) {
        await new Promise((r) => setTimeout(r, 50));
        answer = await request(`${server.url}/v1/models/toy/versions/1:predict`, { body: row });
      }
      assert.equal(answer.status, 200, answer.text);
      assert.deepEqual((await status()).map((s) => [s.version, s.state]), [['2', 'AVAILABLE'], ['1', 'AVAILABLE']]);
      assert.deepEqual((await request(`${server.url}/v1/models/toy/versions/1`)).body.model_version_status.map((s: { state: string }) => s.state), ['AVAILABLE']);
    } finally {
      await server.stop();
      assert.equal((await cli(['models', 'promote', 'toy@1', '--alias', 'production', '--force'], { cwd: ws })).code, 0);
    }
  });

  test('the prediction log writes bool inputs as true/false, so the import types them as the training data', async () => {
    const logs = tempDir('atelier-log-');
    const server = await serve(ws, { predictionLog: { dir: logs } });
    try {
      const answer = await request(`${server.url}/v1/models/flags:predict`, { body: { instances: [{ x: 1, flag: true }, { x: 2, flag: false }] } });
      assert.equal(answer.status, 200, answer.text);
    } finally {
      await server.stop();
    }
    const dir = join(logs, 'flags');
    const records = readdirSync(dir).flatMap((f) => readFileSync(join(dir, f), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { flag: unknown }));
    assert.deepEqual(records.map((r) => r.flag), [true, false]);
    const imported = await cli(['data', 'import', dir, '--name', 'served-flags', '--json'], { cwd: ws });
    assert.equal(imported.code, 0, imported.stderr);
    const shown = await cli(['data', 'show', 'served-flags', '--json'], { cwd: ws });
    assert.match(shown.stdout, /"name": "flag",\s*"sourceType": "BOOLEAN",\s*"type": "bool"/);
  });

  test('a bundle that fails its hash check answers with the version named, not the folder it is kept in', async () => {
    const show = JSON.parse((await cli(['models', 'show', 'iris@1', '--json'], { cwd: ws })).stdout) as { bundle: string };
    const transform = join(show.bundle, 'transform.json');
    const original = readFileSync(transform, 'utf8');
    writeFileSync(transform, original.replace('{', '{ '));
    const server = await serve(ws, { models: ['iris'] });
    try {
      const answer = await request(`${server.url}/v1/models/iris/metadata`);
      assert.equal(answer.status, 500, answer.text);
      assert.match(answer.body.error, /^iris version 1 cannot be loaded: .*transform\.json/);
      assert.ok(!answer.text.includes(show.bundle), answer.text);
    } finally {
      await server.stop();
      writeFileSync(transform, original);
    }
  });
});
