import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { AtelierError } from '../../core/errors.js';
import { writeFileAtomic } from '../../core/files.js';
import { evaluateModel } from '../../evaluation/evaluate.js';
import { evaluationPage, evaluationTables, evaluationTitle } from '../../evaluation/report.js';
import { formatMetrics, indent, table } from '../output.js';
import { action, withContext } from '../runner.js';

interface EvaluateFlags {
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
    .action(
      action(async (io, model: string, opts: EvaluateFlags) =>
        withContext(io.globals, async (ctx) => {
          const report = opts.report ? resolve(opts.report) : undefined;
          if (report && !existsSync(dirname(report))) {
            throw new AtelierError('FILE_NOT_FOUND', `--report ${opts.report}: folder ${dirname(report)} does not exist`, { field: 'report', file: report });
          }
          const { charts, ...result } = await evaluateModel(ctx, model, {
            data: opts.data,
            threshold: number('threshold', opts.threshold),
            slices: opts.slice,
            importance: { repeats: opts.importance ? number('importance-repeats', opts.importanceRepeats) : 0, seed: number('seed', opts.seed) },
            charts: report !== undefined,
          });
          if (report) writeFileAtomic(report, evaluationPage(result, charts ?? []));
          const tables = evaluationTables(result).map((t) => `${t.title}\n${indent(table(t.headers, t.rows))}${t.note ? `\n  ${t.note}` : ''}`);
          return {
            json: { ...result, ...(report ? { report } : {}) },
            human: [
              `${evaluationTitle(result)} (${result.details.count} rows)`,
              `  ${formatMetrics(result.metrics)}`,
              ...tables,
              ...(report ? [`Report: ${report}`] : []),
            ].join('\n\n'),
          };
        }),
      ),
    );
}
