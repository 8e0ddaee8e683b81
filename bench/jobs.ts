/**
 * The job queue: 1,000 small jobs through pg-boss with 3 workers.
 *
 *   node --import tsx bench/jobs.ts
 *     JOBS=1000  WORKERS=3  CONCURRENCY=4 (jobs at a time per worker)  TRICKLE=200 (jobs)  RATE=20 (jobs/s)
 *     ATELIER_BENCH_PG_URL=postgres://... (else a throwaway cluster, as the tests start one)
 *
 * Three worker processes (bench/jobs-worker.ts: the real TeamWorker, with jobs that do nothing,
 * so the figures are the queue's: fetch, lease, renewal, guarded completion) take jobs submitted
 * through PgJobQueue.submit, the path `--queue` uses.
 *  - burst: SUBMITTERS clients (default 8) submit JOBS jobs as fast as they can (submissions a
 *    second), then the workers start; throughput = jobs / (last completion - first start), and
 *    the queue's overhead a job = that span / jobs (no-op jobs: all of it is the queue's).
 *  - trickle: TRICKLE jobs at RATE a second onto idle workers; submit-to-start delay (pg-boss's
 *    created_on to started_on, both the database's clock): p50, p95, max. Target: a worker
 *    starts a job within 1 s of its submission; queue overhead under 10 ms a job.
 * A real job also pays for its own process (fork, loading the workspace): see docs/jobs.md.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { PgJobQueue } from '../src/jobs/pg-queue.js';
import { startPostgres } from '../test/services/postgres.js';

const JOBS = Number(process.env.JOBS ?? 1000);
const WORKERS = Number(process.env.WORKERS ?? 3);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 4);
const TRICKLE = Number(process.env.TRICKLE ?? 200);
const RATE = Number(process.env.RATE ?? 20);

const server = process.env.ATELIER_BENCH_PG_URL ? undefined : await startPostgres();
const SUBMITTERS = Number(process.env.SUBMITTERS ?? 8);
const url = process.env.ATELIER_BENCH_PG_URL || server?.url;
if (!url) throw new Error('no PostgreSQL: install Debian\'s postgresql or set ATELIER_BENCH_PG_URL');

const queue = await PgJobQueue.open(url);
const db = new pg.Client({ connectionString: url });
await db.connect();

const workers: ChildProcess[] = [];
for (let i = 0; i < WORKERS; i++) {
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'jobs-worker.ts'), url, String(CONCURRENCY)], { stdio: ['pipe', 'pipe', 'inherit'] });
  workers.push(child);
  await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
}

const request = (i: number) => ({ kind: 'evaluate' as const, title: `no-op ${i}`, payload: { model: 'none@1' } });

async function waitAll(ids: string[]): Promise<void> {
  for (;;) {
    const { rows } = await db.query(`SELECT count(*)::int AS n FROM pgboss.job WHERE id = ANY($1::uuid[]) AND state = 'completed'`, [ids]);
    if (rows[0].n === ids.length) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function timings(ids: string[]) {
  const { rows } = await db.query(
    `SELECT EXTRACT(epoch FROM started_on - created_on) * 1000 AS delay, EXTRACT(epoch FROM completed_on) * 1000 AS done, EXTRACT(epoch FROM started_on) * 1000 AS started
     FROM pgboss.job WHERE id = ANY($1::uuid[])`,
    [ids],
  );
  const delays = rows.map((r) => Number(r.delay)).sort((a, b) => a - b);
  const pct = (p: number) => delays[Math.min(delays.length - 1, Math.floor((p / 100) * delays.length))]!;
  const span = Math.max(...rows.map((r) => Number(r.done))) - Math.min(...rows.map((r) => Number(r.started)));
  return { p50: pct(50), p95: pct(95), max: delays.at(-1)!, span };
}

const load = () => loadavg()[0]!.toFixed(1);

// Burst: SUBMITTERS clients submit JOBS jobs between them as fast as they can.
const submitStarted = performance.now();
const burst: string[] = [];
let next = 0;
await Promise.all(
  Array.from({ length: SUBMITTERS }, async () => {
    while (next < JOBS) burst.push((await queue.submit(request(next++))).id);
  }),
);
const submitS = (performance.now() - submitStarted) / 1000;
// The workers start taking jobs once every job is in, so the span below is the queue's work alone.
for (const w of workers) w.stdin!.write('go\n');
await waitAll(burst);
const b = await timings(burst);
const throughput = JOBS / (b.span / 1000);
const perJob = b.span / JOBS;
console.log(
  `burst: ${JOBS} jobs from ${SUBMITTERS} submitters (${(JOBS / submitS).toFixed(0)} submissions/s), ${WORKERS} workers x ${CONCURRENCY}: ` +
    `${throughput.toFixed(0)} jobs/s from the first start to the last completion (${(b.span / 1000).toFixed(2)} s), ${perJob.toFixed(2)} ms a job; ` +
    `load ${load()}`,
);

// Trickle onto idle workers.
const trickle: string[] = [];
for (let i = 0; i < TRICKLE; i++) {
  const at = performance.now();
  trickle.push((await queue.submit(request(i))).id);
  await new Promise((r) => setTimeout(r, Math.max(0, 1000 / RATE - (performance.now() - at))));
}
await waitAll(trickle);
const t = await timings(trickle);
console.log(`trickle: ${TRICKLE} jobs at ${RATE}/s: submit-to-start p50 ${t.p50.toFixed(0)} ms, p95 ${t.p95.toFixed(0)} ms, max ${t.max.toFixed(0)} ms; load ${load()}`);
console.log(`targets: start within 1 s ${t.max <= 1000 ? 'met' : 'MISSED'} (max ${t.max.toFixed(0)} ms); overhead under 10 ms a job ${perJob < 10 ? 'met' : 'MISSED'} (${perJob.toFixed(2)} ms)`);

for (const w of workers) w.kill('SIGTERM');
await Promise.all(workers.map((w) => new Promise((r) => w.once('close', r))));
await db.end();
await queue.close();
await server?.stop();
