import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { HOUSING, ROOT, cli, tempDir } from './helpers.js';

/**
 * A full disk, for real: a small tmpfs filled up. Mounting needs root (CI as a normal user skips,
 * with the reason printed); nothing is mocked.
 */
function mountTmpfs(dir: string, size: string): string | undefined {
  if (process.getuid?.() !== 0) return 'not root: a small tmpfs to fill cannot be mounted';
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' });
    return undefined;
  } catch (error) {
    return `mount -t tmpfs failed: ${String((error as Error).message).split('\n')[0]}`;
  }
}

/** Fills the filesystem of `dir` until `leave` bytes are free. */
function fill(dir: string, name: string, leave: number): void {
  const fs = statfsSync(dir);
  const free = fs.bavail * fs.bsize;
  try {
    writeFileSync(join(dir, name), Buffer.alloc(Math.max(0, free - leave)));
  } catch {
    /* full already */
  }
}

describe('a full disk is DISK_FULL with the path, on every command', () => {
  const dir = tempDir('atelier-disk-full-');
  const mnt = join(dir, 'small');
  let skip: string | undefined;

  before(async () => {
    assert.equal((await cli(['init'], { cwd: dir })).code, 0);
    assert.equal((await cli(['data', 'import', HOUSING, '--name', 'housing'], { cwd: dir })).code, 0);
    mkdirSync(mnt);
    skip = mountTmpfs(mnt, '2m');
  });
  after(() => {
    if (!skip) execFileSync('umount', [mnt]);
  });

  test('importing into a full artifact store names the file being written, not a CSV error', { timeout: 60_000 }, async (t) => {
    if (skip) return t.skip(skip);
    mkdirSync(join(mnt, 'artifacts'), { recursive: true });
    fill(mnt, 'filler-artifacts', 8 * 1024);
    const result = await cli(['--artifacts', `file://${mnt}/artifacts`, 'data', 'import', HOUSING, '--name', 'other', '--json'], { cwd: dir });
    assert.equal(result.code, 1, result.stderr);
    assert.equal(result.json.error.code, 'DISK_FULL');
    assert.ok(String(result.json.error.file).startsWith(join(mnt, 'artifacts')), result.json.error.file);
    assert.match(result.stderr, /^atelier: disk full writing \S+: free some space/m);
    execFileSync('rm', ['-f', join(mnt, 'filler-artifacts')]);
  });

  test('a metadata store that fills up mid-transaction is DISK_FULL naming the database, not a failed rollback', { timeout: 120_000 }, async (t) => {
    if (skip) return t.skip(skip);
    const database = join(mnt, 'metadata.db');
    copyFileSync(join(dir, '.atelier', 'metadata.db'), database);
    // Room to open the database and start, not to record a whole training run.
    fill(mnt, 'filler-store', 64 * 1024);
    const result = await cli(['--store', `sqlite:${database}`, 'train', join(ROOT, 'examples', 'housing', 'dnn.yaml'), '--json'], { cwd: dir });
    assert.equal(result.code, 1, result.stderr);
    assert.equal(result.json.error.code, 'DISK_FULL', result.stderr);
    assert.equal(result.json.error.file, database);
    assert.doesNotMatch(result.stderr, /rollback|internal error/);
  });

  test('a store on a disk with no room at all: any command, even a read, says so', { timeout: 60_000 }, async (t) => {
    if (skip) return t.skip(skip);
    fill(mnt, 'filler-rest', 0);
    const result = await cli(['--store', `sqlite:${join(mnt, 'metadata.db')}`, 'history', '--json'], { cwd: dir });
    assert.equal(result.code, 1, result.stderr);
    assert.equal(result.json.error.code, 'DISK_FULL', result.stderr);
    assert.equal(result.json.error.file, join(mnt, 'metadata.db'));
  });
});
