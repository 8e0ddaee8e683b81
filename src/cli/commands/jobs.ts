import type { Command } from 'commander';
import { openJobQueue } from '../../jobs/open.js';
import type { PgJobQueue } from '../../jobs/pg-queue.js';
import { JOB_KINDS, JOB_STATES, type JobInfo, type JobKind, type JobState } from '../../jobs/types.js';
import { table } from '../output.js';
import { action, usage, workspaceOf, type CommandIO, type CommandResult } from '../runner.js';

async function withQueue<T>(io: CommandIO, work: (queue: PgJobQueue) => Promise<T>): Promise<T> {
  const queue = await openJobQueue(workspaceOf(io.globals));
  try {
    return await work(queue);
  } finally {
    await queue.close();
  }
}

function describeJob(job: JobInfo): string {
  const lines = [
    `job ${job.id}: ${job.title}`,
    `  kind ${job.kind} · state ${job.state} · attempt ${job.attempts}/${job.maxAttempts}`,
    `  submitted by ${job.submittedBy} at ${job.createdAt}${job.startedAt ? ` · started ${job.startedAt}` : ''}${job.endedAt ? ` · ended ${job.endedAt}` : ''}`,
  ];
  if (job.worker) lines.push(`  worker ${job.worker}${job.heartbeatAt ? ` (heartbeat ${job.heartbeatAt})` : ''}`);
  if (job.runId) lines.push(`  run ${job.runId}`);
  if (job.progress) lines.push(`  progress: ${job.progress}`);
  if (job.error) lines.push(`  error ${job.error.code}: ${job.error.message}`);
  return lines.join('\n');
}

const oneOf = <T extends string>(flag: string, all: readonly T[], raw: string | undefined): T | undefined => {
  if (raw === undefined) return undefined;
  if (!(all as readonly string[]).includes(raw)) throw usage(`--${flag} ${raw}: expected one of ${all.join(', ')}`, flag);
  return raw as T;
};

export function registerJobs(program: Command): void {
  const jobs = program.command('jobs').description('Jobs on the team queue: list, show, cancel, retry');
  jobs
    .command('list')
    .description('Jobs, newest first, a page at a time')
    .option('--state <state>', `only jobs in this state: ${JOB_STATES.join(', ')}`)
    .option('--kind <kind>', `only jobs of this kind: ${JOB_KINDS.join(', ')}`)
    .option('--limit <n>', 'jobs per page', '20')
    .option('--cursor <cursor>', 'the page after this cursor (printed under the previous page)')
    .action(
      action(async (io, opts: { state?: string; kind?: string; limit: string; cursor?: string }): Promise<CommandResult<unknown>> => {
        const state = oneOf<JobState>('state', JOB_STATES, opts.state);
        const kind = oneOf<JobKind>('kind', JOB_KINDS, opts.kind);
        const limit = Number(opts.limit);
        if (!Number.isInteger(limit) || limit < 1) throw usage(`--limit ${opts.limit}: expected a whole number of at least 1`, 'limit');
        return withQueue(io, async (queue) => {
          const page = await queue.list({ state, kind, limit, cursor: opts.cursor });
          const rows = page.items.map((j) => [j.id, j.kind, j.state, `${j.attempts}/${j.maxAttempts}`, j.createdAt.replace('T', ' ').slice(0, 19), j.title]);
          return {
            json: page,
            human: page.items.length === 0 ? 'no jobs' : [table(['JOB', 'KIND', 'STATE', 'ATTEMPT', 'SUBMITTED', 'WHAT'], rows), ...(page.next ? [`more: atelier jobs list --cursor '${page.next}'`] : [])].join('\n'),
          };
        });
      }),
    );
  const oneJob = (name: string, description: string, work: (queue: PgJobQueue, id: string) => Promise<JobInfo>, human: (job: JobInfo) => string) =>
    jobs
      .command(name)
      .description(description)
      .argument('<job>', 'job id')
      .action(action(async (io, id: string) => withQueue(io, async (queue) => {
        const job = await work(queue, id);
        return { json: job, human: human(job) };
      })));
  const stateLine = (job: JobInfo) => `job ${job.id}: ${job.state}`;
  oneJob('show', 'One job: state, attempts, worker, progress, result or error', (q, id) => q.getOrFail(id), describeJob);
  oneJob('cancel', 'Cancel a waiting or running job (its worker stops a running attempt within a third of its lease)', (q, id) => q.cancel(id), stateLine);
  oneJob('retry', 'Queue a failed or cancelled job again', (q, id) => q.retry(id), stateLine);
}
