import { readFileSync } from 'node:fs';
import { AtelierError, ERROR_CODES, type ErrorCode } from '../core/errors.js';
import { followJob } from '../jobs/follow.js';
import { queueUrlOf } from '../jobs/open.js';
import type { JobInfo, JobRequest } from '../jobs/types.js';
import type { AtelierContext } from '../store/context.js';
import { withContext, workspaceOf, type CommandIO, type CommandResult } from './runner.js';

/** --queue and --detach, on train, pipeline run, predict and evaluate. */
export interface QueueFlags {
  queue?: boolean;
  detach?: boolean;
}

export const QUEUE_FLAG = ['--queue', 'run it as a job on the team queue (an `atelier worker` takes it) and follow it here'] as const;
export const DETACH_FLAG = ['--detach', 'with --queue: print the job id and return at once'] as const;

/** A file as a job carries it: its name (for messages) and its text. */
export const carry = (file: string) => ({ file, text: readFileSync(file, 'utf8') });

/** The error a followed job ended with: its own code when it is one of ours, else JOB_FAILED. */
export function jobFailure(job: JobInfo): AtelierError {
  const error = job.error;
  if (job.state === 'failed' && error && error.code in ERROR_CODES) {
    return new AtelierError(error.code as ErrorCode, `job ${job.id}: ${error.message}`, { ...(error.facts ?? {}), job: job.id });
  }
  const why = job.state === 'cancelled' ? 'was cancelled' : `failed after ${job.attempts} attempt${job.attempts === 1 ? '' : 's'}${error ? `: ${error.message}` : ''}`;
  return new AtelierError('JOB_FAILED', `job ${job.id} (${job.title}) ${why}`, { job: job.id });
}

/**
 * Submits the command's job to the team queue, then follows it (state, progress, the run's
 * metrics) until it ends; the outcome is the job's result, described as the command would.
 */
export async function submitAndFollow<R>(
  io: CommandIO,
  flags: QueueFlags,
  build: (ctx: AtelierContext) => Promise<JobRequest>,
  present: { describe: (result: R) => string; after?: (ctx: AtelierContext, result: R) => Promise<Record<string, unknown>> },
): Promise<CommandResult<unknown>> {
  const url = queueUrlOf(workspaceOf(io.globals));
  return withContext(io.globals, async (ctx) => {
    // pg and pg-boss load only when a job is queued: every other command starts without them.
    const { PgJobQueue } = await import('../jobs/pg-queue.js');
    const queue = await PgJobQueue.open(url);
    try {
      const request = await build(ctx);
      const job = await queue.submit(request);
      if (flags.detach) return { json: job, human: job.id };
      io.note(`submitted ${request.title} as job ${job.id} to ${queue.where}`);
      const ended = await followJob(queue, job.id, { store: ctx.store, note: io.note });
      if (ended.state !== 'completed') throw jobFailure(ended);
      const result = ended.result as R;
      const extra = present.after ? await present.after(ctx, result) : {};
      return { json: { job: ended, result, ...extra }, human: present.describe(result) };
    } finally {
      await queue.close();
    }
  });
}
