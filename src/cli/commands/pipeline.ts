import type { Command } from 'commander';
import { loadPipeline } from '../../pipeline/config.js';
import { runPipeline, type PipelineRunResult } from '../../pipeline/runner.js';
import { parseDuration, watchPipeline } from '../../pipeline/watch.js';
import { pipelinePayloadOf } from '../../jobs/kinds/pipeline.js';
import { table } from '../output.js';
import { DETACH_FLAG, QUEUE_FLAG, submitAndFollow, type QueueFlags } from '../queued.js';
import { action, withContext, type CommandResult } from '../runner.js';

function describeRun(result: PipelineRunResult): string {
  return [
    `pipeline ${result.pipeline} run ${result.run} (${result.trigger}): ${result.status}`,
    table(
      ['STEP', 'STATUS', 'SECONDS', 'WHAT'],
      result.steps.map((s) => [s.step, s.status, s.seconds.toFixed(1), s.detail]),
    ),
  ].join('\n');
}

export function registerPipeline(program: Command): void {
  const pipeline = program.command('pipeline').description('Continuous training: import, statistics, validate, train, evaluate, bless, push, with cached steps');
  pipeline
    .command('run')
    .description('Run a pipeline once; unchanged steps are cached, and a killed run resumes after its last finished step')
    .argument('<pipeline>', 'pipeline file (YAML)')
    .option('--source <file>', 'import this file, glob or folder instead of steps.import.source')
    .option(...QUEUE_FLAG)
    .option(...DETACH_FLAG)
    .action(
      action(async (io, file: string, opts: { source?: string } & QueueFlags): Promise<CommandResult<unknown>> => {
        const loaded = loadPipeline(file);
        if (opts.queue) {
          return submitAndFollow<PipelineRunResult>(
            io,
            opts,
            async (ctx) => ({ kind: 'pipeline', title: `pipeline ${loaded.config.name} (${file})`, payload: await pipelinePayloadOf(ctx, file, opts.source) }),
            {
              describe: (result) => {
                if (result.status === 'failed') process.exitCode = 1;
                return describeRun(result);
              },
            },
          );
        }
        return withContext(io.globals, async (ctx) => {
          const result = await runPipeline(ctx, loaded, { source: opts.source, note: io.note });
          if (result.status === 'failed') process.exitCode = 1;
          return { json: result, human: describeRun(result) };
        });
      }),
    );
  pipeline
    .command('watch')
    .description('Run the pipeline for each new file of a folder (in name order, each file once), and/or on a schedule')
    .argument('<pipeline>', 'pipeline file (YAML)')
    .option('--dir <folder>', 'folder to watch: each new data file becomes a dataset version and starts a run')
    .option('--every <duration>', 'run on a schedule: 30s, 5m, 1h, 1d')
    .option('--poll <duration>', 'how often the folder is looked at', '2s')
    .option('--once', 'process the files there now (or run once on the schedule), then stop')
    .option('--max-runs <n>', 'stop after this many runs', (v) => Number(v))
    .action(
      action(async (io, file: string, opts: { dir?: string; every?: string; poll: string; once?: boolean; maxRuns?: number }): Promise<CommandResult<unknown>> => {
        const loaded = loadPipeline(file);
        const everyMs = opts.every === undefined ? undefined : parseDuration(opts.every, '--every');
        const pollMs = parseDuration(opts.poll, '--poll');
        return withContext(io.globals, async (ctx) => {
          const stop = new AbortController();
          const interrupt = () => stop.abort();
          process.once('SIGINT', interrupt);
          process.once('SIGTERM', interrupt);
          io.note(`watching${opts.dir ? ` ${opts.dir}` : ''}${everyMs !== undefined ? ` every ${opts.every}` : ''} for pipeline ${loaded.config.name}`);
          try {
            const runs = await watchPipeline(ctx, loaded, { dir: opts.dir, everyMs, pollMs, once: opts.once, maxRuns: opts.maxRuns, signal: stop.signal, note: io.note });
            return { json: { pipeline: loaded.config.name, runs }, human: runs.length ? runs.map(describeRun).join('\n\n') : 'no new files' };
          } finally {
            process.off('SIGINT', interrupt);
            process.off('SIGTERM', interrupt);
          }
        });
      }),
    );
}
