/**
 * The team queue: pg-boss on the store's PostgreSQL (one pg-boss queue per job kind, named
 * atelier-<kind>). pg-boss owns delivery, retries (retryLimit, retryDelay), expiry and
 * cancellation; this module adds the reads `atelier jobs` needs (one query over pg-boss's job and
 * archive tables, newest first, cursor-paged) and the attempts table (atelier_jobs.attempt: which
 * worker runs an attempt, its last progress line and heartbeat). Leases: see pg-worker.ts.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import PgBoss from 'pg-boss';
import { AtelierError } from '../core/errors.js';
import { currentUser } from '../core/identity.js';
import { redactUrl } from '../core/workspace.js';
import {
  DEFAULT_RETRY_DELAY_SECONDS,
  DEFAULT_RETRY_LIMIT,
  JOB_KINDS,
  jobRunId,
  type JobError,
  type JobFilter,
  type JobInfo,
  type JobKind,
  type JobQueue,
  type JobRequest,
  type JobState,
  type Page,
} from './types.js';
import { DEFAULT_PAGE } from './page.js';

export const QUEUE_PREFIX = 'atelier-';
export const queueName = (kind: JobKind) => `${QUEUE_PREFIX}${kind}`;
/** What a job holds before a worker first renews it: long enough for the worker's first renewal. */
export const DEFAULT_LEASE_SECONDS = 30;

/** What pg-boss keeps in a job's data. */
interface JobData {
  kind: JobKind;
  title: string;
  payload: unknown;
  submittedBy: string;
}

export interface PgQueueOptions {
  /** Workers run pg-boss's maintenance (expiring lapsed leases) this often; submitters run none. */
  maintenanceIntervalSeconds?: number;
  /** A query that takes longer is given up (a dead connection must not hang a lease's renewal). */
  queryTimeoutMs?: number;
}

/** Turns a connection failure into one line naming the URL (password hidden) and the cause. */
export function unreachable(url: string, error: unknown): AtelierError {
  const e = error as { message?: string; code?: string; errors?: { message: string }[] };
  const cause = e.errors?.[0]?.message ?? e.message ?? String(error);
  return new AtelierError('QUEUE_UNREACHABLE', `job queue ${redactUrl(url)}: cannot use it (${cause})`, { url: redactUrl(url) });
}

const SCHEMA_SQL = `
  CREATE SCHEMA IF NOT EXISTS atelier_jobs;
  CREATE TABLE IF NOT EXISTS atelier_jobs.attempt (
    job_id uuid NOT NULL,
    attempt integer NOT NULL,
    worker text NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now(),
    progress text,
    ended_at timestamptz,
    outcome text,
    PRIMARY KEY (job_id, attempt)
  );`;

const JOB_COLUMNS = 'id, name, data, state::text AS state, retry_count, retry_limit, created_on, created_on::text AS created_key, started_on, completed_on, output';

/** pg-boss's output of a failed job: our {code, message}, its timeout note, or a serialized Error. */
function errorOf(output: any): JobError {
  if (output && typeof output.code === 'string' && typeof output.message === 'string') return { code: output.code, message: output.message, ...(output.facts ? { facts: output.facts } : {}) };
  const message = output?.value?.message ?? output?.message ?? JSON.stringify(output);
  if (/failed by timeout/.test(String(message))) return { code: 'LEASE_EXPIRED', message: 'its worker stopped renewing the lease (killed, or cut off from the queue)' };
  return { code: 'INTERNAL', message: String(message) };
}

const iso = (d: Date | null) => (d ? new Date(d).toISOString() : null);

function infoOf(row: any): JobInfo {
  const data = row.data as JobData;
  const state = row.state as JobState;
  const attempts = row.started_on ? Number(row.retry_count) + 1 : 0;
  return {
    id: row.id,
    kind: data.kind,
    title: data.title,
    state,
    attempts,
    maxAttempts: Number(row.retry_limit) + 1,
    submittedBy: data.submittedBy,
    createdAt: iso(row.created_on)!,
    startedAt: iso(row.started_on),
    endedAt: iso(row.completed_on),
    worker: row.worker ?? null,
    progress: row.progress ?? null,
    heartbeatAt: iso(row.heartbeat_at),
    runId: attempts > 0 && (data.kind === 'train' || data.kind === 'tuning-trial') ? jobRunId(row.id, attempts) : null,
    result: state === 'completed' ? (row.output ?? null) : null,
    error: state !== 'completed' && row.output ? errorOf(row.output) : null,
  };
}

export class PgJobQueue implements JobQueue {
  readonly where: string;

  private constructor(
    readonly url: string,
    readonly boss: PgBoss,
    /** Our own connections: reads of the job tables, attempts, guarded completion. */
    readonly pool: pg.Pool,
  ) {
    this.where = redactUrl(url);
  }

  /** Connects, installs pg-boss's schema and ours if needed, and makes sure every kind has its queue. */
  static async open(url: string, options: PgQueueOptions = {}): Promise<PgJobQueue> {
    const worker = options.maintenanceIntervalSeconds !== undefined;
    const boss = new PgBoss({
      connectionString: url,
      max: 4,
      schedule: false,
      supervise: worker,
      ...(worker ? { maintenanceIntervalSeconds: options.maintenanceIntervalSeconds } : {}),
    });
    // Connection errors of idle clients (PostgreSQL restarted) surface as events, not crashes.
    boss.on('error', () => {});
    const pool = new pg.Pool({ connectionString: url, max: 4, connectionTimeoutMillis: 10_000, query_timeout: options.queryTimeoutMs ?? 30_000 });
    pool.on('error', () => {});
    try {
      await boss.start();
      const client = await pool.connect();
      let broken = false;
      try {
        // One process at a time installs our tables and creates the queues: pg-boss's create_queue
        // attaches a partition to pgboss.job, and two processes doing that at once deadlock (three
        // workers started together on a fresh database did). A session lock, since createQueue
        // runs on pg-boss's own connections; it goes away with the connection if we cannot unlock.
        await client.query("SELECT pg_advisory_lock(hashtext('atelier_jobs'))");
        await client.query('BEGIN');
        await client.query(SCHEMA_SQL);
        await client.query('COMMIT');
        for (const kind of JOB_KINDS) {
          if (!(await boss.getQueue(queueName(kind)))) {
            await boss.createQueue(queueName(kind), { name: queueName(kind), retryLimit: DEFAULT_RETRY_LIMIT, retryDelay: DEFAULT_RETRY_DELAY_SECONDS, expireInSeconds: DEFAULT_LEASE_SECONDS });
          }
        }
        await client.query("SELECT pg_advisory_unlock(hashtext('atelier_jobs'))");
      } catch (error) {
        broken = true;
        throw error;
      } finally {
        client.release(broken);
      }
    } catch (error) {
      await boss.stop({ graceful: false, wait: false }).catch(() => {});
      await pool.end().catch(() => {});
      throw unreachable(url, error);
    }
    return new PgJobQueue(url, boss, pool);
  }

  async submit(request: JobRequest): Promise<JobInfo> {
    const data: JobData = { kind: request.kind, title: request.title, payload: request.payload, submittedBy: currentUser() };
    const o = request.options ?? {};
    const retryLimit = o.retryLimit ?? DEFAULT_RETRY_LIMIT;
    const id = await this.boss.send(queueName(request.kind), data as unknown as object, {
      id: randomUUID(),
      retryLimit,
      retryDelay: o.retryDelaySeconds ?? DEFAULT_RETRY_DELAY_SECONDS,
      expireInSeconds: DEFAULT_LEASE_SECONDS,
      ...(o.singletonKey ? { singletonKey: o.singletonKey } : {}),
    });
    if (!id) {
      // pg-boss refused it as a duplicate of its singleton key: the job already there is the answer.
      const existing = await this.pool.query(`SELECT id FROM pgboss.job WHERE name = $1 AND singleton_key = $2 ORDER BY created_on DESC LIMIT 1`, [queueName(request.kind), o.singletonKey ?? null]);
      if (existing.rows[0]) return this.getOrFail(existing.rows[0].id);
      throw new AtelierError('QUEUE_UNREACHABLE', `job queue ${this.where}: the ${request.kind} job was not accepted`);
    }
    // As just written (one round trip per submission; `get` reads it back with what happened since).
    return infoOf({ id, data, state: 'created', retry_count: 0, retry_limit: retryLimit, created_on: new Date(), started_on: null, completed_on: null, output: null });
  }

  /** Jobs and archived jobs with their latest attempt; raw rows (created_key is the cursor's). */
  private async query(where: string, values: unknown[], tail = ''): Promise<any[]> {
    const sql = `
      SELECT j.*, a.worker, a.progress, a.heartbeat_at -- the latest attempt's row (each delivery raises retry_count)
      FROM (SELECT ${JOB_COLUMNS} FROM pgboss.job WHERE name LIKE '${QUEUE_PREFIX}%'
            UNION ALL SELECT ${JOB_COLUMNS} FROM pgboss.archive WHERE name LIKE '${QUEUE_PREFIX}%') j
      LEFT JOIN atelier_jobs.attempt a ON a.job_id = j.id AND a.attempt = j.retry_count + 1
      WHERE ${where} ${tail}`;
    return (await this.pool.query(sql, values)).rows;
  }

  async get(id: string): Promise<JobInfo | undefined> {
    if (!/^[0-9a-f-]{36}$/i.test(id)) return undefined;
    const row = (await this.query('j.id = $1', [id]))[0];
    return row ? infoOf(row) : undefined;
  }

  async list(filter: JobFilter = {}): Promise<Page<JobInfo>> {
    const limit = filter.limit ?? DEFAULT_PAGE;
    if (filter.cursor !== undefined && !/^\d{4}-\d\d-\d\d [\d:.]+[+-]\d\d(:\d\d)?\|[0-9a-f-]{36}$/.test(filter.cursor)) {
      throw new AtelierError('USAGE', `cursor "${filter.cursor}" is not one that \`atelier jobs list\` printed`, { field: 'cursor' });
    }
    const [key, id] = filter.cursor ? filter.cursor.split('|') : [null, null];
    const rows = await this.query(
      `($1::text IS NULL OR j.state::text = $1) AND ($2::text IS NULL OR j.name = $2) AND ($3::timestamptz IS NULL OR (j.created_on, j.id) < ($3::timestamptz, $4::uuid))`,
      [filter.state ?? null, filter.kind ? queueName(filter.kind) : null, key, id],
      `ORDER BY j.created_on DESC, j.id DESC LIMIT ${limit + 1}`,
    );
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    // created_on at full precision (microseconds), so the next page neither skips nor repeats.
    return { items: page.map(infoOf), next: rows.length > limit && last ? `${last.created_key}|${last.id}` : null };
  }

  /** The job, or JOB_NOT_FOUND naming the queue. */
  async getOrFail(id: string): Promise<JobInfo> {
    const info = await this.get(id);
    if (!info) throw new AtelierError('JOB_NOT_FOUND', `no job ${id} in the job queue ${this.where}; \`atelier jobs list\` shows them`, { field: 'job' });
    return info;
  }

  async cancel(id: string): Promise<JobInfo> {
    const info = await this.getOrFail(id);
    await this.boss.cancel(queueName(info.kind), id);
    return (await this.get(id))!;
  }

  async retry(id: string): Promise<JobInfo> {
    const info = await this.getOrFail(id);
    if (info.state === 'cancelled') await this.boss.resume(queueName(info.kind), id);
    else await this.boss.retry(queueName(info.kind), id);
    return (await this.get(id))!;
  }

  async close(): Promise<void> {
    await this.boss.stop({ graceful: false, wait: true, close: true }).catch(() => {});
    await this.pool.end().catch(() => {});
  }
}
