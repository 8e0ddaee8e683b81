import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import { CLI, cli, freePort, HOUSING, ROOT, startCli, tempDir } from '../helpers.js';

/**
 * Continuous training end to end, as a user runs it: a watched folder receives three deliveries
 * (derived from housing.csv), a server answers throughout, the monitor looks at served traffic,
 * outcomes come back, and the event log tells where production was at any time.
 */
const AUTOMATIC = join(ROOT, 'examples', 'pipelines', 'housing.yaml');
const LOCKED = join(ROOT, 'examples', 'pipelines', 'housing-locked.yaml');

const [header, ...lines] = readFileSync(HOUSING, 'utf8').trim().split('\n');
const columns = header!.split(',').map((c) => c.replace(/"/g, ''));
const rows = lines.map((l) => l.split(',').map(Number));
const csv = (cols: string[], data: number[][]) => [cols.join(','), ...data.map((r) => r.join(','))].join('\n') + '\n';
const lstat = columns.indexOf('LSTAT');
const medv = columns.indexOf('MEDV');
/** 1: half the rows; 2: the other half with a column missing; 3: every row. */
const deliveries = [
  csv(columns, rows.filter((_r, i) => i % 2 === 0)),
  csv(columns.filter((_c, j) => j !== lstat), rows.filter((_r, i) => i % 2 === 1).map((r) => r.filter((_v, j) => j !== lstat))),
  csv(columns, rows),
];
const instance = (r: number[]) => Object.fromEntries(columns.map((c, j) => [c, r[j]]).filter(([c]) => c !== 'MEDV'));

async function ok(cwd: string, args: string[]) {
  const result = await cli([...args, '--json'], { cwd });
  assert.equal(result.code, 0, `atelier ${args.join(' ')}: ${result.stderr}`);
  return result.json;
}

/** Drops a delivery into the folder as a finished file (written aside, then renamed in). */
function deliver(dir: string, n: number) {
  writeFileSync(join(dir, `.delivery-${n}.tmp`), deliveries[n - 1]!);
  renameSync(join(dir, `.delivery-${n}.tmp`), join(dir, `delivery-${n}.csv`));
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, seconds = 120): Promise<T> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

async function runsEnded(cwd: string): Promise<any[]> {
  const { events } = await ok(cwd, ['history']);
  return events.filter((e: any) => e.kind === 'pipeline.finished' || e.kind === 'pipeline.failed');
}

const aliases = async (cwd: string) =>
  Object.fromEntries(
    (await ok(cwd, ['models', 'list'])).models[0].versions.flatMap((v: any) => v.aliases.map((a: string) => [a, v.version])),
  );

async function predict(url: string, instances: object[], id: string) {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': id }, body: JSON.stringify({ instances }) });
  return { status: response.status, body: (await response.json()) as any };
}

function loggedIds(logs: string): Set<string> {
  const dir = join(logs, 'houses');
  if (!existsSync(dir)) return new Set();
  const ids = new Set<string>();
  for (const f of readdirSync(dir)) for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) if (line) ids.add(JSON.parse(line).request_id);
  return ids;
}

describe('continuous training end to end', () => {
  test('automatic policy: deliveries, a broken one stopped, a hot switch with no failed request, monitoring, outcomes, time travel', async () => {
    const cwd = tempDir();
    await ok(cwd, ['init']);
    const incoming = join(cwd, 'incoming');
    const logs = join(cwd, 'logs');
    mkdirSync(incoming);
    const watcher = spawn(process.execPath, [CLI, 'pipeline', 'watch', AUTOMATIC, '--dir', incoming, '--poll', '200ms', '--max-runs', '3', '--json'], {
      cwd,
      env: { ...process.env, ATELIER_WORKSPACE: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let watchOut = '';
    let watchErr = '';
    watcher.stdout.on('data', (d) => (watchOut += d));
    watcher.stderr.on('data', (d) => (watchErr += d));
    const watch = new Promise<{ code: number; json: any; stderr: string }>((done) =>
      watcher.on('close', (code) => done({ code: code ?? -1, json: JSON.parse(watchOut || 'null'), stderr: watchErr })),
    );
    let server: Awaited<ReturnType<typeof startCli>> | undefined;
    let stop = false;
    try {
      // 1: the first model, straight to production.
      deliver(incoming, 1);
      await until('run 1', async () => ((await runsEnded(cwd)).length >= 1 ? true : undefined));
      assert.deepEqual(await aliases(cwd), { production: 1 });

      // 2: LSTAT is missing: validation stops the run, production stays.
      deliver(incoming, 2);
      await until('run 2', async () => ((await runsEnded(cwd)).length >= 2 ? true : undefined));
      assert.deepEqual(await aliases(cwd), { production: 1 });

      const port = await freePort();
      server = await startCli(['serve', '--port', String(port), '--log-predictions', logs, '--poll-ms', '100', '--json'], { cwd });
      const base = `http://127.0.0.1:${port}`;
      const url = `${base}/v1/models/houses:predict`;

      // 3: clients keep predicting while the better model arrives and is switched to.
      const failures: string[] = [];
      let answered = 0;
      const client = async (c: number) => {
        for (let i = c; !stop; i += 4) {
          try {
            const answer = await predict(url, [instance(rows[i % rows.length]!)], `loop-${c}-${i}`);
            if (answer.status !== 200) failures.push(`${answer.status} ${JSON.stringify(answer.body)}`);
            else answered++;
          } catch (error) {
            failures.push(String(error));
          }
        }
      };
      const clients = [0, 1, 2, 3].map(client);
      await until('traffic', async () => (answered > 50 ? true : undefined));
      deliver(incoming, 3);
      const result = await watch;
      assert.equal(result.code, 0, result.stderr);
      await until('the server on version 2', async () => {
        const status = (await (await fetch(`${base}/v1/models/houses`)).json()) as any;
        return status.model_version_status.some((s: any) => s.version === '2' && s.state === 'AVAILABLE') &&
          !status.model_version_status.some((s: any) => s.version === '1' && s.state !== 'END')
          ? true
          : undefined;
      });
      const before = answered;
      await until('traffic on version 2', async () => (answered > before + 50 ? true : undefined));
      stop = true;
      await Promise.all(clients);
      assert.deepEqual(failures, [], `${failures.length} failed requests`);

      const runs = result.json.runs;
      assert.deepEqual(runs.map((r: any) => r.status), ['succeeded', 'failed', 'succeeded']);
      assert.deepEqual(runs.map((r: any) => r.trigger), ['watch delivery-1.csv', 'watch delivery-2.csv', 'watch delivery-3.csv']);
      assert.deepEqual(runs[1].steps.map((s: any) => `${s.step}:${s.status}`), [
        'import:done', 'statistics:done', 'validate:failed', 'train:skipped', 'evaluate:skipped', 'bless:skipped', 'push:skipped',
      ]);
      assert.equal(runs[1].error.code, 'DATA_ANOMALIES');
      assert.match(runs[1].error.message, /housing@2 breaks .*LSTAT/);
      assert.deepEqual(runs[2].model, { name: 'houses', version: 2, blessed: true, pushed: 'production' });
      // The third run trains on the window of validated deliveries: 1 and 3, not the broken 2.
      assert.match(runs[2].steps.find((s: any) => s.step === 'train').detail, /houses@2 trained on housing-window@1/);
      assert.deepEqual(await aliases(cwd), { production: 2 });

      // Time travel: production was 1 just before the promotion of 2, and 2 from then on.
      const promoted = (await ok(cwd, ['history', '--kind', 'model.promoted'])).events.find((e: any) => e.subject === 'houses@2');
      const justBefore = new Date(Date.parse(promoted.at) - 1).toISOString();
      const then = await ok(cwd, ['history', '--at', justBefore]);
      assert.deepEqual(then.aliases.map((a: any) => [a.model, a.alias, a.version]), [['houses', 'production', 1]]);
      assert.ok(then.events.length > 0);
      const now = await ok(cwd, ['history', '--at', promoted.at]);
      assert.deepEqual(now.aliases.map((a: any) => [a.model, a.alias, a.version]), [['houses', 'production', 2]]);

      // Monitoring: served traffic like the training data is not flagged; a shifted batch is.
      const since = new Date().toISOString();
      await sleep(5);
      for (let i = 0; i < rows.length; i += 50) assert.equal((await predict(url, rows.slice(i, i + 50).map(instance), `same-${i}`)).status, 200);
      await until('the unchanged batch in the log', async () => (loggedIds(logs).has(`same-${Math.floor((rows.length - 1) / 50) * 50}`) ? true : undefined));
      const quiet = await cli(['monitor', 'houses@production', '--log', logs, '--since', since, '--json'], { cwd });
      assert.equal(quiet.code, 0, quiet.stderr);
      assert.equal(quiet.json.window.rows, rows.length);
      assert.deepEqual(quiet.json.crossed, []);
      assert.equal(quiet.json.trainingData, 'housing-window@1');

      const shifted = rows.map((r) => r.map((v, j) => (columns[j] === 'RM' ? v + 1.5 : columns[j] === 'LSTAT' ? v * 0.5 : v)));
      for (let i = 0; i < shifted.length; i += 50) assert.equal((await predict(url, shifted.slice(i, i + 50).map(instance), `shifted-${i}`)).status, 200);
      await until('the shifted batch in the log', async () => (loggedIds(logs).has(`shifted-${Math.floor((rows.length - 1) / 50) * 50}`) ? true : undefined));
      const html = join(cwd, 'monitor.html');
      const alarm = await cli(['monitor', 'houses@production', '--log', logs, '--html', html, '--json'], { cwd });
      assert.equal(alarm.code, 1, alarm.stderr);
      assert.equal(alarm.json.window.rows, rows.length);
      for (const flag of ['skew:RM', 'skew:LSTAT', 'skew:prediction', 'drift:RM', 'drift:LSTAT', 'drift:prediction']) assert.ok(alarm.json.crossed.includes(flag), `${flag} in ${alarm.json.crossed}: ${JSON.stringify(alarm.json.prediction)}`);
      assert.ok(!alarm.json.crossed.includes('skew:CRIM'));
      assert.match(readFileSync(html, 'utf8'), /<svg[\s\S]*RM: served/);

      // Outcomes: version 2 does much worse on live labels than version 1, so production rolls back.
      const labels = ['request_id,MEDV'];
      for (const version of [1, 2]) {
        for (let i = 0; i < 40; i++) {
          const id = `outcome-${version}-${i}`;
          const row = rows[i * 7]!;
          await until(`version ${version} answers`, async () => ((await predict(`${base}/v1/models/houses/versions/${version}:predict`, [instance(row)], id)).status === 200 ? true : undefined));
          labels.push(`${id},${row[medv]! + (version === 2 ? 12 : 0)}`);
        }
      }
      writeFileSync(join(cwd, 'labels.csv'), labels.join('\n') + '\n');
      await until('the outcome requests in the log', async () => (loggedIds(logs).has('outcome-2-39') ? true : undefined));
      const outcomes = await ok(cwd, ['monitor', 'outcomes', 'houses', '--labels', 'labels.csv', '--log', logs, '--pipeline', AUTOMATIC]);
      const live = Object.fromEntries(outcomes.versions.map((v: any) => [v.version, v]));
      assert.equal(live[1].count, 40);
      assert.equal(live[2].count, 40);
      assert.ok(live[2].metrics.rmse > 1.1 * live[1].metrics.rmse, JSON.stringify(outcomes.versions));
      assert.deepEqual([outcomes.rollback.rolledBack.from, outcomes.rollback.rolledBack.to], [2, 1]);
      assert.deepEqual(await aliases(cwd), { production: 1 });
    } finally {
      stop = true;
      if (server) {
        server.child.kill('SIGINT');
        await server.stopped;
      }
      if (watcher.exitCode === null) watcher.kill('SIGINT');
      await watch;
    }
  });

  test('locked policy: a blessed model waits on staging; production moves only by hand', async () => {
    const cwd = tempDir();
    await ok(cwd, ['init']);
    const incoming = join(cwd, 'incoming');
    mkdirSync(incoming);
    const watchOnce = () => ok(cwd, ['pipeline', 'watch', LOCKED, '--dir', incoming, '--once']);
    deliver(incoming, 1);
    assert.deepEqual((await watchOnce()).runs.map((r: any) => r.model), [{ name: 'houses', version: 1, blessed: true, pushed: 'staging' }]);
    assert.deepEqual(await aliases(cwd), { staging: 1 });
    await ok(cwd, ['models', 'promote', 'houses@1', '--reason', 'reviewed']);
    deliver(incoming, 2);
    assert.deepEqual((await watchOnce()).runs.map((r: any) => r.status), ['failed']);
    assert.deepEqual((await watchOnce()).runs, [], 'a file is taken once');
    deliver(incoming, 3);
    const third = (await watchOnce()).runs;
    assert.deepEqual(third.map((r: any) => r.model), [{ name: 'houses', version: 2, blessed: true, pushed: 'staging' }]);
    assert.deepEqual(await aliases(cwd), { production: 1, staging: 2 });
  });
});
