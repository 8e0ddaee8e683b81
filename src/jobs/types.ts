import type { Page, PageRequest } from '../store/types.js';
/**
 * Jobs: work that a worker runs for someone else (a training, a batch prediction...). The kinds,
 * states and the JobQueue interface are declared here once; the embedded pool (local-pool.ts) and
 * the team queue on PostgreSQL (pg-queue.ts, pg-boss) implement it.
 */
import { sha256 } from '../core/hash.js';

export const JOB_KINDS = ['train', 'cross-validation', 'tuning-trial', 'pipeline', 'predict', 'evaluate'] as const;
export type JobKind = (typeof JOB_KINDS)[number];

/**
 * pg-boss's states, kept by name: created (waiting), retry (waiting to be retried after a failed
 * attempt), active (a worker runs it), completed, cancelled, failed (no retries left).
 */
export const JOB_STATES = ['created', 'retry', 'active', 'completed', 'cancelled', 'failed'] as const;
export type JobState = (typeof JOB_STATES)[number];
export const FINAL_STATES: readonly JobState[] = ['completed', 'cancelled', 'failed'];

/** Pagination is the store's (src/store/types.ts), declared once. */
export type { Page, PageRequest };

/** How a failed attempt is described: an Atelier error code when there is one, else INTERNAL. */
export interface JobError {
  code: string;
  message: string;
  facts?: Record<string, unknown>;
}

/**
 * Whether another attempt may do better. A job that failed with one of Atelier's own errors (a
 * config field, a missing dataset or model, anomalies in the data) would fail the same way again,
 * so it is failed at once; a crash, a lost worker or lease, a busy or unreachable store is retried.
 */
export function isRetryable(error: JobError): boolean {
  return ['INTERNAL', 'STORE_BUSY', 'DISK_FULL', 'QUEUE_UNREACHABLE', 'WORKER_STOPPED', 'LEASE_EXPIRED'].includes(error.code);
}

export interface JobInfo {
  id: string;
  kind: JobKind;
  /** For people: "train housing (dnn.yaml)". */
  title: string;
  state: JobState;
  /** Attempts started so far (0 while it waits for its first). */
  attempts: number;
  /** Most attempts the queue will start: 1 + retries. */
  maxAttempts: number;
  submittedBy: string;
  createdAt: string;
  startedAt: string | null;
  endedAt: string | null;
  /** Who runs (ran) the latest attempt: host:pid of the worker. */
  worker: string | null;
  /** The latest progress line of the running attempt, and when its worker last renewed the lease. */
  progress: string | null;
  heartbeatAt: string | null;
  /** The training run of the latest attempt (train and tuning-trial jobs). */
  runId: string | null;
  result: unknown;
  error: JobError | null;
}

export interface SubmitOptions {
  /** Retries after a failed attempt (default 2: three attempts in all). */
  retryLimit?: number;
  /** Seconds before a retry (default 5). */
  retryDelaySeconds?: number;
  /** pg-boss singleton key: one job with this key per queue at a time (see docs/jobs.md). */
  singletonKey?: string;
}

export interface JobRequest {
  kind: JobKind;
  payload: unknown;
  title: string;
  options?: SubmitOptions;
}

export interface JobFilter extends PageRequest {
  state?: JobState;
  kind?: JobKind;
}

export interface JobQueue {
  /** Where the jobs live, for messages: "local pool" or the redacted PostgreSQL URL. */
  readonly where: string;
  submit(request: JobRequest): Promise<JobInfo>;
  get(id: string): Promise<JobInfo | undefined>;
  /** Newest first. */
  list(filter?: JobFilter): Promise<Page<JobInfo>>;
  /** Cancels a waiting or running job (a running attempt is stopped by its worker). */
  cancel(id: string): Promise<JobInfo>;
  /** Queues a failed or cancelled job again. */
  retry(id: string): Promise<JobInfo>;
  close(): Promise<void>;
}

export const DEFAULT_RETRY_LIMIT = 2;
export const DEFAULT_RETRY_DELAY_SECONDS = 5;

/**
 * The training run of attempt `attempt` (1-based) of a job: derived from the job id, so a retried
 * job finds the runs of its earlier attempts (see kinds/train.ts).
 */
export function jobRunId(jobId: string, attempt: number): string {
  const base = `run-${sha256(jobId).slice(0, 12)}`;
  return attempt <= 1 ? base : `${base}-${attempt}`;
}
