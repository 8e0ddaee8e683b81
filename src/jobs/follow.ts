import type { MetadataStore } from '../store/metadata-store.js';
import { FINAL_STATES, type JobInfo, type JobQueue } from './types.js';

export interface FollowOptions {
  /** Where the job's run logs its per-step metrics (train jobs). */
  store?: MetadataStore;
  /** A line for people: state changes, progress, the latest metrics. */
  note: (line: string) => void;
  pollMs?: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function stateLine(job: JobInfo): string {
  switch (job.state) {
    case 'created':
      return `job ${job.id} queued`;
    case 'active':
      return `job ${job.id} running on ${job.worker} (attempt ${job.attempts}/${job.maxAttempts})`;
    case 'retry':
      return `job ${job.id} attempt ${job.attempts}/${job.maxAttempts} failed${job.error ? `: ${job.error.message}` : ''}; waiting to retry`;
    default:
      return `job ${job.id} ${job.state}`;
  }
}

/**
 * Follows a job until it ends: its state, its progress lines and, for trainings, the metrics its
 * run logs to the store (the newest step of each). Returns the job as it ended.
 */
export async function followJob(queue: JobQueue, id: string, options: FollowOptions): Promise<JobInfo> {
  let lastState = '';
  let lastProgress: string | null = null;
  let lastStep = -1;
  for (;;) {
    const job = await queue.get(id);
    if (!job) throw new Error(`job ${id} vanished from the queue`);
    const state = `${job.state}/${job.attempts}`;
    // An attempt is announced once its worker has recorded it (a moment after pg-boss hands it out).
    const announce = state !== lastState && !(job.state === 'active' && job.worker === null);
    if (announce) {
      options.note(stateLine(job));
      lastState = state;
    }
    if (job.progress && job.progress !== lastProgress && job.state === 'active') options.note(`  ${job.progress}`);
    lastProgress = job.progress;
    if (options.store && job.runId && job.state === 'active') {
      const points = await options.store.getMetrics(job.runId).catch(() => []);
      const step = Math.max(-1, ...points.map((p) => p.step));
      if (step > lastStep) {
        lastStep = step;
        const latest = points.filter((p) => p.step === step).map((p) => `${p.key} ${Number(p.value.toPrecision(4))}`);
        options.note(`  step ${step}: ${latest.join(' · ')}`);
      }
    }
    if (FINAL_STATES.includes(job.state)) return job;
    await sleep(options.pollMs ?? 500);
  }
}
