import assert from 'node:assert/strict';
import { cpSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import * as tar from 'tar';
import { bundleContentHash, type BundleManifest } from '../src/bundle/format.js';
import { loadBundle } from '../src/bundle/load.js';
import { AtelierError } from '../src/core/errors.js';
import { canonicalJson, sha256 } from '../src/core/hash.js';
import { cli, freePort, listFiles, ROOT, startCli, tempDir } from './helpers.js';

const IRIS = join(ROOT, 'examples', 'iris', 'iris.csv');
const MODEL = 'iris-logistic';

/** Exit 1 with one line on stderr matching `pattern`, no stack. */
async function refused(cwd: string, args: string[], pattern: RegExp): Promise<void> {
  const result = await cli(args, { cwd });
  assert.equal(result.code, 1, `atelier ${args.join(' ')} should be refused: ${result.stdout} ${result.stderr}`);
  const lines = result.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line on stderr, got: ${result.stderr}`);
  assert.match(lines[0]!, pattern, `atelier ${args.join(' ')}`);
  assert.doesNotMatch(result.stderr, /at .*\.js:\d+/);
}

/** Unpacks an exported archive, lets `edit` change the folder, packs it again as `out`. */
async function repack(archive: string, out: string, edit: (dir: string) => void): Promise<string> {
  const dir = tempDir('atelier-repack-');
  await tar.x({ file: archive, cwd: dir });
  edit(dir);
  await tar.c({ gzip: true, file: out, cwd: dir, portable: true }, readdirSync(dir));
  return out;
}

const readJson = (file: string) => JSON.parse(readFileSync(file, 'utf8'));
const writeJson = (file: string, value: unknown) => writeFileSync(file, JSON.stringify(value, null, 2) + '\n');

/** Each kind of manifest field, changed by (about) one byte, as someone editing bundle.json would. */
const TAMPERS: Record<string, (m: BundleManifest) => void> = {
  'an input name': (m) => (m.signature.inputs[1]!.name = m.signature.inputs[1]!.name.replace(/h$/, 'H')),
  'an input dtype': (m) => (m.signature.inputs[0]!.dtype = 'float32'),
  'the task': (m) => (m.task = 'binary'),
  'the label': (m) => (m.label = m.label.replace(/s$/, 'S')),
  'a class name': (m) => (m.classes![2] = m.classes![2]!.replace(/a$/, 'b')),
  'a files entry': (m) => {
    const [file, hash] = Object.entries(m.files).find(([f]) => f.startsWith('model/'))!;
    m.files[file] = (hash[0] === '0' ? '1' : '0') + hash.slice(1);
  },
};

describe('bundle integrity: the content hash covers the whole manifest; every path is plain and a regular file', () => {
  let home: string;
  let ws: string;
  let other: string;
  let bundleDir: string;
  let archive: string;

  before(async () => {
    home = tempDir('atelier-integrity-');
    for (const name of ['ws', 'other']) assert.equal((await cli(['init', name], { cwd: home })).code, 0);
    ws = join(home, 'ws');
    other = join(home, 'other');
    writeFileSync(join(ws, 'iris.yaml'), readFileSync(join(ROOT, 'examples', 'iris', 'logistic.yaml'), 'utf8'));
    archive = join(home, 'genuine.tgz');
    for (const args of [['data', 'import', IRIS, '--name', 'iris'], ['train', 'iris.yaml'], ['models', 'export', `${MODEL}@1`, archive]]) {
      const result = await cli(args, { cwd: ws });
      assert.equal(result.code, 0, `atelier ${args.join(' ')}: ${result.stderr}`);
    }
    bundleDir = JSON.parse((await cli(['models', 'show', `${MODEL}@1`, '--json'], { cwd: ws })).stdout).bundle;
  });

  test('bundle.json holds no time and is covered whole: the same training writes the same bytes', { timeout: 120_000 }, async () => {
    const manifest = readJson(join(bundleDir, 'bundle.json'));
    assert.equal(manifest.format, 'atelier.bundle/2');
    assert.equal(manifest.createdAt, undefined);
    const { contentHash, ...covered } = manifest;
    assert.equal(contentHash, bundleContentHash(covered));
    const before = readFileSync(join(bundleDir, 'bundle.json'));
    const again = await cli(['train', 'iris.yaml', '--json'], { cwd: ws });
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.json.bundleHash, contentHash);
    assert.deepEqual(readFileSync(join(bundleDir, 'bundle.json')), before);
    const diff = await cli(['models', 'diff', `${MODEL}@1`, `${MODEL}@2`, '--json'], { cwd: ws });
    assert.equal(diff.code, 0, diff.stderr);
    assert.equal(diff.json.bundle.same, true);
  });

  for (const [kind, tamper] of Object.entries(TAMPERS)) {
    test(`${kind} changed in bundle.json: serve, predict, export and import all refuse`, { timeout: 120_000 }, async () => {
      const manifestPath = join(bundleDir, 'bundle.json');
      const original = readFileSync(manifestPath);
      const tampered = readJson(manifestPath);
      tamper(tampered);
      const edited = repack(archive, join(home, 'tampered.tgz'), (dir) => {
        const inner = readJson(join(dir, 'bundle', 'bundle.json'));
        tamper(inner);
        writeJson(join(dir, 'bundle', 'bundle.json'), inner);
      });
      writeJson(manifestPath, tampered);
      const port = await freePort();
      const server = await startCli(['serve', '--port', String(port), '--models', MODEL, '--json'], { cwd: ws });
      try {
        const altered = /bundle\.json was altered/;
        // Version 1 by number loads on demand: 503 while it loads, then its error.
        let answer: Response;
        let body: { error: string };
        do {
          answer = await fetch(`http://127.0.0.1:${port}/v1/models/${MODEL}/versions/1:predict`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ instances: [{ sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 }] }),
          });
          body = (await answer.json()) as { error: string };
          if (answer.status === 503) await new Promise((r) => setTimeout(r, 100));
        } while (answer.status === 503);
        assert.equal(answer.status, 500, JSON.stringify(body));
        assert.match(body.error, new RegExp(`^${MODEL} version 1 cannot be loaded: bundle\\.json was altered`));
        const before = listFiles(join(other, '.atelier'));
        await Promise.all([
          refused(ws, ['predict', `${MODEL}@1`, IRIS, '-o', join(home, 'out.csv')], altered),
          refused(ws, ['models', 'export', `${MODEL}@1`, join(home, 'again.tgz')], altered),
          refused(other, ['models', 'import', await edited], /tampered\.tgz: bundle\.json was altered/),
        ]);
        assert.deepEqual(listFiles(join(other, '.atelier')), before, 'a refused import leaves no file');
      } finally {
        server.child.kill('SIGINT');
        await server.stopped;
        writeFileSync(manifestPath, original);
      }
    });
  }

  test('a manifest rewritten with a fresh content hash is refused: the folder is named for the genuine one', { timeout: 60_000 }, async () => {
    const manifestPath = join(bundleDir, 'bundle.json');
    const original = readFileSync(manifestPath);
    const { contentHash: _genuine, ...fields } = readJson(manifestPath);
    fields.task = 'binary';
    writeJson(manifestPath, { ...fields, contentHash: bundleContentHash(fields) });
    try {
      await refused(ws, ['predict', `${MODEL}@1`, IRIS, '-o', join(home, 'out.csv')], /bundle\.json was replaced: it describes bundle \w+…, but this folder holds bundle \w+…/);
    } finally {
      writeFileSync(manifestPath, original);
    }
    const ok = await cli(['predict', `${MODEL}@1`, IRIS, '-o', join(home, 'out.csv'), '--json'], { cwd: ws });
    assert.equal(ok.code, 0, `restored, the genuine bundle serves again: ${ok.stderr}`);
  });

  test('a file replaced by a symbolic link (even to the same bytes), or reached through one, is refused', { timeout: 60_000 }, async () => {
    const model = readdirSync(join(bundleDir, 'model'))[0]!;
    const file = join(bundleDir, 'model', model);
    const outside = join(home, `outside-${model}`);
    cpSync(file, outside);
    renameSync(file, `${file}.aside`);
    symlinkSync(outside, file);
    try {
      await refused(ws, ['predict', `${MODEL}@1`, IRIS, '-o', join(home, 'out.csv')], new RegExp(`file model/${model.replace('.', '\\.')} is a symbolic link`));
    } finally {
      rmSync(file);
      renameSync(`${file}.aside`, file);
    }
    const folder = join(bundleDir, 'model');
    const away = join(home, 'model-away');
    cpSync(folder, away, { recursive: true });
    renameSync(folder, `${folder}.aside`);
    symlinkSync(away, folder);
    try {
      await refused(ws, ['models', 'export', `${MODEL}@1`, join(home, 'linked.tgz')], /is reached through the symbolic link model/);
    } finally {
      rmSync(folder);
      renameSync(`${folder}.aside`, folder);
    }
  });

  test('import refuses a bundle.json listing paths outside the bundle, not plain, or not regular files', { timeout: 120_000 }, async () => {
    // Each archive is well formed and its content hash is right for what it lists: only the path is wrong.
    const hostname = readFileSync('/etc/hostname');
    const climb = `${'../'.repeat(30)}etc/hostname`;
    const cases: [string, string, RegExp][] = [
      ['climb', climb, /lists the file "(\.\.\/)+etc\/hostname", whose path climbs out with "\.\."/],
      ['absolute', '/etc/hostname', /lists the file "\/etc\/hostname", whose path is absolute/],
      ['dot-dot-inside', 'model/../transform.json', /whose path climbs out with "\.\."/],
      ['dot', './transform.json', /whose path holds a "\." segment/],
      ['backslash', 'model\\extra.json', /whose path holds a backslash/],
      ['empty-segment', 'model//extra.json', /whose path holds an empty segment/],
      ['folder', 'model', /file bundle\/model is a folder, not a file/],
    ];
    const before = listFiles(join(other, '.atelier'));
    await Promise.all(
      cases.map(async ([name, path, pattern]) => {
        const crafted = await repack(archive, join(home, `${name}.tgz`), (dir) => {
          const manifestPath = join(dir, 'bundle', 'bundle.json');
          const { contentHash: _genuine, ...fields } = readJson(manifestPath);
          fields.files[path] = path.endsWith('hostname') ? sha256(hostname) : fields.files['transform.json'];
          const contentHash = bundleContentHash(fields);
          writeJson(manifestPath, { ...fields, contentHash });
          const exportPath = join(dir, 'atelier-export.json');
          writeJson(exportPath, { ...readJson(exportPath), bundleHash: contentHash });
        });
        await refused(other, ['models', 'import', crafted, '--name', name.replace(/-/g, '_')], new RegExp(`${name}\\.tgz: .*${pattern.source}`));
      }),
    );
    assert.deepEqual(listFiles(join(other, '.atelier')), before, 'refused imports leave no file');
    const models = await cli(['models', 'list', '--json'], { cwd: other });
    assert.deepEqual(models.json.models, [], 'and no record');
  });

  test('a bundle of the older format 1 (files hashed, not the manifest) still loads; its files and paths are still checked', { timeout: 60_000 }, async () => {
    const { contentHash: _v2, ...fields } = readJson(join(bundleDir, 'bundle.json'));
    const legacy = { ...fields, format: 'atelier.bundle/1', createdAt: '2026-01-01T00:00:00.000Z', contentHash: sha256(canonicalJson(fields.files)) };
    const dir = join(tempDir(), legacy.contentHash);
    cpSync(bundleDir, dir, { recursive: true });
    writeJson(join(dir, 'bundle.json'), legacy);
    const bundle = await loadBundle(dir);
    try {
      const [prediction] = await bundle.predict([{ sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 }]);
      assert.equal((prediction as { class: string }).class, 'setosa');
    } finally {
      bundle.dispose();
    }
    const invalid = (pattern: RegExp) => (e: unknown) => e instanceof AtelierError && e.code === 'BUNDLE_INVALID' && pattern.test(e.message);
    writeFileSync(join(dir, 'transform.json'), readFileSync(join(dir, 'transform.json'), 'utf8').replace('{', '{ '));
    await assert.rejects(loadBundle(dir), invalid(/file transform\.json was altered/));
    const climbing = { ...legacy, files: { ...legacy.files, '../outside.json': legacy.files['transform.json'] } };
    writeJson(join(dir, 'bundle.json'), { ...climbing, contentHash: sha256(canonicalJson(climbing.files)) });
    await assert.rejects(loadBundle(dir), invalid(/lists the file "\.\.\/outside\.json", whose path climbs out/));
  });

  test('an archive holding a symbolic link is refused as it is read', { timeout: 60_000 }, async () => {
    const linked = await repack(archive, join(home, 'symlink.tgz'), (dir) => {
      const file = join(dir, 'bundle', 'transform.json');
      renameSync(file, join(dir, 'bundle', 'transform-copy.json'));
      symlinkSync('transform-copy.json', file);
    });
    await refused(other, ['models', 'import', linked], /symlink\.tgz: entry "bundle\/transform\.json" is a SymbolicLink; a model archive holds files and folders only/);
  });
});
