import type { Command } from 'commander';
import { AtelierError } from '../../core/errors.js';
import { redactUrl } from '../../core/workspace.js';
import { queueUrlOf } from '../../jobs/open.js';
import { DEFAULT_LEASE_SECONDS } from '../../jobs/pg-queue.js';
import { TeamWorker } from '../../jobs/pg-worker.js';
import { JOB_KINDS, type JobKind } from '../../jobs/types.js';
import { action, usage, workspaceOf, type CommandResult } from '../runner.js';

function positiveNumber(flag: string, raw: string): number {
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw usage(`--${flag} ${raw}: expected a positive number`, flag);
  return value;
}

function kindsOf(raw: string | undefined): JobKind[] {
  if (!raw) return [...JOB_KINDS];
  const kinds = raw.split(',').map((k) => k.trim()).filter(Boolean);
  const unknown = kinds.find((k) => !(JOB_KINDS as readonly string[]).includes(k));
  if (unknown) throw usage(`--queues: no job kind "${unknown}"; the kinds are ${JOB_KINDS.join(', ')}`, 'queues');
  return kinds as JobKind[];
}

export function registerWorker(program: Command): void {
  program
    .command('worker')
    .description('Run queued jobs (train, pipeline, predict, evaluate...) from the team queue, each in its own process, until SIGTERM or Ctrl-C')
    .option('--concurrency <n>', 'jobs at a time (each gets an equal share of the cores)', '1')
    .option('--queues <kinds>', `comma-separated kinds of job to take (default all: ${JOB_KINDS.join(',')})`)
    .option('--lease <seconds>', 'how long a job stays leased without a renewal; another worker takes it after that', String(DEFAULT_LEASE_SECONDS))
    .option('--grace <seconds>', 'on SIGTERM or Ctrl-C, how long running jobs may finish before they are handed back', '30')
    .action(
      action(async (io, opts: { concurrency: string; queues?: string; lease: string; grace: string }): Promise<CommandResult<unknown>> => {
        const concurrency = positiveNumber('concurrency', opts.concurrency);
        if (!Number.isInteger(concurrency)) throw usage(`--concurrency ${opts.concurrency}: expected a whole number`, 'concurrency');
        const kinds = kindsOf(opts.queues);
        const leaseSeconds = positiveNumber('lease', opts.lease);
        const grace = Number(opts.grace);
        if (!Number.isFinite(grace) || grace < 0) throw usage(`--grace ${opts.grace}: expected seconds, 0 or more`, 'grace');
        if (io.globals.json) throw new AtelierError('USAGE', 'atelier worker prints one line per job; --json is not available', { field: 'json' });
        const workspace = workspaceOf(io.globals);
        const url = queueUrlOf(workspace);
        const log = (line: string) => process.stdout.write(`${new Date().toISOString()} ${line}\n`);
        const worker = await TeamWorker.start(url, workspace, { concurrency, kinds, leaseSeconds, log });
        log(`worker ${worker.name} takes ${kinds.join(', ')} (${concurrency} at a time) from ${redactUrl(url)}`);
        const stopped = new Promise<void>((resolve) => {
          let signals = 0;
          const stop = (signal: string) => {
            signals++;
            // A second signal hands running jobs back at once.
            const seconds = signals > 1 ? 0 : grace;
            log(`worker ${worker.name}: ${signal}; ${worker.running ? `${worker.running} running job(s) get ${seconds} s to finish` : 'stopping'}`);
            if (signals === 1) void worker.stop(seconds).then(resolve);
            else void worker.stop(0);
          };
          process.on('SIGTERM', () => stop('SIGTERM'));
          process.on('SIGINT', () => stop('SIGINT'));
        });
        return { json: null, human: '', wait: stopped };
      }),
    );
}
