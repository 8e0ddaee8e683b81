import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, describe, test } from 'node:test';
import { cli, freePort, startCli } from './helpers.js';
import { replicasFollow, servingWorkspace } from './serving-setup.js';
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
    await replicasFollow(urls, {
      model: 'toy',
      body: BODY,
      from: '1',
      to: '2',
      promote: async () => {
        const promoted = await cli(['models', 'promote', 'toy@2', '--force', '--reason', 'replicas test'], { cwd: ws });
        assert.equal(promoted.code, 0, promoted.stderr);
      },
    });
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
