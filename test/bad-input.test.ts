import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { before, describe, test } from 'node:test';
import { cli, freePort, postJson, startCli, tempDir } from './helpers.js';

/** Every file under a folder, to prove a failed command left nothing behind. */
function listTree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else if (!/metadata\.db(-wal|-shm)?$/.test(e.name)) out.push(relative(dir, join(d, e.name)));
    }
  };
  walk(dir);
  return out.sort();
}

async function storeSnapshot(cwd: string) {
  const history = await cli(['history', '--json'], { cwd });
  const data = await cli(['data', 'list', '--json'], { cwd });
  const models = await cli(['models', 'list', '--json'], { cwd });
  return { events: history.json.events, datasets: data.json.datasets, models: models.json.models, files: listTree(join(cwd, '.atelier')) };
}

/** Runs a failing command and checks: exit 1, one clear line on stderr, the store untouched. */
async function expectUserError(cwd: string, args: string[], pattern: RegExp) {
  const before = await storeSnapshot(cwd);
  const result = await cli(args, { cwd });
  assert.equal(result.code, 1, `exit code of atelier ${args.join(' ')}: ${result.stderr}`);
  const lines = result.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line on stderr, got: ${result.stderr}`);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(result.stderr, /at .*\.js:\d+/, 'no stack trace without --debug');
  assert.deepEqual(await storeSnapshot(cwd), before, 'the store is as it was');
  return result;
}

describe('bad input: one clear line, exit code 1, nothing changed', () => {
  let workspace: string;
  before(async () => {
    const home = tempDir();
    const quick = await cli(['quickstart', '--no-serve', '--json', '--port', String(await freePort())], { cwd: home });
    assert.equal(quick.code, 0, quick.stderr);
    workspace = join(home, 'atelier-quickstart');
  });

  test('a CSV with a ragged row names the line', async () => {
    writeFileSync(join(workspace, 'ragged.csv'), 'a,b,c\n1,2,3\n4,5,6\n7,8\n9,10,11\n');
    await expectUserError(workspace, ['data', 'import', 'ragged.csv', '--name', 'ragged'], /ragged\.csv:4: the row has 2 fields; expected 3/);
  });

  test('a row with too many fields, an unclosed quote, text after a quote', async () => {
    writeFileSync(join(workspace, 'wide.csv'), 'a,b\n1,2\n3,4,5\n');
    await expectUserError(workspace, ['data', 'import', 'wide.csv', '--name', 'wide'], /wide\.csv:3: the row has 3 fields; expected 2/);
    writeFileSync(join(workspace, 'quote.csv'), 'a,b,c\n1,2,3\n4,"5,6\n7,8,9\n');
    await expectUserError(workspace, ['data', 'import', 'quote.csv', '--name', 'quote'], /quote\.csv:3: a quote opened on this line is never closed/);
  });

  test('an empty file, a header with no rows, a duplicate or empty column name', async () => {
    writeFileSync(join(workspace, 'empty.csv'), '');
    await expectUserError(workspace, ['data', 'import', 'empty.csv', '--name', 'e'], /empty\.csv: the file is empty/);
    writeFileSync(join(workspace, 'header.csv'), 'a,b\n');
    await expectUserError(workspace, ['data', 'import', 'header.csv', '--name', 'h'], /header\.csv: the file has a header but no rows/);
    writeFileSync(join(workspace, 'dup.csv'), 'a,b,a\n1,2,3\n');
    await expectUserError(workspace, ['data', 'import', 'dup.csv', '--name', 'd'], /dup\.csv:1: column name "a" appears twice/);
    writeFileSync(join(workspace, 'blank.csv'), 'a,,c\n1,2,3\n');
    await expectUserError(workspace, ['data', 'import', 'blank.csv', '--name', 'b'], /blank\.csv:1: column 2 of the header has no name/);
  });

  test('a missing file', async () => {
    await expectUserError(workspace, ['data', 'import', 'no-such.csv', '--name', 'x'], /no-such\.csv: no such file/);
    await expectUserError(workspace, ['train', 'no-such.yaml'], /no-such\.yaml: no such file/);
    await expectUserError(workspace, ['predict', 'housing', 'no-such.csv'], /no-such\.csv: no such file/);
  });

  test('a config with an unknown field names the field and its line', async () => {
    const config = readFileSync(join(workspace, 'dnn.yaml'), 'utf8');
    writeFileSync(join(workspace, 'typo.yaml'), config.replace('hidden_units:', 'hidden_unitz:'));
    const result = await expectUserError(workspace, ['train', 'typo.yaml'], /typo\.yaml:\d+: model\.hidden_unitz: unknown field \(did you mean hidden_units\?\); allowed here: family, hidden_units, activation/);
    const line = Number(/typo\.yaml:(\d+)/.exec(result.stderr)![1]);
    assert.match(config.split('\n')[line - 1]!, /hidden_units/);
    writeFileSync(join(workspace, 'rate.yaml'), config.replace('learning_rate: 0.003', 'learning_rate: fast'));
    await expectUserError(workspace, ['train', 'rate.yaml'], /rate\.yaml:\d+: training\.learning_rate: .*number/i);
    writeFileSync(join(workspace, 'label.yaml'), config.replace('label: MEDV', 'label: PRICE'));
    await expectUserError(workspace, ['train', 'label.yaml'], /data\.label: dataset housing@1 has no column "PRICE"/);
  });

  test('--json errors are one JSON document with the code and facts', async () => {
    const result = await cli(['data', 'import', 'ragged.csv', '--name', 'ragged', '--json'], { cwd: workspace });
    assert.equal(result.code, 1);
    assert.equal(result.json.error.code, 'CSV_INVALID');
    assert.equal(result.json.error.line, 4);
  });

  test('usage errors exit 2; --help exits 0 on every command', async () => {
    assert.equal((await cli(['no-such-command'], { cwd: workspace })).code, 2);
    assert.equal((await cli(['data', 'import'], { cwd: workspace })).code, 2);
    assert.equal((await cli(['serve', '--no-such-flag'], { cwd: workspace })).code, 2);
    const commands = [[], ['init'], ['quickstart'], ['data'], ['data', 'import'], ['data', 'list'], ['data', 'versions'], ['data', 'show'], ['data', 'head'], ['data', 'stats'], ['data', 'schema', 'infer'], ['data', 'schema', 'save'], ['data', 'validate'], ['data', 'drift'], ['train'], ['evaluate'], ['models'], ['models', 'list'], ['models', 'show'], ['models', 'promote'], ['models', 'rollback'], ['models', 'versions'], ['models', 'diff'], ['models', 'export'], ['models', 'import'], ['lineage'], ['serve'], ['predict'], ['history']];
    for (const command of commands) {
      const help = await cli([...command, '--help'], { cwd: workspace });
      assert.equal(help.code, 0, `atelier ${command.join(' ')} --help`);
      assert.match(help.stdout, /Usage: atelier/);
    }
  });

  test('outside a workspace, commands say so and how to make one', async () => {
    const empty = tempDir();
    const result = await cli(['models', 'list'], { cwd: empty });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /no Atelier workspace in .* run `atelier init`/);
    const init = await cli(['init', '--json'], { cwd: empty });
    assert.equal(init.code, 0, init.stderr);
    const list = await cli(['models', 'list', '--json'], { cwd: join(empty) });
    assert.deepEqual(list.json, { models: [], next: null });
  });

  test('the server answers bad requests with TF Serving status codes and {"error": ...}', async () => {
    const port = await freePort();
    const server = await startCli(['serve', '--port', String(port), '--json'], { cwd: workspace });
    const base = `http://127.0.0.1:${port}/v1/models`;
    try {
      const house = JSON.parse(readFileSync(join(workspace, 'houses.json'), 'utf8')).instances[0];
      const { RM: _dropped, ...withoutRm } = house;
      const missing = await postJson(`${base}/housing:predict`, { instances: [withoutRm] });
      assert.equal(missing.status, 400);
      assert.match(missing.body.error, /missing feature "RM"/);

      const wrongType = await postJson(`${base}/housing:predict`, { instances: [{ ...house, RM: 'six' }] });
      assert.equal(wrongType.status, 400);
      assert.match(wrongType.body.error, /feature "RM" must be a number/);

      const unknownModel = await postJson(`${base}/nope:predict`, { instances: [house] });
      assert.equal(unknownModel.status, 404);
      assert.equal(unknownModel.body.error, 'Servable not found for request: Latest(nope)');

      const unknownVersion = await postJson(`${base}/housing/versions/7:predict`, { instances: [house] });
      assert.equal(unknownVersion.status, 404);

      const unknownLabel = await postJson(`${base}/housing/labels/canary:predict`, { instances: [house] });
      assert.equal(unknownLabel.status, 400);

      const both = await postJson(`${base}/housing:predict`, { instances: [house], inputs: {} });
      assert.equal(both.status, 400);
      assert.match(both.body.error, /Not formatted correctly expecting only one of 'inputs' or 'instances' keys to exist $/);

      const malformed = await postJson(`${base}/housing:predict`, '{"instances": [');
      assert.equal(malformed.status, 400);
      assert.equal(typeof malformed.body.error, 'string');

      // The good paths next to them: version, label, columnar format, status.
      const byVersion = await postJson(`${base}/housing/versions/1:predict`, { instances: [house] });
      const byLabel = await postJson(`${base}/housing/labels/production:predict`, { instances: [house] });
      assert.equal(byVersion.status, 200);
      assert.deepEqual(byLabel.body, byVersion.body);
      const columnar = await postJson(`${base}/housing:predict`, { inputs: Object.fromEntries(Object.entries(house).map(([k, v]) => [k, [v]])) });
      assert.deepEqual(columnar.body, { outputs: byVersion.body.predictions });
      const status = await (await fetch(`${base}/housing`)).json();
      assert.deepEqual(status, { model_version_status: [{ version: '1', state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } }] });
    } finally {
      server.child.kill('SIGINT');
    }
    assert.equal(await server.stopped, 0);
  });
});
