import type { Command } from 'commander';
import { parseDuration } from '../../pipeline/watch.js';
import { collectGarbage, DEFAULT_GRACE_MS } from '../../store/gc.js';
import { formatBytes } from '../output.js';
import { action, withContext } from '../runner.js';

export function registerGc(program: Command): void {
  program
    .command('gc')
    .description('Close runs and pipeline steps whose process vanished, remove temp files of dead processes and artifacts nothing refers to')
    .option('--dry-run', 'list what would be removed, change nothing')
    .option('--grace <duration>', 'keep unreferenced artifacts younger than this (a write in flight): 0, 30s, 10m, 1h', `${DEFAULT_GRACE_MS / 3_600_000}h`)
    .action(
      action(async (io, opts: { dryRun?: boolean; grace: string }) => {
        const graceMs = opts.grace.trim() === '0' ? 0 : parseDuration(opts.grace, '--grace');
        return withContext(io.globals, async (ctx) => {
          const report = await collectGarbage(ctx, { dryRun: opts.dryRun, graceMs });
          const verb = report.dryRun ? 'would remove' : 'removed';
          return {
            json: report,
            human: [
              ...report.runs.map((r) => `run ${r.id} (${r.model}): ${report.dryRun ? 'would be marked' : 'marked'} failed, ${r.reason}`),
              ...(report.dryRun ? [...report.temp.paths.map((p) => `temp ${p}`), ...report.artifacts.keys.map((k) => `artifact ${k}`)] : []),
              ...report.steps.map((s) => `pipeline ${s.pipeline} step ${s.step} (${s.id}): ${report.dryRun ? 'would be marked' : 'marked'} failed, ${s.reason}`),
              `runs: ${report.runs.length} ${report.dryRun ? 'would be marked' : 'marked'} failed (process vanished)`,
              `temp files: ${verb} ${report.temp.files} (${formatBytes(report.temp.bytes)})`,
              `artifacts: ${verb} ${report.artifacts.files} unreferenced (${formatBytes(report.artifacts.bytes)}); kept ${report.artifacts.kept}`,
              `freed: ${formatBytes(report.temp.bytes + report.artifacts.bytes)}${report.dryRun ? ' (dry run: nothing removed)' : ''}`,
            ].join('\n'),
          };
        }, { sweep: false });
      }),
    );
}
