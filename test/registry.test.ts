import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { before, describe, test } from 'node:test';
import { cli, HOUSING, listFiles, ROOT, tempDir } from './helpers.js';

async function snapshot(cwd: string) {
  const [history, models] = await Promise.all([cli(['history', '--json'], { cwd }), cli(['models', 'list', '--json'], { cwd })]);
  return { events: history.json.events, models: models.json.models, files: listFiles(join(cwd, '.atelier')) };
}

/** Exit 1, one line on stderr matching `pattern`, no stack. */
async function expectUserError(cwd: string, args: string[], pattern: RegExp) {
  const result = await cli(args, { cwd });
  assert.equal(result.code, 1, `exit code of atelier ${args.join(' ')}: ${result.stderr}`);
  const lines = result.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line on stderr, got: ${result.stderr}`);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(result.stderr, /at .*\.js:\d+/);
  return result;
}

async function ok(cwd: string, args: string[]) {
  const result = await cli([...args, '--json'], { cwd });
  assert.equal(result.code, 0, `atelier ${args.join(' ')}: ${result.stderr}`);
  return result.json;
}

/** The entries of an uncompressed tar: header offset, data offset, size, end of the padded data. */
function tarEntries(tar: Buffer) {
  const out: { name: string; header: number; data: number; size: number; end: number }[] = [];
  for (let off = 0; off + 512 <= tar.length && tar[off] !== 0; ) {
    const name = tar.toString('utf8', off, off + 100).replace(/\0[\s\S]*$/, '');
    const size = parseInt(tar.toString('ascii', off + 124, off + 136).replace(/\0[\s\S]*$/, '').trim(), 8);
    const end = off + 512 + Math.ceil(size / 512) * 512;
    out.push({ name, header: off, data: off + 512, size, end });
    off = end;
  }
  return out;
}

describe('registry: rollback, versions, diff, lineage, export and import', () => {
  let ws: string;
  let home: string;

  before(async () => {
    home = tempDir('atelier-registry-');
    assert.equal((await cli(['init', 'ws'], { cwd: home })).code, 0);
    ws = join(home, 'ws');
    await ok(ws, ['data', 'import', HOUSING, '--name', 'housing']);
    const examples = join(ROOT, 'examples', 'housing');
    // Two models: housing-linear and housing-gbdt. Then two more versions of housing-linear: one
    // from a copy of the gbdt config under the linear model's name, one the linear config again.
    writeFileSync(join(ws, 'linear-as-gbdt.yaml'), readFileSync(join(examples, 'gbdt.yaml'), 'utf8').replace(/^name: housing-gbdt$/m, 'name: housing-linear'));
    for (const config of [join(examples, 'linear.yaml'), join(examples, 'gbdt.yaml'), 'linear-as-gbdt.yaml', join(examples, 'linear.yaml')]) {
      await ok(ws, ['train', config]);
    }
  });

  test('versions: every version with aliases, headline metric, run, dataset, who and when', async () => {
    const list = await ok(ws, ['models', 'versions', 'housing-linear']);
    assert.equal(list.model, 'housing-linear');
    assert.deepEqual(list.versions.map((v: any) => v.version), [1, 2, 3]);
    for (const v of list.versions) {
      assert.equal(v.metric.name, 'rmse');
      assert.match(v.runId, /^run-/);
      assert.equal(`${v.dataset.name}@${v.dataset.version}`, 'housing@1');
      assert.ok(v.createdBy && v.createdAt);
    }
    assert.deepEqual(list.versions.map((v: any) => v.run.family), ['linear', 'gbdt', 'linear']);
    const [text] = await Promise.all([
      cli(['models', 'versions', 'housing-linear'], { cwd: ws }),
      expectUserError(ws, ['models', 'versions', 'nope'], /no model named "nope"/),
    ]);
    assert.match(text.stdout, /VERSION\s+ALIASES\s+METRIC\s+RUN\s+DATASET\s+BY\s+CREATED/);
    assert.match(text.stdout, /\n\s+2\s+-\s+rmse [\d.]+\s+run-\w+\s+housing@1/);
  });

  test('rollback: back to the previous holder, again walks further back, then nothing left', async () => {
    await expectUserError(ws, ['models', 'rollback', 'housing-linear'], /housing-linear has no alias "production" to roll back/);
    for (const v of [1, 2, 3]) await ok(ws, ['models', 'promote', `housing-linear@${v}`, '--reason', `release ${v}`]);

    const first = await ok(ws, ['models', 'rollback', 'housing-linear', '--reason', 'v3 regressed']);
    assert.deepEqual([first.from, first.to, first.alias, first.reason], [3, 2, 'production', 'v3 regressed']);
    assert.ok(first.by && first.at);
    const second = await cli(['models', 'rollback', 'housing-linear'], { cwd: ws });
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /housing-linear@production rolled back from version 2 to version 1/);

    const before = await snapshot(ws);
    await expectUserError(ws, ['models', 'rollback', 'housing-linear'], /nothing to roll back to: housing-linear@production is at version 1/);
    await expectUserError(ws, ['models', 'rollback', 'housing-linear', '--alias', 'staging'], /no alias "staging".*its aliases: production/);
    await expectUserError(ws, ['models', 'rollback', 'no-such-model'], /no model named "no-such-model"/);
    const after = await snapshot(ws);
    assert.deepEqual(after, before, 'refused rollbacks change nothing');
    assert.deepEqual(after.models.find((m: any) => m.name === 'housing-linear').versions.map((v: any) => v.aliases), [['production'], [], []]);

    // A promotion after rollbacks starts a new step; rolling it back returns to where it was.
    await ok(ws, ['models', 'promote', 'housing-linear@2']);
    assert.equal((await ok(ws, ['models', 'rollback', 'housing-linear'])).to, 1);

    const history = (await ok(ws, ['history'])).events.filter((e: any) => e.kind === 'model.promoted' || e.kind === 'model.rolled_back');
    assert.deepEqual(
      history.map((e: any) => `${e.kind} ${e.subject}`),
      ['model.promoted housing-linear@1', 'model.promoted housing-linear@2', 'model.promoted housing-linear@3', 'model.rolled_back housing-linear@2', 'model.rolled_back housing-linear@1', 'model.promoted housing-linear@2', 'model.rolled_back housing-linear@1'],
    );
    assert.deepEqual(history[3].details, { alias: 'production', from: 3, to: 2, reason: 'v3 regressed', by: history[3].user, at: history[3].at });
  });

  test('diff: config fields, metrics with the change, dataset; within a model and across models', async () => {
    const within = await ok(ws, ['models', 'diff', 'housing-linear@1', 'housing-linear@2']);
    const paths = within.config.changes.map((c: any) => c.path);
    assert.ok(paths.includes('model.family'), paths.join(', '));
    assert.deepEqual(within.config.changes.find((c: any) => c.path === 'model.family'), { path: 'model.family', a: 'linear', b: 'gbdt' });
    assert.ok(paths.includes('model.n_estimators'));
    assert.ok(!paths.includes('name'), 'same model name');
    const rmse = within.metrics.find((m: any) => m.name === 'rmse');
    assert.ok(Math.abs(rmse.change - (rmse.b - rmse.a)) < 1e-12);
    assert.ok(Math.abs(rmse.relative - (rmse.b - rmse.a) / rmse.a) < 1e-12);
    assert.ok(rmse.b < rmse.a, 'boosted trees fit housing better than a line');
    assert.equal(within.dataset.same, true);
    assert.equal(within.dataset.a.name, 'housing');
    assert.equal(within.bundle.same, false);

    const same = await ok(ws, ['models', 'diff', 'housing-linear@1', 'housing-linear@3']);
    assert.equal(same.config.same, true);
    assert.equal(same.bundle.same, true, 'the same config, data and seed give the same bundle');

    const across = await cli(['models', 'diff', 'housing-linear@production', 'housing-gbdt@1'], { cwd: ws });
    assert.equal(across.code, 0, across.stderr);
    assert.match(across.stdout, /housing-linear@1 → housing-gbdt@1/);
    assert.match(across.stdout, /model\.family\s+linear\s+gbdt/);
    assert.match(across.stdout, /name\s+housing-linear\s+housing-gbdt/);
    assert.match(across.stdout, /rmse\s+[\d.]+\s+[\d.]+\s+-[\d.]+\s+-[\d.]+%/);
    assert.match(across.stdout, /dataset: the same, housing@1/);
    await expectUserError(ws, ['models', 'diff', 'housing-linear@9', 'housing-gbdt@1'], /housing-linear has no version 9/);
  });

  test('lineage: dataset hash, run, bundle and the alias moves to and from the version', async () => {
    const dataset = (await ok(ws, ['data', 'list'])).datasets[0];
    const version = await ok(ws, ['models', 'show', 'housing-linear@2']);
    const l = await ok(ws, ['lineage', 'housing-linear@2']);
    assert.equal(l.dataset.contentHash, dataset.latest.contentHash);
    assert.equal(l.dataset.name, 'housing');
    assert.equal(l.dataset.version, 1);
    assert.match(l.dataset.contentHash, /^[0-9a-f]{64}$/);
    assert.equal(l.run.id, version.runId);
    assert.equal(l.run.status, 'finished');
    assert.equal(l.run.seed, 42);
    assert.deepEqual([l.run.split.trainRows, l.run.split.evalRows], [404, 102]);
    assert.equal(l.bundle.hash, version.bundleHash);
    assert.equal(l.bundle.family, 'gbdt');
    assert.deepEqual(
      l.deployments.history.map((m: any) => `${m.kind} ${m.direction} ${m.from}->${m.to}`),
      ['promoted to 1->2', 'promoted from 2->3', 'rolled_back to 3->2', 'rolled_back from 2->1', 'promoted to 1->2', 'rolled_back from 2->1'],
    );
    assert.deepEqual(l.deployments.aliases, []);

    const text = await cli(['lineage', 'housing-linear@production'], { cwd: ws });
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^housing-linear@1 \(production\)/);
    assert.ok(text.stdout.includes(l.dataset.contentHash), 'the full dataset hash');
    assert.match(text.stdout, /run\s+run-\w+ \(finished\)/);
    assert.match(text.stdout, /split\s+eval 0\.2, seed 42: 404 training, 102 held-out/);
    assert.match(text.stdout, /deployments\s+holds production now/);
    assert.match(text.stdout, /production\s+rolled back here from 2/);
    await expectUserError(ws, ['lineage', 'housing-linear@canary'], /no alias \(label\) "canary"/);
  });

  test('export then import into a fresh workspace: the same predictions; a damaged archive is refused', async () => {
    const archive = join(home, 'gbdt.tgz');
    const exported = await ok(ws, ['models', 'export', 'housing-gbdt@1', archive]);
    assert.equal(exported.file, archive);
    assert.ok(!readdirSync(home).some((f) => f.endsWith('.tmp')), 'no temp file left');

    assert.equal((await cli(['init', 'other'], { cwd: home })).code, 0);
    const other = join(home, 'other');
    const imported = await ok(other, ['models', 'import', archive, '--name', 'prices']);
    assert.deepEqual([imported.model, imported.version, imported.original, imported.bundleHash], ['prices', 1, 'housing-gbdt@1', exported.bundleHash]);
    const again = await ok(other, ['models', 'import', archive]);
    assert.deepEqual([again.model, again.version], ['housing-gbdt', 1]);

    await Promise.all([ok(ws, ['predict', 'housing-gbdt@1', HOUSING, '-o', join(home, 'source.csv')]), ok(other, ['predict', 'prices', HOUSING, '-o', join(home, 'imported.csv')])]);
    assert.equal(readFileSync(join(home, 'imported.csv'), 'utf8'), readFileSync(join(home, 'source.csv'), 'utf8'));

    const lineage = await ok(other, ['lineage', 'prices@1']);
    assert.equal(lineage.imported.original, 'housing-gbdt@1');
    assert.equal(lineage.run.family, 'gbdt');
    assert.match(lineage.dataset.contentHash, /^[0-9a-f]{64}$/);
    const imports = (await ok(other, ['history'])).events.filter((e: any) => e.kind === 'model.imported');
    assert.deepEqual(imports.map((e: any) => e.subject), ['prices@1', 'housing-gbdt@1']);

    // Damaged copies: a file altered, a file missing, bytes that are not an archive.
    const tar = gunzipSync(readFileSync(archive));
    const entries = tarEntries(tar);
    const transform = entries.find((e) => e.name === 'bundle/transform.json')!;
    const altered = Buffer.from(tar);
    const digit = altered.subarray(transform.data, transform.data + transform.size).findIndex((b) => b >= 0x31 && b <= 0x38);
    altered[transform.data + digit] = altered[transform.data + digit]! + 1;
    writeFileSync(join(home, 'altered.tgz'), gzipSync(altered));
    const model = entries.find((e) => e.name.startsWith('bundle/model/'))!;
    writeFileSync(join(home, 'missing.tgz'), gzipSync(Buffer.concat([tar.subarray(0, model.header), tar.subarray(model.end)])));
    writeFileSync(join(home, 'junk.tgz'), 'not an archive');

    const before = await snapshot(other);
    await Promise.all([
      expectUserError(other, ['models', 'import', join(home, 'altered.tgz')], /altered\.tgz: file bundle\/transform\.json was altered/),
      expectUserError(other, ['models', 'import', join(home, 'missing.tgz'), '--name', 'fresh'], new RegExp(`missing\\.tgz: file ${model.name.replace(/[.]/g, '\\.')} is missing`)),
      expectUserError(other, ['models', 'import', join(home, 'junk.tgz')], /junk\.tgz: not a model archive/),
      expectUserError(other, ['models', 'import', join(home, 'no-such.tgz')], /no-such\.tgz: no such file/),
    ]);
    assert.deepEqual(await snapshot(other), before, 'refused imports leave no record and no file');
  });

  test('--help on every new command; usage errors exit 2', async () => {
    const commands = [['models', 'rollback'], ['models', 'versions'], ['models', 'diff'], ['models', 'export'], ['models', 'import'], ['lineage']];
    const helps = await Promise.all(commands.map((command) => cli([...command, '--help'], { cwd: ws })));
    helps.forEach((help, i) => {
      assert.equal(help.code, 0, `atelier ${commands[i]!.join(' ')} --help`);
      assert.match(help.stdout, /Usage: atelier/);
    });
    assert.equal((await cli(['models', 'diff', 'housing-linear@1'], { cwd: ws })).code, 2);
    const json = await cli(['models', 'rollback', 'housing-gbdt', '--json'], { cwd: ws });
    assert.equal(json.code, 1);
    assert.equal(json.json.error.code, 'ALIAS_NOT_FOUND');
  });
});
