/**
 * `atelier worker`: takes jobs from the team queue and runs each in its own process.
 *
 * Leases. pg-boss fails an active job whose `started_on + expire_in` has passed (its maintenance,
 * which every worker runs, at most one at a time), and its retry policy puts the job back. A job
 * is submitted with a short expire_in (the lease); the worker running it renews it every third of
 * the lease by pushing expire_in to "now + lease". A worker killed with kill -9 stops renewing,
 * so within a lease and a maintenance interval another worker gets the job. Every renewal is
 * guarded by the attempt (pg-boss's retry_count, which each fetch of a retried job raises): a worker whose job was expired and taken by another (or
 * cancelled) finds nothing to renew, stops its attempt and reports nothing. A worker that cannot
 * reach PostgreSQL for a whole lease stops its attempt too, before anyone else may take the job,
 * so two attempts of a job do not run side by side. Completing and failing go through the same
 * guard, in one transaction with pg-boss's own complete/fail.
 */
import type PgBoss from 'pg-boss';
import { currentHost } from '../core/identity.js';
import { shareOfCores } from '../core/threads.js';
import type { Workspace } from '../core/workspace.js';
import { runInChild, type ChildOutcome, type RunningChild } from './run-in-child.js';
import { PgJobQueue, queueName } from './pg-queue.js';
import { isRetryable, type JobKind } from './types.js';

export interface WorkerOptions {
  concurrency: number;
  kinds: JobKind[];
  /** Seconds a job stays leased without a renewal (default 30). */
  leaseSeconds: number;
  /** How often an idle worker asks for work, in ms (default 500). */
  pollMs?: number;
  /** One line per job (and per outage): the worker's log. */
  log: (line: string) => void;
  /** How a job is run (default: in its own process); the queue bench runs no-op jobs in place. */
  runner?: typeof runInChild;
}

interface Lease {
  kind: JobKind;
  id: string;
  title: string;
  attempt: number;
  maxAttempts: number;
  child?: RunningChild;
  lastRenewed: number;
  progress: string | null;
  lost?: string;
  started: number;
}

type Fetched = PgBoss.JobWithMetadata<{ kind: JobKind; title: string; payload: unknown }>;

/** An idle worker checks the database this often, so an outage is noticed (and reported) without work. */
const PING_EVERY_MS = 5_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class TeamWorker {
  readonly name = `${currentHost()}:${process.pid}`;
  private readonly leases = new Map<string, Lease>();
  private stopping = false;
  private loop?: Promise<void>;
  private outage: string | undefined;
  private readonly threads: number;
  private renewTimer?: NodeJS.Timeout;
  private readonly done = new Set<Promise<void>>();
  private wakeUp?: () => void;
  /** A slot came free since the loop last looked: fetch again rather than sleep. */
  private freed = false;
  /** Set once the grace period is over: why running jobs are being handed back. */
  private handingBack: string | undefined;
  private lastPing = Date.now();
  private renewing = false;

  private constructor(
    private readonly queue: PgJobQueue,
    private readonly workspace: Workspace,
    private readonly options: WorkerOptions,
  ) {
    this.threads = shareOfCores(options.concurrency);
  }

  static async start(url: string, workspace: Workspace, options: WorkerOptions): Promise<TeamWorker> {
    const queue = await PgJobQueue.open(url, {
      maintenanceIntervalSeconds: Math.max(1, Math.round(options.leaseSeconds / 2)),
      queryTimeoutMs: Math.min(10_000, Math.max(1_000, (options.leaseSeconds * 1000) / 2)),
    });
    const worker = new TeamWorker(queue, workspace, options);
    worker.loop = worker.run();
    worker.renewTimer = setInterval(() => void worker.renewAll(), Math.max(200, (options.leaseSeconds * 1000) / 3));
    return worker;
  }

  get running(): number {
    return this.leases.size;
  }

  /** Says once that the queue is gone, and once that it is back. */
  private connection(error?: unknown): void {
    if (error) {
      const message = (error as Error).message || String(error);
      if (!this.outage) this.options.log(`worker ${this.name}: lost the job queue ${this.queue.where} (${message}); retrying`);
      this.outage ??= message;
    } else if (this.outage) {
      this.outage = undefined;
      this.options.log(`worker ${this.name}: the job queue ${this.queue.where} is back`);
    }
  }

  private async run(): Promise<void> {
    const pollMs = this.options.pollMs ?? 500;
    let turn = 0;
    while (!this.stopping) {
      this.freed = false;
      const free = this.options.concurrency - this.leases.size;
      let got = 0;
      if (free > 0) {
        // Each kind in turn first, so one busy queue does not starve the others.
        const kinds = this.options.kinds.map((_k, i) => this.options.kinds[(i + turn) % this.options.kinds.length]!);
        turn++;
        for (const kind of kinds) {
          const room = this.options.concurrency - this.leases.size;
          if (room <= 0 || this.stopping) break;
          const jobs = await this.fetch(kind, room);
          got += jobs.length;
          // Started side by side: the lease is counted at once, its first renewal need not hold up the next fetch.
          for (const job of jobs) this.track(this.begin(kind, job));
        }
      }
      if (got === 0 && !this.freed) await this.nap(pollMs);
    }
  }

  /** Waits for the next poll, or less: a job that ends frees a slot and wakes the loop. */
  private nap(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** pg-boss's fetch swallows errors (it returns no jobs); a ping tells an outage from an empty queue. */
  private async fetch(kind: JobKind, room: number): Promise<Fetched[]> {
    const jobs = (await this.queue.boss.fetch(queueName(kind), { batchSize: room, includeMetadata: true })) as Fetched[];
    if (jobs.length > 0) {
      this.connection();
      return jobs;
    }
    if (this.outage || Date.now() - this.lastPing > PING_EVERY_MS) {
      this.lastPing = Date.now();
      try {
        await this.queue.pool.query('SELECT 1');
        this.connection();
      } catch (error) {
        this.connection(error);
      }
    }
    return [];
  }

  private async begin(kind: JobKind, job: Fetched): Promise<void> {
    const lease: Lease = {
      kind,
      id: job.id,
      title: job.data.title,
      attempt: job.retryCount + 1,
      maxAttempts: job.retryLimit + 1,
      lastRenewed: Date.now(),
      progress: null,
      started: performance.now(),
    };
    this.leases.set(job.id, lease);
    try {
      // The attempt's row and the first renewal in one round trip.
      await this.queue.pool.query(
        `WITH attempt AS (
           INSERT INTO atelier_jobs.attempt (job_id, attempt, worker, started_at) VALUES ($2, $6, $5, now())
           ON CONFLICT (job_id, attempt) DO UPDATE SET worker = EXCLUDED.worker, started_at = EXCLUDED.started_at, heartbeat_at = now())
         UPDATE pgboss.job SET expire_in = (now() - started_on) + make_interval(secs => $4)
         WHERE name = $1 AND id = $2 AND state = 'active' AND retry_count = $3`,
        [queueName(kind), job.id, lease.attempt - 1, this.options.leaseSeconds, this.name, lease.attempt],
      );
    } catch (error) {
      this.connection(error);
    }
    if (this.handingBack) return this.end(lease, { ok: false, error: { code: 'WORKER_STOPPED', message: this.handingBack } });
    lease.child = (this.options.runner ?? runInChild)(this.workspace, { id: job.id, kind, payload: job.data.payload, attempt: lease.attempt }, {
      threads: this.threads,
      onProgress: (line) => (lease.progress = line),
    });
    await this.end(lease, await lease.child.outcome);
  }

  /** Keeps a job's promise until it ends, so stop() can wait for it. */
  private track(job: Promise<void>): void {
    this.done.add(job);
    void job.finally(() => this.done.delete(job));
  }

  /** Pushes the lease to now + lease seconds, if this attempt still holds the job. */
  private async renew(lease: Lease): Promise<boolean> {
    const { rowCount } = await this.queue.pool.query(
      `WITH renewed AS (
         UPDATE pgboss.job SET expire_in = (now() - started_on) + make_interval(secs => $4)
         WHERE name = $1 AND id = $2 AND state = 'active' AND retry_count = $3 RETURNING id)
       UPDATE atelier_jobs.attempt SET heartbeat_at = now(), progress = $5
       WHERE job_id = $2 AND attempt = $6 AND EXISTS (SELECT 1 FROM renewed)`,
      [queueName(lease.kind), lease.id, lease.attempt - 1, this.options.leaseSeconds, lease.progress, lease.attempt],
    );
    return (rowCount ?? 0) > 0;
  }

  private async renewAll(): Promise<void> {
    // One pass at a time: a pass stuck on a dead connection must not pile up behind itself.
    if (this.renewing) return;
    this.renewing = true;
    try {
      await this.renewEach();
    } finally {
      this.renewing = false;
    }
  }

  private async renewEach(): Promise<void> {
    for (const lease of this.leases.values()) {
      if (lease.lost) continue;
      try {
        if (await this.renew(lease)) {
          lease.lastRenewed = Date.now();
          this.connection();
          continue;
        }
        const state = (await this.queue.get(lease.id))?.state;
        this.abandon(lease, state === 'cancelled' ? 'cancelled' : `lost its lease (the job is ${state ?? 'gone'})`);
      } catch (error) {
        this.connection(error);
        if (Date.now() - lease.lastRenewed >= this.options.leaseSeconds * 1000) {
          this.abandon(lease, `could not renew its lease for ${this.options.leaseSeconds} s; another worker may take it`);
        }
      }
    }
  }

  /** Stops an attempt this worker no longer holds; nothing of it is reported to the queue. */
  private abandon(lease: Lease, why: string): void {
    lease.lost = why;
    lease.child?.stop(why);
  }

  private async end(lease: Lease, outcome: ChildOutcome): Promise<void> {
    const seconds = ((performance.now() - lease.started) / 1000).toFixed(1);
    const what = `${lease.id} ${lease.title} (attempt ${lease.attempt}/${lease.maxAttempts})`;
    if (lease.lost) {
      this.leases.delete(lease.id);
      this.wake();
      this.options.log(`${lease.lost === 'cancelled' ? 'cancelled' : 'abandoned'} ${what} after ${seconds} s: ${lease.lost}`);
      return;
    }
    // PostgreSQL may be restarting: keep trying to report until the lease would have lapsed.
    for (;;) {
      try {
        const reported = await this.settle(lease, outcome);
        const line = outcome.ok
          ? `completed ${what} in ${seconds} s`
          : `failed ${what} after ${seconds} s: ${outcome.error.message}${lease.attempt < lease.maxAttempts && isRetryable(outcome.error) ? ' (will be retried)' : ''}`;
        this.options.log(reported ? line : `abandoned ${what} after ${seconds} s: lost its lease before reporting`);
        this.connection();
        break;
      } catch (error) {
        this.connection(error);
        if (Date.now() - lease.lastRenewed >= this.options.leaseSeconds * 1000) {
          this.options.log(`abandoned ${what} after ${seconds} s: could not report it to the queue; it will be retried`);
          break;
        }
        await sleep(500);
      }
    }
    this.leases.delete(lease.id);
    this.wake();
  }

  private wake(): void {
    this.freed = true;
    this.wakeUp?.();
  }

  /** Completes or fails the attempt through pg-boss, in one transaction with the lease check. */
  private async settle(lease: Lease, outcome: ChildOutcome): Promise<boolean> {
    const client = await this.queue.pool.connect();
    try {
      await client.query('BEGIN');
      // The lease check (the row locked until COMMIT) and the attempt's record in one statement.
      const held = await client.query(
        `WITH held AS (SELECT id FROM pgboss.job WHERE name = $1 AND id = $2 AND state = 'active' AND retry_count = $3 FOR UPDATE)
         INSERT INTO atelier_jobs.attempt (job_id, attempt, worker, ended_at, outcome, progress)
         SELECT id, $4, $5, now(), $6, $7 FROM held
         ON CONFLICT (job_id, attempt) DO UPDATE SET ended_at = now(), outcome = EXCLUDED.outcome, progress = EXCLUDED.progress`,
        [queueName(lease.kind), lease.id, lease.attempt - 1, lease.attempt, this.name, outcome.ok ? 'completed' : 'failed', lease.progress],
      );
      if (held.rowCount === 0) {
        await client.query('ROLLBACK');
        return false;
      }
      const db = { executeSql: (text: string, values: unknown[]) => client.query(text, values) };
      const name = queueName(lease.kind);
      if (outcome.ok) await this.queue.boss.complete(name, lease.id, (outcome.result ?? {}) as object, { db });
      else {
        // No retries left for an error that would only repeat (see isRetryable).
        if (!isRetryable(outcome.error)) await client.query(`UPDATE pgboss.job SET retry_limit = retry_count WHERE name = $1 AND id = $2`, [name, lease.id]);
        await this.queue.boss.fail(name, lease.id, outcome.error as unknown as object, { db });
      }
      await client.query('COMMIT');
      return true;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  }

  /**
   * Stops taking jobs; running ones get `graceSeconds` to finish, then are stopped and handed
   * back (failed through pg-boss, whose retry policy queues them again).
   */
  async stop(graceSeconds: number): Promise<void> {
    this.stopping = true;
    this.wake();
    await this.loop;
    const deadline = Date.now() + graceSeconds * 1000;
    while (this.leases.size > 0 && Date.now() < deadline) await sleep(100);
    this.handingBack = `worker ${this.name} stopped before the job finished`;
    for (const lease of this.leases.values()) lease.child?.stop(this.handingBack);
    await Promise.all([...this.done]);
    clearInterval(this.renewTimer);
    await this.queue.close();
  }
}
