import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cli, tempDir } from './helpers.js';
import { request, serve, type TestServer } from './serving-setup.js';

/**
 * Input checks alike in every request format, on a model of every input type:
 *   mixed  x (float, missing filled with the mean), n (int), color (string), flag (bool)
 *   tag    color alone (the one-input forms with a string)
 */
async function inputsWorkspace(): Promise<string> {
  const home = tempDir('atelier-serving-inputs-');
  assert.equal((await cli(['init', 'ws'], { cwd: home })).code, 0);
  const ws = join(home, 'ws');
  const colors = ['red', 'green', 'blue'];
  const lines = ['x,n,color,flag,y'];
  for (let i = 0; i < 120; i++) {
    const x = ((i * 37) % 100) / 10;
    lines.push(`${x},${i % 7},${colors[i % 3]},${i % 2 === 0},${(2 * x + (i % 7) + (i % 3) + (i % 2)).toFixed(2)}`);
  }
  writeFileSync(join(ws, 'mixed.csv'), lines.join('\n') + '\n');
  const config = (name: string, features: string) =>
    `name: ${name}\ntask: regression\ndata: { dataset: mixed, label: y, split: { eval: 0.2, seed: 1 } }\nfeatures:\n${features}\nmodel: { family: linear }\n`;
  writeFileSync(join(ws, 'mixed.yaml'), config('mixed', '  - { name: x, missing: { strategy: mean } }\n  - n\n  - { name: color, transform: vocabulary }\n  - flag'));
  writeFileSync(join(ws, 'tag.yaml'), config('tag', '  - { name: color, transform: vocabulary }'));
  for (const args of [['data', 'import', 'mixed.csv', '--name', 'mixed'], ['train', 'mixed.yaml'], ['train', 'tag.yaml']]) {
    const result = await cli(args, { cwd: ws });
    assert.equal(result.code, 0, `atelier ${args.join(' ')}: ${result.stderr}`);
  }
  return ws;
}

const row = { x: 1.5, n: 1, color: 'red', flag: true };
const b64 = (text: string) => ({ b64: Buffer.from(text).toString('base64') });
const tensors = (patch: Record<string, object> = {}) =>
  [
    { name: 'x', shape: [1], datatype: 'FP64', data: [1.5] },
    { name: 'n', shape: [1], datatype: 'INT64', data: [1] },
    { name: 'color', shape: [1], datatype: 'BYTES', data: ['red'] },
    { name: 'flag', shape: [1], datatype: 'BOOL', data: [true] },
  ].map((t) => ({ ...t, ...patch[t.name] }));

describe('serving: input checks in every format', () => {
  let server: TestServer;
  let url: string;
  const post = (path: string, body: unknown, headers?: Record<string, string>) => request(`${url}${path}`, { body, headers });
  const expect = async (path: string, body: unknown, status: number, error?: string) => {
    const answer = await post(path, body);
    assert.equal(answer.status, status, `${path} ${JSON.stringify(body)}: ${answer.text}`);
    if (error !== undefined) assert.deepEqual(answer.body, { error });
    return answer;
  };

  before(async () => {
    server = await serve(await inputsWorkspace());
    url = server.url;
  });
  after(async () => server?.stop());

  test('signature: the bool input is DT_BOOL and BOOL', async () => {
    const meta = await request(`${url}/v1/models/mixed/metadata`);
    assert.equal(meta.body.metadata.signature_def.signature_def.serving_default.inputs.flag.dtype, 'DT_BOOL');
    assert.deepEqual((await request(`${url}/v2/models/mixed`)).body.inputs.map((i: any) => i.datatype), ['FP64', 'INT64', 'BYTES', 'BOOL']);
  });

  test('missing string and bool inputs: refused in every format; null goes to the bucket of training NULLs', async () => {
    const { flag: _flag, ...noFlag } = row;
    const { color: _color, ...noColor } = row;
    await expect('/v1/models/mixed:predict', { instances: [row, noFlag] }, 400, 'instance 1: missing feature "flag" (expected true or false)');
    await expect('/v1/models/mixed:predict', { instances: [noColor] }, 400, 'instance 0: missing feature "color" (expected a string)');
    await expect('/v1/models/mixed:predict', { inputs: { x: [1.5], n: [1], color: ['red'] } }, 400, "Missing named input: flag in 'inputs' object.");
    await expect('/v1/models/mixed:regress', { examples: [noFlag] }, 400, 'instance 0: missing feature "flag" (expected true or false)');
    await expect('/v2/models/mixed/infer', { inputs: tensors().filter((t) => t.name !== 'color' && t.name !== 'flag') }, 400, 'instance 0: missing feature "color" (expected a string)');
    // x has a missing-value policy: it may be left out in every format.
    const { x: _x, ...noX } = row;
    const filled = await expect('/v1/models/mixed:predict', { instances: [noX] }, 200);
    assert.deepEqual((await expect('/v1/models/mixed:predict', { inputs: { n: [1], color: ['red'], flag: [true] } }, 200)).body.outputs, filled.body.predictions);
    assert.deepEqual((await expect('/v1/models/mixed:regress', { examples: [noX] }, 200)).body.results, filled.body.predictions);
    assert.deepEqual((await expect('/v2/models/mixed/infer', { inputs: tensors().filter((t) => t.name !== 'x') }, 200)).body.outputs[0].data, filled.body.predictions);
    // A null category is served as training served its NULLs (n has no policy: a null is missing).
    const nulls = await expect('/v1/models/mixed:predict', { instances: [{ ...row, color: null, flag: null }] }, 200);
    assert.deepEqual((await expect('/v1/models/mixed:predict', '{"instances": [{"x": 1.5, "n": 1, "color": NaN, "flag": NaN}]}', 200)).body, nulls.body);
    await expect('/v1/models/mixed:predict', { instances: [{ ...row, n: null }] }, 400, 'instance 0: missing feature "n" (expected a number)');
  });

  test('wrong types for string and bool inputs: refused alike in every format', async () => {
    const cases: [object, string][] = [
      [{ color: 5 }, 'instance 0: feature "color" must be a string, got 5'],
      [{ color: true }, 'instance 0: feature "color" must be a string, got true'],
      [{ flag: 1 }, 'instance 0: feature "flag" must be true or false, got 1'],
      [{ flag: 'yes' }, 'instance 0: feature "flag" must be true or false, got "yes"'],
      [{ flag: 'true' }, 'instance 0: feature "flag" must be true or false, got "true"'],
    ];
    for (const [patch, error] of cases) {
      const bad = { ...row, ...patch };
      await expect('/v1/models/mixed:predict', { instances: [bad] }, 400, error);
      await expect('/v1/models/mixed:predict', { inputs: Object.fromEntries(Object.entries(bad).map(([k, v]) => [k, [v]])) }, 400, error);
      await expect('/v1/models/mixed:regress', { examples: [bad] }, 400, error);
    }
    await expect('/v2/models/mixed/infer', { inputs: tensors({ color: { data: [5] } }) }, 400, 'instance 0: feature "color" must be a string, got 5');
    await expect('/v2/models/mixed/infer', { inputs: tensors({ flag: { data: ['yes'] } }) }, 400, 'instance 0: feature "flag" must be true or false, got "yes"');
    await expect('/v2/models/mixed/infer', { inputs: tensors({ flag: { data: [2] } }) }, 400, 'instance 0: feature "flag" must be true or false, got 2');
    await expect('/v2/models/mixed/infer', { inputs: tensors({ x: { data: ['1.5'] } }) }, 400, 'instance 0: feature "x" must be a number, got "1.5"');
  });

  test('v2 BOOL takes true/false and 0/1, the same answers', async () => {
    const bools = await expect('/v2/models/mixed/infer', { inputs: tensors({ flag: { shape: [1], data: [false] } }) }, 200);
    const ints = await expect('/v2/models/mixed/infer', { inputs: tensors({ flag: { data: [0] } }) }, 200);
    const tf = await expect('/v1/models/mixed:predict', { instances: [{ ...row, flag: false }] }, 200);
    assert.deepEqual(ints.body.outputs, bools.body.outputs);
    assert.deepEqual(bools.body.outputs[0].data, tf.body.predictions);
    assert.notDeepEqual(tf.body.predictions, (await post('/v1/models/mixed:predict', { instances: [row] })).body.predictions);
  });

  test('v2 integer datatypes: whole numbers within the datatype range', async () => {
    const cases: [Record<string, object>, string][] = [
      [{ n: { datatype: 'INT8', data: [296] } }, `inputs[1] ("n"): 296 is outside INT8's range [-128, 127]`],
      [{ n: { datatype: 'UINT8', data: [-1] } }, `inputs[1] ("n"): -1 is outside UINT8's range [0, 255]`],
      [{ n: { datatype: 'INT16', data: [40000] } }, `inputs[1] ("n"): 40000 is outside INT16's range [-32768, 32767]`],
      [{ n: { datatype: 'UINT32', data: [2 ** 32] } }, `inputs[1] ("n"): 4294967296 is outside UINT32's range [0, 4294967295]`],
      [{ n: { datatype: 'INT64', data: [2 ** 60] } }, `inputs[1] ("n"): ${2 ** 60} is outside INT64's range [-9007199254740991, 9007199254740991]`],
      [{ n: { datatype: 'INT32', data: [2.5] } }, 'inputs[1] ("n"): 2.5 is not a whole number; INT32 takes integers'],
      // A float input sent as integers is held to the integer datatype too.
      [{ x: { datatype: 'INT8', data: [1.5] } }, 'inputs[0] ("x"): 1.5 is not a whole number; INT8 takes integers'],
    ];
    for (const [patch, error] of cases) await expect('/v2/models/mixed/infer', { inputs: tensors(patch) }, 400, error);
    await expect('/v2/models/mixed/infer', { inputs: tensors({ n: { datatype: 'INT8', data: [-128] }, x: { datatype: 'UINT64', data: [9] } }) }, 200);
  });

  test('v2 with zero rows: a missing input is still refused', async () => {
    const empty = tensors(Object.fromEntries(['x', 'n', 'color', 'flag'].map((name) => [name, { shape: [0], data: [] }])));
    await expect('/v2/models/mixed/infer', { inputs: empty.slice(1, 2) }, 400, 'missing input "color"; the model takes x, n, color, flag');
    await expect('/v2/models/mixed/infer', { inputs: empty.slice(0, 1) }, 400, 'missing input "n"; the model takes x, n, color, flag');
    const answer = await expect('/v2/models/mixed/infer', { inputs: empty.slice(1) }, 200);
    assert.deepEqual(answer.body.outputs, [{ name: 'prediction', shape: [0], datatype: 'FP64', data: [] }]);
  });

  test('v2 id: the body, else the x-request-id header, else a generated one; a non-string is refused', async () => {
    const body = { inputs: tensors() };
    assert.equal((await post('/v2/models/mixed/infer', { ...body, id: 'r1' }, { 'x-request-id': 'h1' })).body.id, 'r1');
    assert.equal((await post('/v2/models/mixed/infer', body, { 'x-request-id': 'h1' })).body.id, 'h1');
    assert.match((await post('/v2/models/mixed/infer', body)).body.id, /^[0-9a-f-]{36}$/);
    await expect('/v2/models/mixed/infer', { ...body, id: 42 }, 400, '"id" must be a string');
  });

  test('TF Serving b64 strings are decoded for string inputs in rows, columns and examples', async () => {
    const plain = await expect('/v1/models/mixed:predict', { instances: [{ ...row, color: 'blue' }] }, 200);
    const encoded = { ...row, color: b64('blue') };
    assert.deepEqual((await expect('/v1/models/mixed:predict', { instances: [encoded] }, 200)).body, plain.body);
    assert.deepEqual((await expect('/v1/models/mixed:predict', { inputs: { x: [1.5], n: [1], color: [b64('blue')], flag: [true] } }, 200)).body.outputs, plain.body.predictions);
    assert.deepEqual((await expect('/v1/models/mixed:regress', { context: { color: [b64('blue')] }, examples: [{ x: 1.5, n: 1, flag: true }] }, 200)).body.results, plain.body.predictions);
    // A one-input model takes them as plain values.
    const tag = await expect('/v1/models/tag:predict', { instances: ['blue'] }, 200);
    assert.deepEqual((await expect('/v1/models/tag:predict', { instances: [b64('blue')] }, 200)).body, tag.body);
    assert.deepEqual((await expect('/v1/models/tag:predict', { inputs: b64('blue') }, 200)).body, { outputs: tag.body.predictions });
    // Only for string inputs, and only base64 of text.
    await expect('/v1/models/mixed:predict', { instances: [{ ...row, x: b64('1') }] }, 400, 'instance 0: feature "x" must be a number, got {"b64":"MQ=="}');
    await expect('/v1/models/mixed:predict', { instances: [{ ...row, color: { b64: 'not base64!' } }] }, 400, 'instance 0: feature "color": Unable to base64 decode to UTF-8 text');
    await expect('/v1/models/mixed:predict', { instances: [{ ...row, color: { b64: Buffer.from([0xff, 0xfe]).toString('base64') } }] }, 400, 'instance 0: feature "color": Unable to base64 decode to UTF-8 text');
  });

  test('signature_name: absent, empty or serving_default; another is a 400 as in TF Serving', async () => {
    for (const name of ['serving_default', '']) await expect('/v1/models/mixed:predict', { signature_name: name, instances: [row] }, 200);
    await expect('/v1/models/mixed:predict', { signature_name: 'other', instances: [row] }, 400, 'Serving signature name: "other" not found in signature def');
    await expect('/v1/models/mixed:regress', { signature_name: 'other', examples: [row] }, 400, 'Serving signature name: "other" not found in signature def');
    const numeric = await expect('/v1/models/mixed:predict', { signature_name: 5, instances: [row] }, 400);
    assert.match(numeric.body.error, /not formatted correctly\. 'signature_name' key must be a string value\.$/);
  });
});
