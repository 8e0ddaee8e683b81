import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { cli, ROOT, tempDir } from '../helpers.js';

/**
 * `npm test` rebuilds the project; a command run meanwhile (from another terminal, or a test
 * file already running) must find a whole build, old or new. The build compiles beside dist/ and
 * swaps it in, so every `atelier --help` (which loads every command's modules) issued during the
 * rebuild succeeds.
 */
test('a command run while the project rebuilds finds a whole build', { timeout: 600_000 }, async () => {
  const cwd = tempDir();
  const build = spawn(process.execPath, [join(ROOT, 'scripts', 'build.mjs')], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  let buildErr = '';
  build.stderr.on('data', (d) => (buildErr += d));
  const built = new Promise<number>((done) => build.on('close', (code) => done(code ?? -1)));
  let running = true;
  void built.then(() => (running = false));

  const failures: string[] = [];
  let calls = 0;
  while (running) {
    const result = await cli(['--help'], { cwd });
    calls++;
    if (result.code !== 0 || !result.stdout.includes('Usage: atelier')) failures.push(`exit ${result.code}: ${result.stderr.slice(0, 400)}`);
  }
  assert.equal(await built, 0, buildErr);
  assert.ok(calls > 0, 'no command ran during the build');
  assert.deepEqual(failures, [], `${failures.length} of ${calls} commands failed during the rebuild`);
  // The swap leaves neither the staging folder nor the old build behind.
  assert.deepEqual(readdirSync(ROOT).filter((name) => name.startsWith('dist.')), []);
  assert.ok(existsSync(join(ROOT, 'dist', 'wasm', 'forest.wasm')));
});
