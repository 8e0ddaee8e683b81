import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { cli, freePort, startCli, tempDir } from './helpers.js';
import { request, serve, servingWorkspace } from './serving-setup.js';

const toyRow = { x: 1.5, n: 2, color: 'red' };
const predict = (url: string, body: unknown = { instances: [toyRow] }, headers?: Record<string, string>) => request(`${url}/v1/models/toy:predict`, { body, headers });

describe('serving: metrics, prediction log, security, limits, workers', () => {
  let ws: string;
  before(async () => {
    ws = await servingWorkspace();
  });

  test('/metrics: requests by model, version, API and status; latency, batch size, queue depth, load time, predictions', async () => {
    const server = await serve(ws);
    try {
      for (let i = 0; i < 3; i++) assert.equal((await predict(server.url)).status, 200);
      assert.equal((await predict(server.url, { instances: [{ x: 1 }] })).status, 400);
      const v2 = await request(`${server.url}/v2/models/iris/infer`, {
        body: { inputs: ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'].map((name) => ({ name, shape: [1], datatype: 'FP64', data: [1] })) },
      });
      assert.equal(v2.status, 200);
      const metrics = await request(`${server.url}/metrics`);
      assert.equal(metrics.status, 200);
      assert.match(metrics.headers.get('content-type')!, /^text\/plain/);
      const text = metrics.text;
      for (const line of [
        'atelier_requests_total{model="toy",version="1",api="predict",status="200"} 3',
        'atelier_requests_total{model="toy",version="1",api="predict",status="400"} 1',
        'atelier_requests_total{model="iris",version="1",api="infer",status="200"} 1',
        'atelier_request_duration_seconds_count{model="toy",version="1",api="predict"} 4',
        'atelier_batch_size_count{model="toy",version="1"} 3',
        'atelier_batch_size_bucket{le="1",model="toy",version="1"} 3',
        'atelier_queue_depth{model="toy",version="1"} 0',
        'atelier_prediction_value_count{model="toy",version="1"} 3',
        'atelier_prediction_value_count{model="iris",version="1"} 1',
      ]) {
        assert.ok(text.includes(line), `/metrics has ${line}`);
      }
      assert.match(text, /^atelier_model_load_seconds\{model="toy",version="1"\} \d/m);
      assert.match(text, /^# TYPE atelier_request_duration_seconds histogram$/m);
    } finally {
      await server.stop();
    }
  });

  test('micro-batching: concurrent requests share a model call', async () => {
    const server = await serve(ws, { batch: { maxBatch: 64, waitUs: 20_000, queueMax: 1024 } });
    try {
      const answers = await Promise.all(Array.from({ length: 16 }, (_v, i) => predict(server.url, { instances: [{ ...toyRow, x: i / 2 }] })));
      assert.deepEqual(answers.map((a) => a.status), Array(16).fill(200));
      // Each request still gets its own answer.
      const alone = await predict(server.url, { instances: [{ ...toyRow, x: 7 / 2 }] });
      assert.deepEqual(answers[7]!.body, alone.body);
      const text = (await request(`${server.url}/metrics`)).text;
      const count = Number(/atelier_batch_size_count\{model="toy",version="1"\} (\d+)/.exec(text)![1]);
      const sum = Number(/atelier_batch_size_sum\{model="toy",version="1"\} (\d+)/.exec(text)![1]);
      assert.equal(sum, 17, 'rows through the batcher: 16 + 1 (the warm-up calls the model directly)');
      assert.ok(count < 17, `${count} model calls for 17 requests`);
    } finally {
      await server.stop();
    }
  });

  test('prediction log: JSON Lines rotated by size, one flat record per instance, read by `atelier data import`', async () => {
    const dir = join(tempDir(), 'log');
    const server = await serve(ws, { predictionLog: { dir, sample: 1, maxBytes: 600 } });
    try {
      for (let i = 0; i < 6; i++) assert.equal((await predict(server.url, { instances: [toyRow, { ...toyRow, x: i }] }, { 'x-request-id': `r${i}` })).status, 200);
    } finally {
      await server.stop();
    }
    const files = readdirSync(join(dir, 'toy')).sort();
    assert.ok(files.length >= 2, `rotated into ${files.length} files`);
    assert.ok(files.every((f) => /^predictions-\d{8}T\d{6}Z-\d+-\d{4}\.jsonl$/.test(f)), files.join(', '));
    const records = files.flatMap((f) => readFileSync(join(dir, 'toy', f), 'utf8').trim().split('\n').map((l) => JSON.parse(l)));
    assert.equal(records.length, 12);
    assert.deepEqual(Object.keys(records[0]), ['x', 'n', 'color', 'prediction', 'model', 'version', 'request_id', 'time']);
    assert.deepEqual([records[0].x, records[0].n, records[0].color, records[0].model, records[0].version, records[0].request_id], [1.5, 2, 'red', 'toy', 1, 'r0']);
    assert.equal(typeof records[0].prediction, 'number');
    assert.ok(!Number.isNaN(Date.parse(records[0].time)));
    const imported = await cli(['data', 'import', join(dir, 'toy', files[0]!), '--name', 'served', '--json'], { cwd: ws });
    assert.equal(imported.code, 0, imported.stderr);
    const all = await cli(['data', 'import', join(dir, 'toy'), '--name', 'served-all', '--json'], { cwd: ws });
    assert.equal(all.code, 0, all.stderr);
    assert.equal(all.json.rowCount, 12, JSON.stringify(all.json));
  });

  test('sampling: --log-sample keeps about that fraction of requests', async () => {
    const dir = join(tempDir(), 'log');
    let draw = 0;
    const server = await serve(ws, { predictionLog: { dir, sample: 0.25, random: () => (draw++ % 4) / 4 } });
    try {
      for (let i = 0; i < 8; i++) await predict(server.url);
    } finally {
      await server.stop();
    }
    const lines = readdirSync(join(dir, 'toy')).flatMap((f) => readFileSync(join(dir, 'toy', f), 'utf8').trim().split('\n'));
    assert.equal(lines.length, 2);
  });

  test('bearer tokens: 401 without or with a wrong token, health probes open', async () => {
    const server = await serve(ws, { tokens: ['s3cret', 'other'] });
    try {
      const none = await predict(server.url);
      assert.equal(none.status, 401);
      assert.deepEqual(none.body, { error: 'missing or unknown bearer token (send Authorization: Bearer <token>)' });
      assert.equal(none.headers.get('www-authenticate'), 'Bearer');
      assert.equal((await predict(server.url, undefined, { authorization: 'Bearer wrong' })).status, 401);
      assert.equal((await request(`${server.url}/metrics`)).status, 401);
      assert.equal((await predict(server.url, undefined, { authorization: 'Bearer s3cret' })).status, 200);
      assert.equal((await predict(server.url, undefined, { authorization: 'Bearer other' })).status, 200);
      assert.equal((await request(`${server.url}/v2/health/live`)).status, 200);
      assert.equal((await request(`${server.url}/v2/health/ready`)).status, 200);
    } finally {
      await server.stop();
    }
  });

  test('limits: body size 413, queue full 429, timeout 504; no stack traces', async () => {
    const server = await serve(ws, { bodyLimit: 2000, timeoutMs: 100, batch: { maxBatch: 64, waitUs: 400_000, queueMax: 1 } });
    try {
      const big = await predict(server.url, { instances: Array(100).fill(toyRow) });
      assert.equal(big.status, 413);
      assert.deepEqual(Object.keys(big.body), ['error']);
      // The second request goes once the first is queued (the queue-depth gauge says so), not after a guessed delay.
      const first = predict(server.url);
      while (!/^atelier_queue_depth\{model="toy",version="1"\} 1$/m.test((await request(`${server.url}/metrics`)).text));
      const [slow, refused] = await Promise.all([first, predict(server.url)]);
      assert.equal(refused.status, 429);
      assert.deepEqual(refused.body, { error: 'the queue of this model is full (1 requests waiting); retry later' });
      assert.equal(slow.status, 504);
      assert.deepEqual(slow.body, { error: 'no answer within 100 ms' });
      for (const r of [big, refused, slow]) assert.doesNotMatch(r.text, /\.(ts|js):\d+/);
    } finally {
      await server.stop();
    }
  });

  test('atelier serve --workers 2: two processes on one port, each with its model manager', async () => {
    const port = await freePort();
    const tokens = join(tempDir(), 'tokens');
    writeFileSync(tokens, '# one token a line\nabc\n');
    const server = await startCli(['serve', '--port', String(port), '--workers', '2', '--models', 'toy', '--token-file', tokens, '--json'], { cwd: ws });
    try {
      assert.deepEqual([server.json.port, server.json.workers, server.json.models], [port, 2, ['toy']]);
      const answers = await Promise.all(Array.from({ length: 8 }, () => predict(`http://127.0.0.1:${port}`, undefined, { authorization: 'Bearer abc' })));
      assert.deepEqual(answers.map((a) => a.status), Array(8).fill(200));
      assert.equal((await request(`http://127.0.0.1:${port}/v1/models/iris`, { headers: { authorization: 'Bearer abc' } })).status, 404);
    } finally {
      server.child.kill('SIGINT');
    }
    assert.equal(await server.stopped, 0);
  });

  test('atelier serve --workers 2: every scrape of /metrics sees the whole server, summed over the workers', { timeout: 120_000 }, async () => {
    const port = await freePort();
    const server = await startCli(['serve', '--port', String(port), '--workers', '2', '--models', 'toy', '--json'], { cwd: ws });
    const url = `http://127.0.0.1:${port}`;
    const requestsTotal = (text: string) =>
      [...text.matchAll(/^atelier_requests_total\{model="toy",version="1",api="predict",status="200"\} (\d+)$/gm)].map((m) => Number(m[1]));
    try {
      const sent = 40;
      // Concurrent requests on fresh connections, so that both workers take some.
      const answers = await Promise.all(Array.from({ length: sent }, () => predict(url, undefined, { connection: 'close' })));
      assert.deepEqual(answers.map((a) => a.status), Array(sent).fill(200));
      for (let scrape = 0; scrape < 6; scrape++) {
        const metrics = await request(`${url}/metrics`, { headers: { connection: 'close' } });
        assert.equal(metrics.status, 200);
        assert.deepEqual(requestsTotal(metrics.text), [sent], `scrape ${scrape}: one series holding all ${sent} requests`);
        assert.match(metrics.text, /^atelier_request_duration_seconds_count\{model="toy",version="1",api="predict"\} 40$/m);
        // Each worker loads the model once: the load time is the slowest worker's, not a sum.
        assert.match(metrics.text, /^atelier_model_load_seconds\{model="toy",version="1"\} \d/m);
      }
    } finally {
      server.child.kill('SIGINT');
    }
    assert.equal(await server.stopped, 0);
  });
});
