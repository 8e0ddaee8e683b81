import { randomUUID } from 'node:crypto';
import { currentHost, currentUser, nowIso } from '../core/identity.js';
import { shareOfCores } from '../core/threads.js';
import type { Workspace } from '../core/workspace.js';
import { runInChild, type RunningChild } from './run-in-child.js';
import {
  DEFAULT_RETRY_DELAY_SECONDS,
  DEFAULT_RETRY_LIMIT,
  FINAL_STATES,
  isRetryable,
  jobRunId,
  type JobFilter,
  type JobInfo,
  type JobQueue,
  type JobRequest,
  type Page,
} from './types.js';
import { pageOf } from './page.js';

interface LocalJob {
  info: JobInfo;
  payload: unknown;
  retryDelayMs: number;
  running?: RunningChild;
  timer?: NodeJS.Timeout;
  waiters: ((info: JobInfo) => void)[];
}

/**
 * The embedded queue: a pool of `concurrency` job processes on this machine, in memory, with no
 * service to run. For parallel work inside one command (tuning trials): jobs live as long as the
 * pool does (it is not durable; a team that needs that uses the PostgreSQL queue). Each job runs
 * in a child process with an equal share of the cores.
 */
export class LocalJobQueue implements JobQueue {
  readonly where = 'local pool';
  private readonly jobs = new Map<string, LocalJob>();
  private readonly waiting: string[] = [];
  private active = 0;
  private closed = false;
  private readonly threads: number;

  constructor(
    private readonly workspace: Workspace,
    private readonly concurrency = 1,
  ) {
    this.threads = shareOfCores(concurrency);
  }

  async submit(request: JobRequest): Promise<JobInfo> {
    const id = randomUUID();
    const retryLimit = request.options?.retryLimit ?? DEFAULT_RETRY_LIMIT;
    const info: JobInfo = {
      id,
      kind: request.kind,
      title: request.title,
      state: 'created',
      attempts: 0,
      maxAttempts: retryLimit + 1,
      submittedBy: currentUser(),
      createdAt: nowIso(),
      startedAt: null,
      endedAt: null,
      worker: null,
      progress: null,
      heartbeatAt: null,
      runId: null,
      result: null,
      error: null,
    };
    this.jobs.set(id, { info, payload: request.payload, retryDelayMs: (request.options?.retryDelaySeconds ?? DEFAULT_RETRY_DELAY_SECONDS) * 1000, waiters: [] });
    this.enqueue(id);
    return { ...info };
  }

  async get(id: string): Promise<JobInfo | undefined> {
    const job = this.jobs.get(id);
    return job ? { ...job.info } : undefined;
  }

  async list(filter: JobFilter = {}): Promise<Page<JobInfo>> {
    const all = [...this.jobs.values()]
      .map((j) => j.info)
      .filter((i) => (!filter.state || i.state === filter.state) && (!filter.kind || i.kind === filter.kind))
      .reverse();
    return pageOf(all.map((i) => ({ ...i })), filter);
  }

  async cancel(id: string): Promise<JobInfo> {
    const job = this.must(id);
    if (FINAL_STATES.includes(job.info.state)) return { ...job.info };
    clearTimeout(job.timer);
    this.removeWaiting(id);
    job.running?.stop('cancelled');
    this.finish(job, { state: 'cancelled' });
    return { ...job.info };
  }

  async retry(id: string): Promise<JobInfo> {
    const job = this.must(id);
    if (job.info.state !== 'failed' && job.info.state !== 'cancelled') return { ...job.info };
    job.info.maxAttempts = Math.max(job.info.maxAttempts, job.info.attempts + 1);
    job.info.state = 'retry';
    job.info.endedAt = null;
    this.enqueue(id);
    return { ...job.info };
  }

  /** Resolves when the job reaches a final state. */
  settled(id: string): Promise<JobInfo> {
    const job = this.must(id);
    if (FINAL_STATES.includes(job.info.state)) return Promise.resolve({ ...job.info });
    return new Promise((resolve) => job.waiters.push(resolve));
  }

  /** Cancels what waits, stops what runs. */
  async close(): Promise<void> {
    this.closed = true;
    for (const id of [...this.jobs.keys()]) await this.cancel(id);
  }

  private must(id: string): LocalJob {
    const job = this.jobs.get(id);
    if (!job) throw new Error(`no job ${id} in the local pool`);
    return job;
  }

  private removeWaiting(id: string): void {
    const at = this.waiting.indexOf(id);
    if (at >= 0) this.waiting.splice(at, 1);
  }

  private enqueue(id: string): void {
    this.waiting.push(id);
    this.pump();
  }

  private pump(): void {
    while (!this.closed && this.active < this.concurrency && this.waiting.length > 0) this.start(this.jobs.get(this.waiting.shift()!)!);
  }

  private start(job: LocalJob): void {
    const info = job.info;
    this.active++;
    info.attempts++;
    Object.assign(info, { state: 'active', startedAt: nowIso(), progress: null, error: null, runId: jobRunId(info.id, info.attempts) });
    const running = runInChild(this.workspace, { id: info.id, kind: info.kind, payload: job.payload, attempt: info.attempts }, {
      threads: this.threads,
      onProgress: (line) => Object.assign(info, { progress: line, heartbeatAt: nowIso() }),
    });
    job.running = running;
    info.worker = `${currentHost()}:${running.pid}`;
    void running.outcome.then((outcome) => {
      this.active--;
      job.running = undefined;
      if (info.state === 'active') {
        if (outcome.ok) this.finish(job, { state: 'completed', result: outcome.result });
        else if (info.attempts < info.maxAttempts && isRetryable(outcome.error)) {
          Object.assign(info, { state: 'retry', error: outcome.error });
          job.timer = setTimeout(() => this.enqueue(info.id), job.retryDelayMs);
        } else this.finish(job, { state: 'failed', error: outcome.error });
      }
      this.pump();
    });
  }

  private finish(job: LocalJob, patch: Partial<JobInfo>): void {
    Object.assign(job.info, { ...patch, endedAt: nowIso() });
    for (const resolve of job.waiters.splice(0)) resolve({ ...job.info });
  }
}
