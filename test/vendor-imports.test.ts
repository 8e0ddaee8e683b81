import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { ROOT } from './helpers.js';

/**
 * Kysely, zod and yaml load as one bundled file each (#kysely, #zod, #yaml: package.json
 * "imports", built by scripts/build.mjs), which keeps a command's start short. A module that
 * imported the package itself would load the hundreds of files again, and a second copy of zod
 * or Kysely whose objects the first copy does not recognise.
 */
test('the sources import Kysely, zod and yaml through their bundles', { timeout: 30_000 }, () => {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) walk(join(dir, entry.name));
      else if (entry.name.endsWith('.ts')) files.push(join(dir, entry.name));
    }
  };
  walk(join(ROOT, 'src'));
  assert.ok(files.length > 50, `found only ${files.length} source files`);
  const direct = files.filter((file) => /from '(kysely|zod|yaml)(\/[^']*)?'|import\('(kysely|zod|yaml)'\)/.test(readFileSync(file, 'utf8')));
  assert.deepEqual(direct.map((file) => relative(ROOT, file)), []);
});
