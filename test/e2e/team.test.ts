import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cli, freePort, HOUSING, ROOT, startCli, startLogged, tempDir, type CliResult, type LoggedProcess } from '../helpers.js';
import { replicasFollow, request } from '../serving-setup.js';
import { startPostgres, type TestPostgres } from '../services/postgres.js';
import { startS3, type TestS3 } from '../services/s3.js';

/**
 * Issue 13's acceptance test, the team setup end to end: the store on PostgreSQL, the artifacts in
 * an S3-compatible server (s3rver), three `atelier worker` processes and two `atelier serve`
 * replicas, each in an empty folder of its own that it shares with nobody: they get the two URLs
 * and the S3 settings, nothing else. 30 jobs (trainings with different seeds, a pipeline run, a
 * batch prediction); one worker is killed with kill -9 mid-training; every job completes exactly
 * once; then a promotion is followed by both replicas with zero failed requests under load.
 * The steps of docs/team.md ("The store URL", "The artifact URL", "Workers and the queue",
 * "Serving replicas") are the commands run here.
 */

/** Cheap trainings: least squares, each on its own split (data.split.seed). */
const CHEAP_TRAININGS = 27;
/** A training long enough to be caught mid-way and killed: a DNN, no early stopping. */
const SLOW = `name: e2e-slow
task: regression
data: { dataset: housing, label: MEDV, split: { eval: 0.2, seed: 7 } }
features: [CRIM, ZN, INDUS, CHAS, NOX, RM, AGE, DIS, RAD, TAX, PTRATIO, LSTAT]
model: { family: dnn, hidden_units: [64, 32], activation: relu }
training: { epochs: 8000, batch_size: 32, optimizer: adam, learning_rate: 0.003, early_stopping: false, seed: 7 }
`;
const linear = (seed: number) => `name: e2e
task: regression
data: { dataset: housing, label: MEDV, split: { eval: 0.2, seed: ${seed} } }
model: { family: linear }
`;
/** The first row of the housing data, by column. */
const ROW: Record<string, number> = { CRIM: 0.00632, ZN: 18, INDUS: 2.31, CHAS: 0, NOX: 0.538, RM: 6.575, AGE: 65.2, DIS: 4.09, RAD: 1, TAX: 296, PTRATIO: 15.3, B: 396.9, LSTAT: 4.98 };

let pg: TestPostgres | undefined;
let s3: TestS3 | undefined;
let storeUrl: string;
const artifactsUrl = 's3://atelier/team';
/** What every process gets: the S3 settings, and no URL from the environment of the test runner. */
let s3Env: Record<string, string>;
/** The URLs as a machine of the team gets them: the environment. */
let teamEnv: Record<string, string>;
/** The folder `atelier init` made: where people submit jobs and promote. */
let team: string;
const children: ChildProcess[] = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A long-running `atelier` command in an empty folder of its own, given only the team's URLs and S3 settings. */
function startIn(args: string[]): LoggedProcess {
  const started = startLogged(args, { cwd: tempDir('atelier-machine-'), env: teamEnv });
  children.push(started.child);
  return started;
}

/** A command in the team folder (its atelier.yaml holds the URLs). */
const inTeam = (args: string[]): Promise<CliResult> => cli(args, { cwd: team, env: s3Env });

async function ok(args: string[]): Promise<any> {
  const result = await inTeam([...args, '--json']);
  assert.equal(result.code, 0, `atelier ${args.join(' ')}: ${result.stderr}`);
  return result.json;
}

async function submit(args: string[]): Promise<string> {
  const result = await inTeam([...args, '--queue', '--detach']);
  assert.equal(result.code, 0, `atelier ${args.join(' ')} --queue --detach: ${result.stderr}`);
  assert.match(result.stdout, /^[0-9a-f-]{36}\n$/);
  return result.stdout.trim();
}

/** Every job on the queue (newest first), all pages. */
async function allJobs(): Promise<any[]> {
  const jobs: any[] = [];
  let cursor: string | null = null;
  do {
    const page: any = await ok(['jobs', 'list', '--limit', '100', ...(cursor ? ['--cursor', cursor] : [])]);
    jobs.push(...page.items);
    cursor = page.next;
  } while (cursor);
  return jobs;
}

const FINAL = ['completed', 'cancelled', 'failed'];

before(async () => {
  pg = await startPostgres();
  if (!pg) return;
  s3 = await startS3(['atelier']);
  storeUrl = pg.url;
  s3Env = { ...s3.env, ATELIER_STORE_URL: '', ATELIER_ARTIFACTS_URL: '', ATELIER_QUEUE_URL: '' };
  teamEnv = { ...s3Env, ATELIER_STORE_URL: storeUrl, ATELIER_ARTIFACTS_URL: artifactsUrl };
  // docs/team.md, "The store URL": init records both URLs in atelier.yaml.
  const home = tempDir('atelier-team-');
  const init = await cli(['init', 'team', '--store', storeUrl, '--artifacts', artifactsUrl], { cwd: home, env: s3Env });
  assert.equal(init.code, 0, init.stderr);
  team = join(home, 'team');
  await ok(['data', 'import', HOUSING, '--name', 'housing']);
});

after(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  await s3?.stop();
  await pg?.stop();
});

describe('a team: PostgreSQL store, S3 artifacts, three workers, two serving replicas', () => {
  const skip = () => (pg ? undefined : 'PostgreSQL is not installed here (no /usr/lib/postgresql/N/bin, no ATELIER_TEST_PG_URL)');
  let latest = 0;

  test('30 jobs on three workers in separate folders, one killed with kill -9 mid-training: each completes exactly once', { timeout: 600_000 }, async (t) => {
    if (skip()) return t.skip(skip());
    // Version 1, trained in place, is production: what the batch prediction and the replicas use.
    writeFileSync(join(team, 'e2e-0.yaml'), linear(0));
    for (let seed = 1; seed <= CHEAP_TRAININGS; seed++) writeFileSync(join(team, `e2e-${seed}.yaml`), linear(seed));
    writeFileSync(join(team, 'slow.yaml'), SLOW);
    assert.equal((await ok(['train', 'e2e-0.yaml'])).version, 1);
    await ok(['models', 'promote', 'e2e@1', '--force', '--reason', 'e2e baseline']);

    // A short lease, so the killed worker's job is taken again within seconds.
    const workers = Array.from({ length: 3 }, () => startIn(['worker', '--concurrency', '1', '--lease', '5']));
    await Promise.all(workers.map((w) => w.waitFor(/takes train/)));

    const slow = await submit(['train', 'slow.yaml']);
    // The victim: the worker running the slow training, once its run has logged progress.
    const killing = (async () => {
      for (;;) {
        const job = await ok(['jobs', 'show', slow]);
        assert.ok(!FINAL.includes(job.state), `the slow training ended before it was caught running: ${JSON.stringify(job)}`);
        if (job.state === 'active' && job.worker !== null && job.progress !== null) {
          const victim = workers.find((w) => job.worker.endsWith(`:${w.pid}`));
          assert.ok(victim, `job runs on ${job.worker}, none of the workers ${workers.map((w) => w.pid).join(', ')}`);
          victim.child.kill('SIGKILL');
          await victim.exited;
          return victim;
        }
        await sleep(300);
      }
    })();
    const cheap: string[] = [];
    const others: string[] = [];
    for (let seed = 1; seed <= CHEAP_TRAININGS; seed += 3) {
      const batch = [seed, seed + 1, seed + 2].filter((s) => s <= CHEAP_TRAININGS);
      cheap.push(...(await Promise.all(batch.map((s) => submit(['train', `e2e-${s}.yaml`])))));
    }
    others.push(await submit(['pipeline', 'run', join(ROOT, 'examples', 'pipelines', 'housing.yaml')]));
    others.push(await submit(['predict', 'e2e', '--input', HOUSING, '--output', join(team, 'scored.csv')]));
    const victim = await killing;
    const ids = [slow, ...cheap, ...others];
    assert.equal(ids.length, 30);
    assert.equal(new Set(ids).size, 30);

    let jobs: any[];
    for (;;) {
      jobs = (await allJobs()).filter((j) => ids.includes(j.id));
      if (jobs.length === ids.length && jobs.every((j) => FINAL.includes(j.state))) break;
      await sleep(2000);
    }
    const byId = new Map(jobs.map((j) => [j.id, j]));
    const notCompleted = jobs.filter((j) => j.state !== 'completed').map((j) => `${j.title}: ${j.state} ${JSON.stringify(j.error)}`);
    assert.deepEqual(notCompleted, []);

    // The killed job was retried by another worker, and finished there.
    const retried = byId.get(slow)!;
    assert.ok(retried.attempts >= 2, `attempts ${retried.attempts}`);
    assert.ok(!retried.worker.endsWith(`:${victim.pid}`), `finished on ${retried.worker}, the killed worker`);
    assert.equal(retried.result.model, 'e2e-slow');

    // Exactly once: one version per training job, one run per version.
    const versions = (await ok(['models', 'versions', 'e2e'])).versions as any[];
    assert.equal(versions.length, 1 + CHEAP_TRAININGS);
    const runIds = versions.map((v) => v.runId);
    assert.equal(new Set(runIds).size, runIds.length, `a run registered twice: ${runIds.join(' ')}`);
    const registered = cheap.map((id) => byId.get(id)!.result.version).sort((a, b) => a - b);
    assert.deepEqual(registered, Array.from({ length: CHEAP_TRAININGS }, (_v, i) => i + 2));
    assert.deepEqual(
      cheap.map((id) => byId.get(id)!.result.run).sort(),
      versions.filter((v) => v.version > 1).map((v) => v.runId).sort(),
    );
    const slowVersions = (await ok(['models', 'versions', 'e2e-slow'])).versions as any[];
    assert.deepEqual(slowVersions.map((v) => v.runId), [retried.result.run]);

    // docs/team.md, "The store URL": the same registry from the team folder and, with the
    // environment's URLs, from a folder with nothing in it.
    const listed = await ok(['models', 'list']);
    assert.deepEqual(listed.models.map((m: any) => m.name).sort(), ['e2e', 'e2e-slow', 'houses']);
    const elsewhere = await cli(['models', 'list', '--json'], { cwd: tempDir('atelier-machine-'), env: teamEnv });
    assert.equal(elsewhere.code, 0, elsewhere.stderr);
    assert.deepEqual(elsewhere.json, listed);

    const [pipeline, predict] = others.map((id) => byId.get(id)!);
    assert.equal(pipeline.result.status, 'succeeded');
    assert.equal(pipeline.result.model.name, 'houses');
    assert.equal((await ok(['models', 'versions', 'houses'])).versions.length, 1);
    assert.equal(predict.result.rows, 506);
    assert.equal(predict.result.version, 1);

    // Workers stop cleanly on SIGTERM.
    for (const w of workers.filter((w) => w !== victim)) {
      w.child.kill('SIGTERM');
      assert.equal(await w.exited, 0, w.log());
    }
    latest = Math.max(...versions.map((v) => v.version));
  });

  test('two serving replicas in separate folders follow a promotion with zero failed requests', { timeout: 300_000 }, async (t) => {
    if (skip()) return t.skip(skip());
    assert.ok(latest > 1, 'the jobs test registered the versions');
    const urls: string[] = [];
    for (let i = 0; i < 2; i++) {
      // docs/team.md, "Serving replicas": the URLs as flags this time, in a folder with nothing in it.
      const started = await startCli(['--store', storeUrl, '--artifacts', artifactsUrl, 'serve', '--port', String(await freePort()), '--json'], { cwd: tempDir('atelier-replica-'), env: s3Env });
      children.push(started.child);
      urls.push(started.json.url);
    }
    // The v2 request in the datatypes the model's metadata asks for (CHAS is INT64, RM FP64...).
    const metadata = await request(`${urls[0]}/v2/models/e2e`);
    assert.equal(metadata.status, 200, metadata.text);
    const body = { inputs: metadata.body.inputs.map((input: any) => ({ name: input.name, shape: [1], datatype: input.datatype, data: [ROW[input.name]] })) };
    await replicasFollow(urls, {
      model: 'e2e',
      body,
      from: '1',
      to: String(latest),
      promote: async () => {
        await ok(['models', 'promote', `e2e@${latest}`, '--force', '--reason', 'e2e: the newest version']);
      },
    });
  });
});

