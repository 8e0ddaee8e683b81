import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, describe, test } from 'node:test';
import { cli, freePort, startCli } from './helpers.js';
import { request, servingWorkspace } from './serving-setup.js';
import { startPostgres, type TestPostgres } from './services/postgres.js';

/**
 * Serving replicas: two `atelier serve` processes on one store follow a promotion made by a third
 * process (through the store's change notifications: NOTIFY on PostgreSQL, the change counter on
 * SQLite), with zero failed requests from clients spread over both during the move.
 */
const BODY = {
  inputs: [
    { name: 'x', shape: [1], datatype: 'FP64', data: [1.5] },
    { name: 'n', shape: [1], datatype: 'INT64', data: [2] },
    { name: 'color', shape: [1], datatype: 'BYTES', data: ['red'] },
  ],
};

async function replicasFollowPromotion(ws: string): Promise<void> {
  const servers: ChildProcess[] = [];
  const urls: string[] = [];
  try {
    for (let i = 0; i < 2; i++) {
      const started = await startCli(['serve', '--port', String(await freePort()), '--json'], { cwd: ws });
      servers.push(started.child);
      urls.push(started.json.url);
    }
    const failures: string[] = [];
    const answers: string[][] = urls.map(() => []);
    let stop = false;
    const client = async (i: number) => {
      const server = i % urls.length;
      while (!stop) {
        try {
          const answer = await request(`${urls[server]}/v2/models/toy/infer`, { body: BODY });
          if (answer.status !== 200) failures.push(`${answer.status} ${answer.text}`);
          else answers[server]!.push(answer.body.model_version);
        } catch (error) {
          failures.push(String(error));
        }
      }
    };
    const clients = Array.from({ length: 8 }, (_v, i) => client(i));
    const trailing = (list: string[], version: string) => {
      let n = 0;
      for (let i = list.length - 1; i >= 0 && list[i] === version; i--) n++;
      return n;
    };
    const waitFor = async (condition: () => boolean, what: string) => {
      // Generous: this only fails on a hang; how fast replicas follow is measured by bench/store.ts.
      const deadline = Date.now() + 60_000;
      while (!condition()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    try {
      await waitFor(() => answers.every((a) => a.length >= 20), 'both replicas to answer');
      assert.deepEqual(answers.map((a) => a[0]), ['1', '1']);
      const promoted = await cli(['models', 'promote', 'toy@2', '--force', '--reason', 'replicas test'], { cwd: ws });
      assert.equal(promoted.code, 0, promoted.stderr);
      await waitFor(() => answers.every((a) => trailing(a, '2') >= 50), 'both replicas to answer with version 2');
    } finally {
      stop = true;
      await Promise.all(clients);
    }
    assert.deepEqual(failures, [], `${failures.length} failed requests`);
  } finally {
    for (const child of servers) child.kill('SIGTERM');
    await Promise.all(servers.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once('close', r)))));
  }
}

describe('serving replicas follow a promotion', () => {
  let pg: TestPostgres | undefined;
  after(async () => {
    await pg?.stop();
  });

  test('two servers on one SQLite workspace', { timeout: 180_000 }, async () => {
    await replicasFollowPromotion(await servingWorkspace());
  });

  test('two servers on one PostgreSQL store', { timeout: 180_000 }, async (t) => {
    pg = await startPostgres();
    if (!pg) return t.skip('PostgreSQL is not installed here (no /usr/lib/postgresql/N/bin, no ATELIER_TEST_PG_URL)');
    await replicasFollowPromotion(await servingWorkspace(['--store', pg.url]));
  });
});
