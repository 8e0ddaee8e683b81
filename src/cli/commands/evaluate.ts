import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { AtelierError } from '../../core/errors.js';
import { writeFileAtomic } from '../../core/files.js';
import { evaluateModel } from '../../evaluation/evaluate.js';
import { evaluationPage, evaluationTables, evaluationTitle } from '../../evaluation/report.js';
import { copyFile, rename } from 'node:fs/promises';
import { parseRef } from '../../core/config.js';
import type { EvaluateOutcome } from '../../jobs/kinds/evaluate.js';
import { artifactPath } from '../../jobs/kinds/predict.js';
import { resolveModelVersion } from '../../registry/models.js';
import { formatMetrics, indent, table } from '../output.js';
import { DETACH_FLAG, QUEUE_FLAG, submitAndFollow, type QueueFlags } from '../queued.js';
import { action, withContext } from '../runner.js';

interface EvaluateFlags extends QueueFlags {
  data?: string;
  threshold?: string;
  slice: string[];
  importance: boolean;
  importanceRepeats?: string;
  seed?: string;
  report?: string;
}

function number(flag: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value)) throw new AtelierError('USAGE', `--${flag} expects a number, got "${raw}"`, { field: flag, got: raw });
  return value;
}

function describeEvaluation(result: EvaluateOutcome, report: string | undefined): string {
  const tables = evaluationTables(result).map((t) => `${t.title}\n${indent(table(t.headers, t.rows))}${t.note ? `\n  ${t.note}` : ''}`);
  return [`${evaluationTitle(result)} (${result.details.count} rows)`, `  ${formatMetrics(result.metrics)}`, ...tables, ...(report ? [`Report: ${report}`] : [])].join('\n\n');
}

export function registerEvaluate(program: Command): void {
  program
    .command('evaluate')
    .description('Evaluate a registered model on a dataset split (default: its own held-out split): metrics, slices, importance, charts')
    .argument('<model>', 'model, model@version or model@alias')
    .option('--data <ref>', 'dataset as NAME[@VERSION][:train|eval|all]')
    .option('--threshold <p>', 'binary models: call a row positive when P(positive) >= p', undefined)
    .option('--slice <feature>', 'metrics per value (text) or quantile bucket (numbers; FEATURE:N for N buckets, quartiles by default) of a column; repeatable', (v: string, all: string[]) => [...all, v], [])
    .option('--importance-repeats <n>', 'shuffles per feature for permutation importance (default 5)')
    .option('--no-importance', 'skip permutation importance')
    .option('--seed <n>', 'seed of the permutation shuffles (default 42)')
    .option('--report <file>', 'write a self-contained HTML report with the charts')
    .option(...QUEUE_FLAG)
    .option(...DETACH_FLAG)
    .action(
      action(async (io, model: string, opts: EvaluateFlags) => {
        const report = opts.report ? resolve(opts.report) : undefined;
        if (report && !existsSync(dirname(report))) {
          throw new AtelierError('FILE_NOT_FOUND', `--report ${opts.report}: folder ${dirname(report)} does not exist`, { field: 'report', file: report });
        }
        const settings = {
          data: opts.data,
          threshold: number('threshold', opts.threshold),
          slices: opts.slice,
          importance: { repeats: opts.importance ? number('importance-repeats', opts.importanceRepeats) : 0, seed: number('seed', opts.seed) },
        };
        if (opts.queue) {
          return submitAndFollow<EvaluateOutcome>(
            io,
            opts,
            async (ctx) => {
              // The version is fixed now, so a retry after an alias move evaluates the same one.
              const { name, selector } = parseRef(model);
              const ref = `${name}@${(await resolveModelVersion(ctx, name, selector)).version}`;
              return { kind: 'evaluate', title: `evaluate ${ref}`, payload: { model: ref, ...settings, report: report !== undefined } };
            },
            {
              describe: (result) => describeEvaluation(result, report),
              after: async (ctx, result) => {
                if (!report || !result.report) return {};
                await copyFile(await artifactPath(ctx, result.report), `${report}.tmp-${process.pid}`);
                await rename(`${report}.tmp-${process.pid}`, report);
                return { report };
              },
            },
          );
        }
        return withContext(io.globals, async (ctx) => {
          const { charts, ...result } = await evaluateModel(ctx, model, { ...settings, charts: report !== undefined });
          if (report) writeFileAtomic(report, evaluationPage(result, charts ?? []));
          return { json: { ...result, ...(report ? { report } : {}) }, human: describeEvaluation(result, report) };
        });
      }),
    );
}
