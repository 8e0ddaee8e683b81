import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
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

  test('infinite and overflowing inputs (Infinity, -Infinity, 1e39, 1e400) are refused with 400 naming the input; /metrics still renders', { timeout: 120_000 }, async () => {
    const server = await serve(ws);
    try {
      // The training data held no infinities, so none is served (a model computes in float32, where 1e39 is infinite too).
      for (const value of ['Infinity', '-Infinity', '1e39', '1e400']) {
        for (const [path, body] of [
          ['/v1/models/single:predict', `{"instances": [${value}]}`],
          ['/v1/models/single:predict', `{"inputs": {"x": [1, ${value}]}}`],
          ['/v2/models/single/infer', `{"inputs": [{"name": "x", "shape": [1], "datatype": "FP64", "data": [${value}]}]}`],
        ] as const) {
          const answer = await request(`${server.url}${path}`, { body });
          assert.equal(answer.status, 400, `${path} ${body}: ${answer.text}`);
          assert.match((answer.body as { error: string }).error, /feature "x" = .*(not a finite number|past float32's range)/, answer.text);
        }
      }
      const finite = await request(`${server.url}/v1/models/single:predict`, { body: '{"instances": [3e38]}' });
      assert.equal(finite.status, 200, finite.text);
      const metrics = await request(`${server.url}/metrics`);
      assert.equal(metrics.status, 200);
      assert.match(metrics.text, /^atelier_requests_total\{model="single",version="1",api="predict",status="400"\} 8$/m);
    } finally {
      await server.stop();
    }
  });

  test('requests for names the server does not serve are counted under model "", not as new series', async () => {
    const server = await serve(ws);
    try {
      for (const name of ['nope', 'made-up-1']) assert.equal((await request(`${server.url}/v1/models/${name}:predict`, { body: { instances: [1] } })).status, 404);
      // Not a model name at all (a NUL; %25E0 decodes to %E0, which must not be decoded again): malformed, 400.
      for (const name of ['%00', '%25E0']) {
        const answer = await request(`${server.url}/v1/models/${name}:predict`, { body: { instances: [1] } });
        assert.equal(answer.status, 400, answer.text);
        assert.match((answer.body as { error: string }).error, /^Malformed request: POST .* is not a model name/);
      }
      const text = (await request(`${server.url}/metrics`)).text;
      const lines = text.split('\n').filter((l) => l.startsWith('atelier_requests_total')).join('\n');
      assert.ok(text.includes('atelier_requests_total{model="",version="",api="predict",status="404"} 2'), lines);
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

describe('serving: hostile requests (deep nesting, bad URLs, huge ids, every version on demand)', () => {
  let ws: string;
  before(async () => {
    ws = await servingWorkspace();
    // toy@3, for a third version loaded on demand.
    const third = await cli(['train', 'toy.yaml'], { cwd: ws });
    assert.equal(third.code, 0, third.stderr);
  });

  test('versions loaded on demand are bounded: past --max-on-demand the least recently used unloads', { timeout: 60_000 }, async () => {
    const server = await serve(ws, { maxOnDemand: 1 });
    const body = { instances: [{ x: 1.5, n: 2, color: 'red' }] };
    const answered = async (version: number) => {
      for (;;) {
        const answer = await request(`${server.url}/v1/models/toy/versions/${version}:predict`, { body });
        if (answer.status === 200) return;
        assert.equal(answer.status, 503, answer.text); // loading: asked again
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    const state = async (version: number) => (await request(`${server.url}/v1/models/toy/versions/${version}`)).body.model_version_status[0].state;
    try {
      await answered(2);
      assert.equal(await state(2), 'AVAILABLE');
      await answered(3); // a second on-demand version: version 2 goes
      assert.equal(await state(3), 'AVAILABLE');
      assert.equal(await state(2), 'END');
      assert.equal(await state(1), 'AVAILABLE', 'production is followed, not on demand: it stays');
    } finally {
      await server.stop();
    }
  });

  test('v2 data nested 100,000 levels deep is a 400, not a stack overflow', { timeout: 60_000 }, async () => {
    const server = await serve(ws);
    try {
      const deep = '['.repeat(100_000) + '1' + ']'.repeat(100_000);
      const answer = await request(`${server.url}/v2/models/single/infer`, { body: `{"inputs": [{"name": "x", "shape": [1], "datatype": "FP64", "data": ${deep}}]}` });
      assert.equal(answer.status, 400, answer.text);
      assert.match(answer.body.error, /inputs\[0\] \("x"\): "data" is nested deeper than its shape's 1 dimension/);
      const column = await request(`${server.url}/v2/models/single/infer`, { body: { inputs: [{ name: 'x', shape: [2, 1], datatype: 'FP64', data: [[1], [2]] }] } });
      assert.equal(column.status, 200, column.text); // nesting as deep as the shape is row-major data
      const deeper = await request(`${server.url}/v2/models/single/infer`, { body: { inputs: [{ name: 'x', shape: [2], datatype: 'FP64', data: [[1], [2]] }] } });
      assert.equal(deeper.status, 400, deeper.text);
      const nested = await request(`${server.url}/v2/models/single/infer`, { body: { inputs: [{ name: 'x', shape: [2], datatype: 'FP64', data: [1, 2] }] } });
      assert.equal(nested.status, 200, nested.text);
    } finally {
      await server.stop();
    }
  });

  test('a URL the router cannot decode answers 400 with the documented {"error": ...} body', { timeout: 60_000 }, async () => {
    const server = await serve(ws);
    try {
      const answer = await request(`${server.url}/v1/models/%E0:predict`, { body: { instances: [1] } });
      assert.equal(answer.status, 400, answer.text);
      assert.deepEqual(Object.keys(answer.body), ['error']);
      assert.match(answer.body.error, /^Malformed request/);
    } finally {
      await server.stop();
    }
  });

  test('/metrics passes promtool\'s checks (no gauge ends in _total); a 503 for a loading version counts under that version', { timeout: 60_000 }, async () => {
    const server = await serve(ws, { processMetrics: true });
    try {
      // toy@2 is only the staging holder: not loaded ahead, so its first request starts the load and gets 503.
      const loading = await request(`${server.url}/v1/models/toy/versions/2:predict`, { body: { instances: [{ x: 1.5, n: 2, color: 'red' }] } });
      assert.equal(loading.status, 503, loading.text);
      const text = (await request(`${server.url}/metrics`)).text;
      assert.match(text, /^atelier_requests_total\{model="toy",version="2",api="predict",status="503"\} 1$/m);
      const gauges = [...text.matchAll(/^# TYPE (\S+) gauge$/gm)].map((m) => m[1]!);
      assert.ok(gauges.includes('atelier_nodejs_active_handles'), gauges.join(', '));
      assert.deepEqual(gauges.filter((name) => name.endsWith('_total')), []);
      const promtool = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
      if (promtool.error) {
        process.stderr.write('promtool is not installed here: the exposition was checked for _total gauges only\n');
      } else {
        assert.equal(promtool.status, 0, promtool.stdout + promtool.stderr);
      }
    } finally {
      await server.stop();
    }
  });

  test('a 1 MB v2 id with 100 rows is answered, and the prediction log keeps a bounded id', { timeout: 60_000 }, async () => {
    const logDir = tempDir('atelier-log-');
    const server = await serve(ws, { predictionLog: { dir: logDir } });
    try {
      const id = 'i'.repeat(1024 * 1024);
      const data = Array.from({ length: 100 }, (_v, i) => i / 10);
      const answer = await request(`${server.url}/v2/models/single/infer`, { body: { id, inputs: [{ name: 'x', shape: [100], datatype: 'FP64', data }] } });
      assert.equal(answer.status, 200, answer.text.slice(0, 200));
    } finally {
      await server.stop();
    }
    const files = readdirSync(join(logDir, 'single'));
    assert.equal(files.length, 1);
    const lines = readFileSync(join(logDir, 'single', files[0]!), 'utf8').trim().split('\n');
    assert.equal(lines.length, 100);
    const first = JSON.parse(lines[0]!) as { request_id: string };
    assert.ok(first.request_id.length < 600, `request_id of ${first.request_id.length} chars`);
    assert.ok(first.request_id.startsWith('iiii') && first.request_id.endsWith(`(${1024 * 1024} chars)`));
  });
});
