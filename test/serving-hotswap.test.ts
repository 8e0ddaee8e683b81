import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cli } from './helpers.js';
import { request, serve, servingWorkspace } from './serving-setup.js';

const CLIENTS = 32;

test('hot swap: promoting another version under load switches traffic with zero failed requests', async () => {
  const ws = await servingWorkspace();
  const server = await serve(ws, { pollMs: 100 });
  const body = {
    inputs: [
      { name: 'x', shape: [1], datatype: 'FP64', data: [1.5] },
      { name: 'n', shape: [1], datatype: 'INT64', data: [2] },
      { name: 'color', shape: [1], datatype: 'BYTES', data: ['red'] },
    ],
  };
  const failures: string[] = [];
  const versions: string[] = [];
  let stop = false;
  let tfRequests = 0;
  const client = async (i: number) => {
    while (!stop) {
      try {
        if (i % 4 === 0) {
          // TF Serving answers carry no version: only their status counts.
          const answer = await request(`${server.url}/v1/models/toy:predict`, { body: { instances: [{ x: 1.5, n: 2, color: 'red' }] } });
          if (answer.status !== 200) failures.push(`${answer.status} ${answer.text}`);
          tfRequests++;
        } else {
          const answer = await request(`${server.url}/v2/models/toy/infer`, { body });
          if (answer.status !== 200) failures.push(`${answer.status} ${answer.text}`);
          else versions.push(answer.body.model_version);
        }
      } catch (error) {
        failures.push(String(error));
      }
    }
  };
  try {
    const clients = Array.from({ length: CLIENTS }, (_v, i) => client(i));
    while (versions.length < 200) await new Promise((r) => setTimeout(r, 10));
    const promoted = await cli(['models', 'promote', 'toy@2', '--reason', 'hot swap test'], { cwd: ws });
    assert.equal(promoted.code, 0, promoted.stderr);
    // Wait until the new version has answered 300 requests in a row (or give up after 30 s).
    const deadline = Date.now() + 30_000;
    const trailing = () => {
      let n = 0;
      for (let i = versions.length - 1; i >= 0 && versions[i] === '2'; i--) n++;
      return n;
    };
    while (trailing() < 300 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    stop = true;
    await Promise.all(clients);

    assert.deepEqual(failures, [], `${failures.length} failed requests`);
    assert.ok(tfRequests > 0);
    assert.equal(versions[0], '1');
    assert.ok(trailing() >= 300, `responses switched to version 2 (last ${trailing()} in a row)`);
    // Once version 2 answered, version 1 never answers again, but for requests already in flight.
    const firstNew = versions.indexOf('2');
    const lateOld = versions.slice(firstNew).filter((v) => v === '1').length;
    assert.ok(lateOld <= CLIENTS, `${lateOld} answers from version 1 after the switch`);

    // The old version drained and unloaded; the new one serves.
    const status = await request(`${server.url}/v1/models/toy`);
    assert.deepEqual(status.body.model_version_status.map((s: any) => [s.version, s.state]), [['2', 'AVAILABLE'], ['1', 'END']]);
    assert.deepEqual((await request(`${server.url}/v2/models/toy`)).body.versions, ['2']);
  } finally {
    stop = true;
    await server.stop();
  }
});
