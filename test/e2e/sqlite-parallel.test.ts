import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { ERROR_CODES } from '../../src/core/errors.js';
import { HOUSING, ROOT, cli, tempDir, type CliResult } from '../helpers.js';

/**
 * Many commands at once on one SQLite workspace: each succeeds, or fails with the documented,
 * retryable STORE_BUSY (never INTERNAL, never a half-written state), and the registry's alias
 * state is what its event log says.
 */
const MODEL = 'housing-linear';
/**
 * Until write transactions start with BEGIN IMMEDIATE and a busy store is STORE_BUSY (the store
 * part of issue 13), SQLite's "database is locked" surfaces as INTERNAL: these run as todo then.
 */
const todo = 'STORE_BUSY' in ERROR_CODES ? false : 'needs BEGIN IMMEDIATE and the STORE_BUSY code (store part of issue 13)';

function succeededOrBusy(result: CliResult, what: string): boolean {
  if (result.code === 0) return true;
  assert.equal(result.json?.error?.code, 'STORE_BUSY', `${what}: ${result.stderr}`);
  assert.equal(result.code, 1);
  return false;
}

describe('SQLite: parallel commands', () => {
  const dir = tempDir('atelier-parallel-');

  before(async () => {
    assert.equal((await cli(['init'], { cwd: dir })).code, 0);
    assert.equal((await cli(['data', 'import', HOUSING, '--name', 'housing'], { cwd: dir })).code, 0);
    const config = join(ROOT, 'examples', 'housing', 'linear.yaml');
    for (let i = 0; i < 3; i++) assert.equal((await cli(['train', config], { cwd: dir })).code, 0);
    // Twelve moves first, so that every rollback below has a version to go back to.
    for (let i = 0; i < 12; i++) {
      const promoted = await cli(['models', 'promote', `${MODEL}@${(i % 3) + 1}`, '--force'], { cwd: dir });
      assert.equal(promoted.code, 0, promoted.stderr);
    }
  });

  test('20 parallel promote and rollback commands: each succeeds or is STORE_BUSY; the alias is what the event log says', { timeout: 240_000, todo }, async () => {
    const commands = Array.from({ length: 20 }, (_, i) =>
      i % 2 === 0 ? ['models', 'promote', `${MODEL}@${(i % 3) + 1}`, '--force', '--json'] : ['models', 'rollback', MODEL, '--json'],
    );
    const results = await Promise.all(commands.map((args) => cli(args, { cwd: dir })));
    const succeeded = results.filter((r, i) => succeededOrBusy(r, commands[i]!.join(' '))).length;
    assert.ok(succeeded > 0, 'some commands got through');

    const { events } = (await cli(['history', '--json'], { cwd: dir })).json as { events: { kind: string; subject: string; details: Record<string, unknown> }[] };
    let fromLog: number | undefined;
    for (const e of events) {
      if (e.kind === 'model.promoted' && e.details.alias === 'production') fromLog = Number(e.subject.split('@')[1]);
      if (e.kind === 'model.rolled_back' && e.details.alias === 'production') fromLog = Number(e.details.to);
    }
    const moves = events.filter((e) => e.kind === 'model.promoted' || e.kind === 'model.rolled_back').length;
    assert.equal(moves, 12 + succeeded, 'one event per command that succeeded');
    const { models } = (await cli(['models', 'list', '--json'], { cwd: dir })).json as { models: { name: string; versions: { version: number; aliases: string[] }[] }[] };
    const holder = models.find((m) => m.name === MODEL)!.versions.find((v) => v.aliases.includes('production'));
    assert.equal(holder?.version, fromLog);
  });

  test('10 parallel imports of one dataset: each succeeds or is STORE_BUSY; versions are 1..n without gaps or duplicates', { timeout: 240_000, todo }, async () => {
    const files = Array.from({ length: 10 }, (_, i) => {
      const file = join(dir, `part-${i}.csv`);
      writeFileSync(file, `x,y\n${i},${i * 2}\n${i + 1},${i * 3}\n`);
      return file;
    });
    const results = await Promise.all(files.map((file) => cli(['data', 'import', file, '--name', 'parallel', '--json'], { cwd: dir })));
    const succeeded = results.filter((r, i) => succeededOrBusy(r, `import ${files[i]}`)).length;
    assert.ok(succeeded > 0);
    const { events } = (await cli(['history', '--json', '--kind', 'dataset.imported'], { cwd: dir })).json as { events: { subject: string }[] };
    const numbers = events.filter((e) => e.subject.startsWith('parallel@')).map((e) => Number(e.subject.split('@')[1])).sort((a, b) => a - b);
    assert.deepEqual(numbers, Array.from({ length: succeeded }, (_, i) => i + 1));
  });
});
