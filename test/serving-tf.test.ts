import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { request, serve, servingWorkspace, type TestServer } from './serving-setup.js';

const toyRow = { x: 1.5, n: 2, color: 'red' };
const irisRow = { sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 };

describe('serving: TF Serving REST API', () => {
  let server: TestServer;
  let url: string;
  const post = (path: string, body: unknown) => request(`${url}${path}`, { body });

  before(async () => {
    const ws = await servingWorkspace();
    server = await serve(ws, { domainPolicy: { default: 'accept', models: { single: 'reject' } } });
    url = server.url;
  });
  after(async () => server?.stop());

  test('model status: every held version, one version, one label; TF Serving states', async () => {
    const all = await request(`${url}/v1/models/toy`);
    assert.equal(all.status, 200);
    // production (1) and the latest/staging holder are not both followed: only production and pins load.
    assert.deepEqual(all.body, { model_version_status: [{ version: '1', state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } }] });
    assert.deepEqual((await request(`${url}/v1/models/toy/versions/1`)).body.model_version_status[0].version, '1');
    assert.deepEqual((await request(`${url}/v1/models/toy/labels/production`)).body.model_version_status[0].version, '1');
    const missing = await request(`${url}/v1/models/nope`);
    assert.equal(missing.status, 404);
    assert.deepEqual(missing.body, { error: 'Could not find any versions of model nope' });
  });

  test('metadata: signature_def with dtypes and shapes (-1 for the batch)', async () => {
    const meta = await request(`${url}/v1/models/toy/metadata`);
    assert.equal(meta.status, 200);
    assert.deepEqual(meta.body.model_spec, { name: 'toy', signature_name: '', version: '1' });
    // As TF Serving: the map's type next to the inner signature_def.
    assert.equal(meta.body.metadata.signature_def['@type'], 'type.googleapis.com/tensorflow.serving.SignatureDefMap');
    const sig = meta.body.metadata.signature_def.signature_def.serving_default;
    assert.deepEqual(Object.keys(sig.inputs), ['x', 'n', 'color']);
    assert.equal(sig.inputs.x.dtype, 'DT_DOUBLE');
    assert.equal(sig.inputs.n.dtype, 'DT_INT64');
    assert.equal(sig.inputs.color.dtype, 'DT_STRING');
    assert.deepEqual(sig.inputs.x.tensor_shape, { dim: [{ size: '-1', name: '' }], unknown_rank: false });
    assert.equal(sig.outputs.prediction.dtype, 'DT_DOUBLE');
    assert.equal(sig.method_name, 'tensorflow/serving/predict');
    const iris = await request(`${url}/v1/models/iris/metadata`);
    assert.deepEqual(iris.body.metadata.signature_def.signature_def.serving_default.outputs.probabilities.tensor_shape.dim.map((d: any) => d.size), ['-1', '3']);
  });

  test('predict, row format: objects keyed by input name -> predictions', async () => {
    const answer = await post('/v1/models/toy:predict', { instances: [toyRow, { x: 9, n: 0, color: 'blue' }] });
    assert.equal(answer.status, 200);
    assert.equal(answer.body.predictions.length, 2);
    assert.ok(Math.abs(answer.body.predictions[0] - (3 + 2 + 5)) < 1, `prediction ${answer.body.predictions[0]} near 10`);
    assert.ok(Math.abs(answer.body.predictions[1] - 18) < 1);
    // The same by version and by label.
    assert.deepEqual((await post('/v1/models/toy/versions/1:predict', { instances: [toyRow, { x: 9, n: 0, color: 'blue' }] })).body, answer.body);
    assert.deepEqual((await post('/v1/models/toy/labels/production:predict', { instances: [toyRow, { x: 9, n: 0, color: 'blue' }] })).body, answer.body);
  });

  test('predict, columnar format: inputs -> outputs; classifiers answer one object per output', async () => {
    const rows = await post('/v1/models/toy:predict', { instances: [toyRow] });
    const columns = await post('/v1/models/toy:predict', { inputs: { x: [1.5], n: [2], color: ['red'] } });
    assert.equal(columns.status, 200);
    assert.deepEqual(columns.body, { outputs: rows.body.predictions });
    const iris = await post('/v1/models/iris:predict', { inputs: Object.fromEntries(Object.entries(irisRow).map(([k, v]) => [k, [v, v]])) });
    assert.equal(iris.status, 200);
    assert.deepEqual(iris.body.outputs.class, ['setosa', 'setosa']);
    assert.equal(iris.body.outputs.probabilities.length, 2);
    assert.equal(iris.body.outputs.probabilities[0].length, 3);
    const irisRows = await post('/v1/models/iris:predict', { instances: [irisRow] });
    assert.equal(irisRows.body.predictions[0].class, 'setosa');
    assert.deepEqual(irisRows.body.predictions[0].probabilities, iris.body.outputs.probabilities[0]);
  });

  test('one-input model: plain values in instances and in inputs', async () => {
    const objects = await post('/v1/models/single:predict', { instances: [{ x: 2 }, { x: 4 }] });
    assert.equal(objects.status, 200);
    assert.deepEqual((await post('/v1/models/single:predict', { instances: [2, 4] })).body, objects.body);
    assert.deepEqual((await post('/v1/models/single:predict', { inputs: [2, 4] })).body, { outputs: objects.body.predictions });
    const plain = await post('/v1/models/toy:predict', { instances: [1, 2] });
    assert.equal(plain.status, 400);
    assert.equal(plain.body.error, 'instances is a plain list, but expecting list of objects as multiple input tensors required as per tensorinfo_map');
  });

  test('NaN and Infinity tokens are accepted as TF Serving accepts them', async () => {
    // x has a missing-value policy: NaN is filled with the training mean.
    const nan = await post('/v1/models/toy:predict', '{"instances": [{"x": NaN, "n": 2, "color": "red"}]}');
    assert.equal(nan.status, 200, nan.text);
    assert.equal(typeof nan.body.predictions[0], 'number');
    // Tokens inside strings stay strings.
    const inString = await post('/v1/models/toy:predict', '{"instances": [{"x": 1, "n": 2, "color": "NaN"}]}');
    assert.equal(inString.status, 200, inString.text);
    // single has no policy for missing x, and a reject domain policy: NaN is refused, named; Infinity
    // is refused by every model whose training data held none.
    const refused = await post('/v1/models/single:predict', '{"instances": [{"x": 1}, {"x": NaN}]}');
    assert.equal(refused.status, 400);
    assert.match(refused.body.error, /^instance 1: feature "x" must be a number .*got NaN$/);
    const infinite = await post('/v1/models/single:predict', '{"instances": [{"x": -Infinity}]}');
    assert.equal(infinite.status, 400);
    assert.match(infinite.body.error, /^instance 0: feature "x" = -Infinity is not a finite number; the training data held no infinities$/);
  });

  test('classify: [label, score] pairs per example; context merged into each example', async () => {
    const { sepal_length, ...rest } = irisRow;
    const answer = await post('/v1/models/iris:classify', { context: { sepal_length }, examples: [rest, { ...rest, petal_length: [5.5], petal_width: 2.2 }] });
    assert.equal(answer.status, 200, answer.text);
    assert.equal(answer.body.results.length, 2);
    assert.deepEqual(answer.body.results[0].map((pair: [string, number]) => pair[0]), ['setosa', 'versicolor', 'virginica']);
    const best = (pairs: [string, number][]) => pairs.reduce((a, b) => (b[1] > a[1] ? b : a))[0];
    assert.equal(best(answer.body.results[0]), 'setosa');
    assert.equal(best(answer.body.results[1]), 'virginica');
    const sum = answer.body.results[0].reduce((s: number, p: [string, number]) => s + p[1], 0);
    assert.ok(Math.abs(sum - 1) < 1e-9);
    const onRegression = await post('/v1/models/toy:classify', { examples: [toyRow] });
    assert.equal(onRegression.status, 400);
    const noExamples = await post('/v1/models/iris:classify', { instances: [irisRow] });
    assert.equal(noExamples.status, 400);
    assert.match(noExamples.body.error, /When method is classify, key 'examples' is expected and was not found$/);
  });

  test('regress: one float per example', async () => {
    const answer = await post('/v1/models/toy:regress', { context: { color: 'red' }, examples: [{ x: 1.5, n: 2 }, { x: [1.5], n: [2] }] });
    assert.equal(answer.status, 200, answer.text);
    const predicted = await post('/v1/models/toy:predict', { instances: [toyRow] });
    assert.deepEqual(answer.body, { results: [predicted.body.predictions[0], predicted.body.predictions[0]] });
    assert.equal((await post('/v1/models/iris:regress', { examples: [irisRow] })).status, 400);
  });

  test('errors: TF Serving statuses and {"error": ...} bodies naming the feature and the instance', async () => {
    const cases: [string, unknown, number, string | RegExp][] = [
      ['/v1/models/nope:predict', { instances: [toyRow] }, 404, 'Servable not found for request: Latest(nope)'],
      ['/v1/models/toy/versions/9:predict', { instances: [toyRow] }, 404, 'Servable not found for request: Specific(toy, 9)'],
      ['/v1/models/toy/labels/canary:predict', { instances: [toyRow] }, 400, 'Unrecognized servable version label: canary'],
      ['/v1/models/toy:predict', { instances: [toyRow], inputs: { x: [1] } }, 400, /Not formatted correctly expecting only one of 'inputs' or 'instances' keys to exist $/],
      ['/v1/models/toy:predict', {}, 400, "Missing 'inputs' or 'instances' key"],
      ['/v1/models/toy:predict', { instances: [] }, 400, /No values in 'instances' array$/],
      ['/v1/models/toy:predict', '{"instances": [', 400, /^JSON Parse error: /],
      ['/v1/models/toy:predict', '', 400, 'JSON Parse error: The document is empty'],
      ['/v1/models/toy:predict', '[1]', 400, 'JSON Value: [1] Is not object'],
      ['/v1/models/toy:predict', { instances: [toyRow, { x: 1, color: 'red' }] }, 400, 'instance 1: missing feature "n" (expected a number)'],
      ['/v1/models/toy:predict', { instances: [{ ...toyRow, x: 'big' }] }, 400, 'instance 0: feature "x" must be a number, got "big"'],
      ['/v1/models/toy:predict', { instances: [toyRow, toyRow, { ...toyRow, n: 2.5 }] }, 400, 'instance 2: feature "n" must be a whole number, got 2.5'],
      ['/v1/models/toy:predict', { instances: [{ ...toyRow, size: 3 }] }, 400, 'instance 0: unknown feature "size"; the model takes x, n, color'],
      ['/v1/models/toy:predict', { inputs: { x: [1], n: [2] } }, 400, "Missing named input: color in 'inputs' object."],
      ['/v1/models/toy:predict', { inputs: { x: [1], n: [2], color: ['red'], size: [1] } }, 400, 'instance 0: unknown feature "size"; the model takes x, n, color'],
      ['/v1/models/single:predict', { instances: [{ x: 4 }, { x: 1000 }] }, 400, /^instance 1: feature "x" = 1000 is outside the training range \[0, 9\.9\]$/],
      ['/v1/models/toy:frobnicate', { instances: [toyRow] }, 400, 'Malformed request: POST /v1/models/toy:frobnicate'],
      ['/v1/models/toy/versions/x:predict', { instances: [toyRow] }, 400, 'Failed to convert version: x to numeric.'],
    ];
    for (const [path, body, status, error] of cases) {
      const answer = await post(path, body);
      assert.equal(answer.status, status, `${path} ${JSON.stringify(body)}: ${answer.text}`);
      assert.deepEqual(Object.keys(answer.body), ['error']);
      if (typeof error === 'string') assert.equal(answer.body.error, error);
      else assert.match(answer.body.error, error);
      assert.doesNotMatch(answer.text, /\.ts:\d+|\.js:\d+/);
    }
  });

  test('domain policy accept: a value outside the training range is served and counted', async () => {
    const answer = await post('/v1/models/toy:predict', { instances: [{ x: 1000, n: 2, color: 'purple' }] });
    assert.equal(answer.status, 200, answer.text);
    const metrics = await request(`${url}/metrics`);
    assert.match(metrics.text, /atelier_input_anomalies_total\{model="toy",version="1",feature="x"\} 1/);
    // "purple", and the string "NaN" sent earlier: neither is in the training vocabulary.
    assert.match(metrics.text, /atelier_input_anomalies_total\{model="toy",version="1",feature="color"\} 2/);
  });

  test('a version not held loads on its first request: 503 while it loads, then served', async () => {
    const first = await post('/v1/models/toy/versions/2:predict', { instances: [toyRow] });
    assert.equal(first.status, 503);
    assert.equal(first.body.error, 'toy version 2 is loading; retry shortly');
    let answer = first;
    for (let i = 0; i < 100 && answer.status === 503; i++) {
      await new Promise((r) => setTimeout(r, 20));
      answer = await post('/v1/models/toy/labels/staging:predict', { instances: [toyRow] });
    }
    assert.equal(answer.status, 200);
    const v1 = await post('/v1/models/toy:predict', { instances: [toyRow] });
    assert.notDeepEqual(answer.body, v1.body, 'version 2 (ridge) answers differently from version 1');
    const status = await request(`${url}/v1/models/toy`);
    assert.deepEqual(status.body.model_version_status.map((s: any) => [s.version, s.state]), [['2', 'AVAILABLE'], ['1', 'AVAILABLE']]);
  });
});
