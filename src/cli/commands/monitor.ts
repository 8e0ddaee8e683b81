import { resolve } from 'node:path';
import type { Command } from 'commander';
import { writeFileAtomic } from '../../core/files.js';
import { monitorModel, type MonitorReport } from '../../monitoring/monitor.js';
import { autoRollback, liveMetrics, trackOutcomes } from '../../monitoring/outcomes.js';
import { MONITOR_HEADERS, monitorPage, monitorRows } from '../../monitoring/report.js';
import { loadPipeline } from '../../pipeline/config.js';
import { runPipeline } from '../../pipeline/runner.js';
import { table } from '../output.js';
import { action, usage, withContext, type CommandResult } from '../runner.js';

async function postWebhook(url: string, report: MonitorReport): Promise<{ url: string; status: number | null; error?: string }> {
  const { statistics: _statistics, ...body } = report;
  try {
    const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ alert: 'atelier.monitor', ...body }) });
    return { url, status: response.status };
  } catch (error) {
    return { url, status: null, error: (error as Error).message };
  }
}

export function registerMonitor(program: Command): void {
  const monitor = program
    .command('monitor')
    .description('Skew of served traffic against the training data, drift against the previous window, and the shift of predictions; exit 1 when a threshold is crossed')
    .argument('<model>', 'MODEL[@VERSION|@ALIAS]')
    .option('--log <dir>', 'prediction log folder (the server\'s --log-predictions)')
    .option('--since <time>', 'look at predictions after this time (default: after the previous check\'s window)')
    .option('--threshold <x>', 'one threshold for every distance (default 0.1)', (v) => Number(v))
    .option('--html <file>', 'write a self-contained page with the histograms')
    .option('--webhook <url>', 'POST the report as JSON here when a threshold is crossed')
    .option('--retrain <pipeline>', 'run this pipeline when a threshold is crossed')
    .action(
      action(async (io, ref: string, opts: { log?: string; since?: string; threshold?: number; html?: string; webhook?: string; retrain?: string }): Promise<CommandResult<unknown>> => {
        if (!opts.log) throw usage('monitor needs --log DIR, the folder the server logs predictions to', 'log');
        if (opts.since !== undefined && Number.isNaN(Date.parse(opts.since))) throw usage(`--since "${opts.since}" is not a time`, 'since');
        const pipeline = opts.retrain ? loadPipeline(opts.retrain) : undefined;
        return withContext(io.globals, async (ctx) => {
          const since = opts.since === undefined ? undefined : new Date(Date.parse(opts.since)).toISOString();
          const report = await monitorModel(ctx, ref, { log: opts.log!, since, threshold: opts.threshold });
          const html = opts.html ? resolve(opts.html) : undefined;
          if (html) writeFileAtomic(html, await monitorPage(report));
          const crossed = report.crossed.length > 0;
          const webhook = crossed && opts.webhook ? await postWebhook(opts.webhook, report) : null;
          const retrain = crossed && pipeline ? await runPipeline(ctx, pipeline, { trigger: `monitor ${report.model}@${report.version}`, note: io.note }) : null;
          if (crossed) process.exitCode = 1;
          const { statistics: _statistics, ...summary } = report;
          const head =
            report.window.rows === 0
              ? `${report.model}@${report.version}: no new predictions in ${opts.log}`
              : `${report.model}@${report.version}: ${report.window.rows} predictions from ${report.window.from} to ${report.window.to}; training data ${report.trainingData ?? 'unknown'}; ${
                  crossed ? `THRESHOLDS CROSSED: ${report.crossed.join(', ')}` : 'no threshold crossed'
                }`;
          return {
            json: { ...summary, html: html ?? null, webhook, retrain },
            human: [
              head,
              ...(report.window.rows > 0 ? [table(MONITOR_HEADERS, monitorRows(report))] : []),
              ...(html ? [`Report: ${html}`] : []),
              ...(webhook ? [`Webhook ${webhook.url}: ${webhook.status ?? webhook.error}`] : []),
              ...(retrain ? [`Retraining: pipeline ${retrain.pipeline} run ${retrain.run} ${retrain.status}`] : []),
            ].join('\n'),
          };
        });
      }),
    );

  monitor
    .command('outcomes')
    .description('Join true labels to logged predictions by request id: live metrics per model version (stored), and the pipeline\'s auto_rollback')
    .argument('<model>', 'model name')
    .requiredOption('--labels <file>', 'CSV with a request_id column and the label column')
    .option('--log <dir>', 'prediction log folder')
    .option('--id-column <name>', 'column of the request id', 'request_id')
    .option('--label-column <name>', 'column of the true value (default: the model\'s label)')
    .option('--pipeline <file>', 'apply this pipeline\'s auto_rollback rule')
    .action(
      action(async (io, model: string, opts: { labels: string; log?: string; idColumn: string; labelColumn?: string; pipeline?: string }): Promise<CommandResult<unknown>> => {
        // `--log` after `outcomes` is taken by the parent command's option of the same name.
        opts.log ??= (monitor.opts() as { log?: string }).log;
        if (!opts.log) throw usage('monitor outcomes needs --log DIR, the folder the server logs predictions to', 'log');
        const rule = opts.pipeline ? loadPipeline(opts.pipeline).config.auto_rollback : undefined;
        if (opts.pipeline && !rule) throw usage(`${opts.pipeline} has no auto_rollback section`, 'pipeline');
        return withContext(io.globals, async (ctx) => {
          const measured = await trackOutcomes(ctx, model, { labels: opts.labels, log: opts.log!, idColumn: opts.idColumn, labelColumn: opts.labelColumn });
          const all = [...(await liveMetrics(ctx, model)).values()].sort((a, b) => a.version - b.version);
          const rollback = rule ? await autoRollback(ctx, model, rule) : null;
          const names = [...new Set(all.flatMap((m) => Object.keys(m.metrics)))];
          return {
            json: { model, measured, versions: all, rollback },
            human: [
              `${model}: ${measured.reduce((s, m) => s + m.count, 0)} predictions joined to labels`,
              table(['VERSION', 'COUNT', ...names.map((n) => n.toUpperCase())], all.map((m) => [m.version, m.count, ...names.map((n) => (m.metrics[n] === undefined ? '-' : m.metrics[n]!.toFixed(4)))])),
              ...(rollback ? [`auto rollback: ${rollback.reason}${rollback.rolledBack ? `; ${model}@${rollback.alias} rolled back ${rollback.rolledBack.from} → ${rollback.rolledBack.to}` : '; no rollback'}`] : []),
            ].join('\n'),
          };
        });
      }),
    );
}
