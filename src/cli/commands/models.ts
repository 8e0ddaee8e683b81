import { dirname } from 'node:path';
import type { Command } from 'commander';
import { parseRef } from '../../core/config.js';
import { AtelierError } from '../../core/errors.js';
import { latestVerdict } from '../../registry/verdicts.js';
import { aliasesOf } from '../../registry/aliases.js';
import { DEFAULT_PAGE_SIZE } from '../../store/pages.js';
import { pageOptions, pageRequest } from './pages.js';
import { bundleDir, DEFAULT_ALIAS, listModels, modelVersions, promoteModelVersion, resolveModelVersion, rollbackAlias } from '../../registry/models.js';
import type { VersionDiff } from '../../registry/diff.js';
import { importOrigins, provenance } from '../../registry/lineage.js';
import { headlineMetric } from '../../evaluation/metrics.js';
import { readStoredEvaluation } from '../../evaluation/stored.js';
import type { AtelierContext } from '../../store/context.js';
import { formatMetrics, formatNumber, indent, table } from '../output.js';

function headline(metrics: Record<string, number>): string {
  const m = headlineMetric(metrics);
  return m ? `${m.name} ${formatNumber(m.value)}` : '-';
}
import { action, withContext } from '../runner.js';

// Blessing, diffs and archives bring the evaluation and data libraries: each subcommand that needs
// them loads them, so `models list` and `models show` start as fast as the store allows.
const blessing = () => import('../../evaluation/blessing.js');

/** "model@version" or "model@alias" to a version record. */
async function resolveRef(ctx: AtelierContext, ref: string) {
  const { name, selector } = parseRef(ref);
  return resolveModelVersion(ctx, name, selector);
}

/** A config value for a table cell: strings as they are, the rest as JSON, long ones cut. */
function cell(value: unknown, present: boolean): string {
  if (!present) return '(absent)';
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > 48 ? text.slice(0, 47) + '…' : text;
}

function signed(value: number | null): string {
  if (value === null) return '-';
  return (value > 0 ? '+' : '') + formatNumber(value);
}

function percent(value: number | null): string {
  if (value === null) return '-';
  return (value > 0 ? '+' : '') + (value * 100).toFixed(1) + '%';
}

export function renderDiff(d: VersionDiff): string {
  const lines = [`${d.a.ref} → ${d.b.ref}`];
  if (!d.config.compared) lines.push(`config: not compared (${d.config.note})`);
  else if (d.config.same) lines.push(`config: the same (sha256 ${d.a.configHash?.slice(0, 12)}…)`);
  else {
    lines.push(`config: ${d.config.changes.length} field${d.config.changes.length === 1 ? '' : 's'} differ (runs ${d.a.runId} → ${d.b.runId})`);
    lines.push(indent(table(['FIELD', d.a.ref, d.b.ref], d.config.changes.map((c) => [c.path, cell(c.a, 'a' in c), cell(c.b, 'b' in c)]))));
  }
  if (d.metrics.length === 0) lines.push('metrics: none recorded');
  else {
    lines.push(
      d.metricsOn.sameRows
        ? `metrics, both measured on the same ${d.metricsOn.rows} rows (${d.metricsOn.dataset}, held-out split):`
        : `metrics (NOT on the same rows: ${d.metricsOn.note}):`,
    );
    lines.push(
      indent(
        table(
          ['METRIC', d.a.ref, d.b.ref, 'CHANGE', 'RELATIVE'],
          d.metrics.map((m) => [m.name, m.a === null ? '-' : formatNumber(m.a), m.b === null ? '-' : formatNumber(m.b), signed(m.change), percent(m.relative)]),
        ),
      ),
    );
  }
  const ds = (x: VersionDiff['dataset']['a']) => (x ? `${x.name}@${x.version} (sha256 ${x.contentHash.slice(0, 12)}…)` : 'unknown');
  lines.push(d.dataset.same ? `dataset: the same, ${ds(d.dataset.a)}` : `dataset: differs, ${ds(d.dataset.a)} → ${ds(d.dataset.b)}`);
  lines.push(d.bundle.same ? `bundle: the same (sha256 ${d.bundle.a.slice(0, 12)}…)` : `bundle: differs, ${d.bundle.a.slice(0, 12)}… → ${d.bundle.b.slice(0, 12)}…`);
  return lines.join('\n');
}

export function registerModels(program: Command): void {
  const models = program.command('models').description('The model registry: versions, aliases, promotion');

  pageOptions(
    models
      .command('list')
      .description('List registered versions (by model, then version) with their aliases, a page at a time')
      .argument('[name]', 'only this model'),
    'versions',
    DEFAULT_PAGE_SIZE,
  ).action(
    action(async (io, name: string | undefined, opts: { limit: string; cursor?: string }) =>
      withContext(io.globals, async (ctx) => {
        const { models: list, next } = await listModels(ctx, name, pageRequest(opts));
        const rows = list.flatMap((m) => m.versions.map((v) => [m.name, v.version, v.aliases.join(',') || '-', headline(v.metrics), v.createdBy, v.createdAt]));
        const more = next ? `\n(more: --cursor ${next})` : '';
        return {
          json: { models: list, next },
          human: rows.length === 0 ? 'No models registered yet. Train one with `atelier train CONFIG`.' : table(['MODEL', 'VERSION', 'ALIASES', 'METRIC', 'BY', 'CREATED'], rows) + more,
        };
      }),
    ),
  );

  models
    .command('show')
    .description('Show one model version: metrics, run, bundle, signature')
    .argument('<model>', 'model, model@version or model@alias')
    .action(
      action(async (io, ref: string) =>
        withContext(io.globals, async (ctx) => {
          const { name, selector } = parseRef(ref);
          const version = await resolveModelVersion(ctx, name, selector);
          const run = version.runId ? await ctx.store.getRun(version.runId) : undefined;
          const aliases = await aliasesOf(ctx.store, version);
          const dataset = run ? await ctx.store.getDatasetVersionById(run.datasetVersionId) : undefined;
          const bundle = await bundleDir(ctx, version);
          const bundleUrl = ctx.artifacts.locationOf(version.bundleUri);
          const evaluation = readStoredEvaluation(bundle);
          const verdict = (await latestVerdict(ctx.store, version.model, version.version)) ?? null;
          const json = { ...version, aliases, bundle, bundleUrl, run, dataset: dataset && `${dataset.dataset}@${dataset.version}`, evaluation, verdict };
          const lines = [
            `${version.model}@${version.version}${aliases.length ? ` (${aliases.join(', ')})` : ''}`,
            `  created   ${version.createdAt} by ${version.createdBy}`,
            `  metrics   ${formatMetrics(version.metrics)}`,
            `  bundle    ${bundleUrl}`,
          ];
          if (run) lines.push(`  run       ${run.id} (${run.status}) on ${run.host}, ${run.startedAt} → ${run.endedAt ?? '…'}`);
          if (dataset) lines.push(`  data      ${dataset.dataset}@${dataset.version} sha256 ${dataset.contentHash.slice(0, 12)}…`);
          const split = run?.params.split as { eval?: number; seed?: number; trainRows?: number; evalRows?: number } | undefined;
          if (split) lines.push(`  split     ${split.trainRows} train / ${split.evalRows} held out (eval ${split.eval}, seed ${split.seed})`);
          if (run) lines.push(`  config    sha256 ${run.configHash.slice(0, 12)}…`);
          const top = evaluation.importance?.features.slice(0, 5);
          if (top?.length) lines.push(`  importance ${top.map((f) => `${f.feature} +${formatNumber(f.degradation)}`).join(', ')} (${evaluation.importance!.metric} when shuffled)`);
          if (verdict) lines.push(`  blessing  ${(await blessing()).describeVerdict(verdict)[0]}`);
          const charts = Object.keys(evaluation.charts);
          if (charts.length > 0) lines.push(`  charts    ${charts.join(', ')} (held-out split) in ${dirname(Object.values(evaluation.charts)[0]!)}`);
          return { json, human: lines.join('\n') };
        }),
      ),
    );

  models
    .command('promote')
    .description(`Point an alias (default: ${DEFAULT_ALIAS}) at a model version`)
    .argument('<model@version>', 'the version to promote')
    .option('--alias <alias>', 'alias to set', DEFAULT_ALIAS)
    .option('--reason <text>', 'why, for the event log')
    .option('--force', 'promote even a version that is not blessed (recorded in the event log)')
    .action(
      action(async (io, ref: string, opts: { alias: string; reason?: string; force?: boolean }) =>
        withContext(io.globals, async (ctx) => {
          const { name, selector } = parseRef(ref);
          if (!selector || !/^\d+$/.test(selector)) {
            throw new AtelierError('USAGE', `promote needs MODEL@VERSION with a version number, got "${ref}"`, { field: 'model@version' });
          }
          const result = await promoteModelVersion(ctx, name, Number(selector), opts.alias, opts.reason, { force: opts.force });
          return {
            json: result,
            human: `${name}@${result.version} is now ${result.alias}${result.previous !== null ? ` (was version ${result.previous})` : ''}${result.forced ? ' (forced: not blessed)' : ''}`,
          };
        }),
      ),
    );

  models
    .command('validate')
    .description('Bless or not: check a version against its config\'s validation section and the current champion, on the same held-out rows; the verdict is recorded')
    .argument('<model@version>', 'the version to validate')
    .action(
      action(async (io, ref: string) =>
        withContext(io.globals, async (ctx) => {
          const { name, selector } = parseRef(ref);
          const version = await resolveModelVersion(ctx, name, selector);
          const { validateModelVersion, describeVerdict } = await blessing();
          const verdict = await validateModelVersion(ctx, version.model, version.version);
          if (!verdict.blessed) process.exitCode = 1; // scripts can gate on it
          return { json: verdict, human: describeVerdict(verdict).join('\n') };
        }),
      ),
    );

  models
    .command('rollback')
    .description(`Move an alias (default: ${DEFAULT_ALIAS}) back to the version it pointed at before its last move; again walks further back`)
    .argument('<model>', 'the model whose alias moves back')
    .option('--alias <alias>', 'alias to roll back', DEFAULT_ALIAS)
    .option('--reason <text>', 'why, for the event log')
    .action(
      action(async (io, name: string, opts: { alias: string; reason?: string }) =>
        withContext(io.globals, async (ctx) => {
          if (name.includes('@')) throw new AtelierError('USAGE', `rollback takes a model name (the alias goes in --alias), got "${name}"`, { field: 'model' });
          const result = await rollbackAlias(ctx, name, opts.alias, opts.reason);
          return {
            json: result,
            human: `${name}@${result.alias} rolled back from version ${result.from} to version ${result.to}${result.reason ? ` (${result.reason})` : ''}`,
          };
        }),
      ),
    );

  models
    .command('versions')
    .description('Every version of a model: aliases, headline metric, run, dataset, who and when')
    .argument('<model>', 'model name')
    .action(
      action(async (io, name: string) =>
        withContext(io.globals, async (ctx) => {
          await resolveModelVersion(ctx, parseRef(name).name, 'latest'); // a clear error for an unknown model
          const summary = { name: parseRef(name).name, versions: await modelVersions(ctx, parseRef(name).name) };
          const origins = await importOrigins(ctx.store, summary.name);
          const versions = [];
          for (const v of [...summary.versions].sort((x, y) => x.version - y.version)) {
            const { run, imported } = await provenance(ctx, v, origins);
            const m = headlineMetric(v.metrics);
            versions.push({
              version: v.version,
              aliases: v.aliases,
              metric: m ?? null,
              metrics: v.metrics,
              runId: v.runId,
              run: run ? { id: run.id, status: run.status, family: run.family } : null,
              dataset: run?.dataset ? { name: run.dataset.name, version: run.dataset.version, contentHash: run.dataset.contentHash } : null,
              imported: imported ? { from: imported.original, at: imported.at } : null,
              bundleHash: v.bundleHash,
              createdBy: v.createdBy,
              createdAt: v.createdAt,
            });
          }
          const rows = versions.map((v) => [
            v.version,
            v.aliases.join(',') || '-',
            v.metric ? `${v.metric.name} ${formatNumber(v.metric.value)}` : '-',
            v.runId ?? (v.imported ? `imported ${v.imported.from}` : '-'),
            v.dataset ? `${v.dataset.name}@${v.dataset.version}` : '-',
            v.createdBy,
            v.createdAt,
          ]);
          return {
            json: { model: summary.name, versions },
            human: `${summary.name}\n` + indent(table(['VERSION', 'ALIASES', 'METRIC', 'RUN', 'DATASET', 'BY', 'CREATED'], rows)),
          };
        }),
      ),
    );

  models
    .command('diff')
    .description('Compare two versions (of one model or two): config fields, metrics, dataset, bundle')
    .argument('<a>', 'model@version or model@alias')
    .argument('<b>', 'model@version or model@alias')
    .option('--recorded', "compare the metrics recorded at training (each on its own held-out rows) instead of measuring both on B's held-out rows")
    .action(
      action(async (io, a: string, b: string, opts: { recorded?: boolean }) =>
        withContext(io.globals, async (ctx) => {
          const [va, vb] = [await resolveRef(ctx, a), await resolveRef(ctx, b)];
          const [{ diffModelVersions, metricChanges }, { metricsOnSameRows }] = await Promise.all([import('../../registry/diff.js'), import('../../evaluation/same-rows.js')]);
          const diff = await diffModelVersions(ctx, va, vb);
          const measured = opts.recorded ? undefined : await metricsOnSameRows(ctx, va, vb);
          if (measured) {
            diff.metrics = metricChanges(measured.a, measured.b);
            diff.metricsOn = { sameRows: true, ...measured.data };
          } else if (!opts.recorded) {
            diff.metricsOn = { sameRows: false, note: `${vb.model}@${vb.version} has no training data on record to measure both on: recorded metrics, each from its own held-out rows` };
          }
          return { json: diff, human: renderDiff(diff) };
        }),
      ),
    );

  models
    .command('export')
    .description('Write a model version as a .tgz archive: its bundle and a manifest (metrics, run, source workspace)')
    .argument('<model>', 'model@version or model@alias')
    .argument('<file>', 'archive to write (e.g. model.tgz)')
    .action(
      action(async (io, ref: string, file: string) =>
        withContext(io.globals, async (ctx) => {
          const { exportModelVersion } = await import('../../registry/transfer.js');
          const result = await exportModelVersion(ctx, await resolveRef(ctx, ref), file);
          return {
            json: result,
            human: `Exported ${result.model}@${result.version} (${result.files} bundle files, ${result.bytes} bytes) → ${result.file}`,
          };
        }),
      ),
    );

  models
    .command('import')
    .description('Register a model archive (from `models export`) as the next version, after checking every bundle file')
    .argument('<file>', 'archive written by `atelier models export`')
    .option('--name <model>', 'register under this model name (default: the archive\'s)')
    .action(
      action(async (io, file: string, opts: { name?: string }) =>
        withContext(io.globals, async (ctx) => {
          const { importModelArchive } = await import('../../registry/transfer.js');
          const result = await importModelArchive(ctx, file, { name: opts.name });
          return {
            json: result,
            human: `Imported ${result.original} as ${result.model}@${result.version}\n  bundle    ${result.bundle}`,
          };
        }),
      ),
    );
}
