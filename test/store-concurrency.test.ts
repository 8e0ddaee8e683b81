import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { findWorkspace } from '../src/core/workspace.js';
import { aliasMoves } from '../src/registry/aliases.js';
import { promoteModelVersion } from '../src/registry/models.js';
import { openContext } from '../src/store/context.js';
import { allItems } from '../src/store/pages.js';
import { cli, type CliResult } from './helpers.js';
import { servingWorkspace } from './serving-setup.js';

/**
 * SQLite under parallel commands: write transactions start with BEGIN IMMEDIATE and wait out the
 * busy timeout, so each command either does its whole write or fails with STORE_BUSY (retryable),
 * never INTERNAL; the aliases table, the alias history and the event log agree afterwards.
 */
const okOrBusy = (r: CliResult, what: string) => {
  if (r.code === 0) return true;
  assert.equal(r.code, 1, `${what}: exit ${r.code}: ${r.stderr}`);
  assert.equal(r.json?.error?.code, 'STORE_BUSY', `${what}: ${r.stderr}`);
  assert.match(r.json.error.message, /retry the command/);
  return false;
};

test('20 parallel promote/rollback and 10 parallel imports on one SQLite workspace: each succeeds or says STORE_BUSY; the final state equals the history', { timeout: 300_000 }, async (t) => {
  const ws = await servingWorkspace();
  // A deep alias history, so that every rollback below has somewhere to go back to.
  const ctx = await openContext(findWorkspace({ dir: ws }));
  try {
    for (let i = 0; i < 12; i++) await promoteModelVersion(ctx, 'toy', i % 2 ? 1 : 2, 'production', 'seed', { force: true });
  } finally {
    await ctx.store.close();
  }
  const files = Array.from({ length: 10 }, (_v, i) => {
    const file = join(ws, `part-${i}.csv`);
    writeFileSync(file, `a,b\n${i},${i * 2}\n${i + 1},${i * 3}\n`);
    return file;
  });

  const registry = Array.from({ length: 20 }, (_v, i) =>
    i % 2 === 0 ? ['models', 'promote', `toy@${(i / 2) % 2 ? 1 : 2}`, '--force', '--reason', `p${i}`] : ['models', 'rollback', 'toy', '--reason', `r${i}`],
  );
  const imports = files.map((file) => ['data', 'import', file, '--name', 'parts']);
  const results = await Promise.all([...registry, ...imports].map((args) => cli(['--json', ...args], { cwd: ws }).then((r) => ({ args, r }))));

  const moved = results.slice(0, 20).filter(({ args, r }) => okOrBusy(r, args.join(' ')));
  const imported = results.slice(20).filter(({ args, r }) => okOrBusy(r, args.join(' ')));
  assert.ok(moved.length > 0 && imported.length > 0, 'some commands got through');
  t.diagnostic(`${moved.length}/20 alias moves and ${imported.length}/10 imports went through; the others said STORE_BUSY`);

  const after = await openContext(findWorkspace({ dir: ws }));
  try {
    const moves = await aliasMoves(after.store, 'toy', 'production');
    const events = (await allItems((p) => after.store.listEvents({}, p))).filter(
      (e) => (e.kind === 'model.promoted' || e.kind === 'model.rolled_back') && e.details.alias === 'production',
    );
    // 1 promotion by the setup script, 12 seeds, then one move per command that succeeded.
    assert.equal(moves.length, 13 + moved.length);
    assert.equal(events.length, moves.length);
    const current = await after.store.getAlias('toy', 'production');
    assert.equal(current!.version, moves.at(-1)!.to, 'the alias is where its history last moved it');
    assert.equal(events.at(-1)!.subject, `toy@${current!.version}`, 'the event log agrees');
    // Each move starts where the one before it ended: no two moves interleaved.
    for (let i = 1; i < moves.length; i++) assert.equal(moves[i]!.from, moves[i - 1]!.to, `move ${i}`);

    const versions = await allItems((p) => after.store.listDatasetVersions({ dataset: 'parts' }, p));
    assert.deepEqual(versions.map((v) => v.version), Array.from({ length: imported.length }, (_v, i) => i + 1));
    assert.deepEqual(new Set(imported.map(({ r }) => r.json.version)), new Set(versions.map((v) => v.version)));
  } finally {
    await after.store.close();
  }
});
