import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { request, serve, servingWorkspace, type TestServer } from './serving-setup.js';

describe('serving: Open Inference Protocol v2', () => {
  let server: TestServer;
  let url: string;

  before(async () => {
    server = await serve(await servingWorkspace());
    url = server.url;
  });
  after(async () => server?.stop());

  test('server metadata, liveness and readiness', async () => {
    const meta = await request(`${url}/v2`);
    assert.equal(meta.status, 200);
    assert.equal(meta.body.name, 'atelier');
    assert.match(meta.body.version, /^\d+\.\d+\.\d+/);
    assert.deepEqual(meta.body.extensions, []);
    assert.deepEqual(await request(`${url}/v2/health/live`).then((r) => [r.status, r.body]), [200, { live: true }]);
    assert.deepEqual(await request(`${url}/v2/health/ready`).then((r) => [r.status, r.body]), [200, { ready: true }]);
  });

  test('model metadata: name, versions, platform, inputs and outputs with datatype and shape', async () => {
    const toy = await request(`${url}/v2/models/toy`);
    assert.equal(toy.status, 200);
    assert.deepEqual(toy.body, {
      name: 'toy',
      versions: ['1'],
      platform: 'atelier-linear',
      inputs: [
        { name: 'x', datatype: 'FP64', shape: [-1] },
        { name: 'n', datatype: 'INT64', shape: [-1] },
        { name: 'color', datatype: 'BYTES', shape: [-1] },
      ],
      outputs: [{ name: 'prediction', datatype: 'FP64', shape: [-1] }],
      parameters: { version: '1', task: 'regression' },
    });
    const iris = await request(`${url}/v2/models/iris/versions/1`);
    assert.deepEqual(iris.body.outputs, [
      { name: 'class', datatype: 'BYTES', shape: [-1] },
      { name: 'probabilities', datatype: 'FP64', shape: [-1, 3] },
    ]);
    const missing = await request(`${url}/v2/models/nope`);
    assert.equal(missing.status, 404);
    assert.deepEqual(Object.keys(missing.body), ['error']);
  });

  test('model readiness: 200 when loaded, 503 while a version is not, 404 for an unknown model', async () => {
    assert.deepEqual(await request(`${url}/v2/models/toy/ready`).then((r) => [r.status, r.body]), [200, { name: 'toy', ready: true }]);
    assert.equal((await request(`${url}/v2/models/toy/versions/1/ready`)).status, 200);
    assert.deepEqual(await request(`${url}/v2/models/toy/versions/2/ready`).then((r) => [r.status, r.body]), [503, { name: 'toy', ready: false }]);
    assert.equal((await request(`${url}/v2/models/toy/versions/7/ready`)).status, 404);
    assert.equal((await request(`${url}/v2/models/nope/ready`)).status, 404);
  });

  test('infer round trip: flat and nested data, BYTES for text, the request id echoed', async () => {
    const body = {
      id: 'req-42',
      parameters: { content_type: 'pd' },
      inputs: [
        { name: 'x', shape: [2], datatype: 'FP32', data: [1.5, 9] },
        { name: 'n', shape: [2, 1], datatype: 'INT32', data: [[2], [0]] },
        { name: 'color', shape: [2], datatype: 'BYTES', data: ['red', 'blue'] },
      ],
    };
    const answer = await request(`${url}/v2/models/toy/infer`, { body });
    assert.equal(answer.status, 200, answer.text);
    assert.equal(answer.body.model_name, 'toy');
    assert.equal(answer.body.model_version, '1');
    assert.equal(answer.body.id, 'req-42');
    assert.equal(answer.body.outputs.length, 1);
    const [out] = answer.body.outputs;
    assert.deepEqual([out.name, out.shape, out.datatype], ['prediction', [2], 'FP64']);
    const tf = await request(`${url}/v1/models/toy:predict`, { body: { instances: [{ x: 1.5, n: 2, color: 'red' }, { x: 9, n: 0, color: 'blue' }] } });
    assert.deepEqual(out.data, tf.body.predictions, 'both protocols answer through one data plane');
    const versioned = await request(`${url}/v2/models/toy/versions/1/infer`, { body });
    assert.deepEqual(versioned.body.outputs, answer.body.outputs);
    const noId = await request(`${url}/v2/models/toy/infer`, { body: { ...body, id: undefined } });
    assert.match(noId.body.id, /^[0-9a-f-]{36}$/);
  });

  test('infer on a classifier: class (BYTES) and probabilities (FP64, [n, k]); outputs can be chosen', async () => {
    const inputs = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'].map((name, i) => ({ name, shape: [1], datatype: 'FP64', data: [[5.1, 3.5, 1.4, 0.2][i]] }));
    const answer = await request(`${url}/v2/models/iris/infer`, { body: { inputs } });
    assert.equal(answer.status, 200, answer.text);
    const [cls, probs] = answer.body.outputs;
    assert.deepEqual([cls.name, cls.shape, cls.datatype, cls.data], ['class', [1], 'BYTES', ['setosa']]);
    assert.deepEqual([probs.name, probs.shape, probs.datatype, probs.data.length], ['probabilities', [1, 3], 'FP64', 3]);
    const chosen = await request(`${url}/v2/models/iris/infer`, { body: { inputs, outputs: [{ name: 'class' }] } });
    assert.deepEqual(chosen.body.outputs.map((o: any) => o.name), ['class']);
  });

  test('infer errors: datatype, shape, unknown input, missing input, malformed body', async () => {
    const good = [
      { name: 'x', shape: [1], datatype: 'FP64', data: [1] },
      { name: 'n', shape: [1], datatype: 'INT64', data: [1] },
      { name: 'color', shape: [1], datatype: 'BYTES', data: ['red'] },
    ];
    const swap = (i: number, patch: object) => good.map((t, j) => (j === i ? { ...t, ...patch } : t));
    const cases: [unknown, number, string | RegExp][] = [
      [{ inputs: swap(2, { datatype: 'FP32', data: [1] }) }, 400, 'inputs[2] ("color"): input "color" is BYTES; got datatype FP32'],
      [{ inputs: swap(1, { datatype: 'FP64' }) }, 400, 'inputs[1] ("n"): input "n" is INT64; got datatype FP64'],
      [{ inputs: swap(0, { shape: [2] }) }, 400, 'inputs[0] ("x"): shape [2] holds 2 values; data has 1'],
      [{ inputs: swap(0, { shape: [1, 2], data: [1, 2] }) }, 400, 'inputs[0] ("x"): input "x" takes one value per row; shape [1, 2] has 2 per row'],
      [{ inputs: swap(0, { name: 'size' }) }, 400, 'inputs[0] ("size"): unknown input "size"; the model takes x, n, color'],
      [{ inputs: good.filter((t) => t.name !== 'n') }, 400, 'instance 0: missing feature "n" (expected a number)'],
      [{ inputs: swap(0, { datatype: 'FP128' }) }, 400, /^inputs\[0\] \("x"\): datatype "FP128" is not one of FP16, /],
      [{ inputs: [] }, 400, '"inputs" must be a non-empty list of tensors {name, shape, datatype, data}'],
      [{ inputs: good, outputs: [{ name: 'nope' }] }, 400, 'unknown output "nope"; the model answers prediction'],
    ];
    for (const [body, status, error] of cases) {
      const answer = await request(`${url}/v2/models/toy/infer`, { body });
      assert.equal(answer.status, status, `${JSON.stringify(body)}: ${answer.text}`);
      if (typeof error === 'string') assert.equal(answer.body.error, error);
      else assert.match(answer.body.error, error);
    }
    assert.equal((await request(`${url}/v2/models/nope/infer`, { body: { inputs: good } })).status, 404);
  });
});
