import { writeFileAtomic } from '../../core/files.js';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { parseRef } from '../../core/config.js';
import { resolveDataset } from '../../data/datasets.js';
import { datasetStatistics, driftBetween, inferDataSchema, loadDataSchema, saveDataSchema, validateVersion } from '../../data/profile.js';
import { loadSchema, schemaToYaml } from '../../data/schema.js';
import { statisticsPage, statisticsRows, STATISTICS_HEADERS } from '../../data/stats-view.js';
import { AtelierError } from '../../core/errors.js';
import type { AtelierContext } from '../../store/context.js';
import { formatDuration, table } from '../output.js';
import { action, withContext, type CommandResult } from '../runner.js';

async function datasetRef(ctx: AtelierContext, ref: string) {
  const { name, selector } = parseRef(ref);
  return resolveDataset(ctx, name, selector);
}

/** Statistics, schemas, validation and drift: the data-quality commands under `atelier data`. */
export function registerDataQuality(data: Command): void {
  data
    .command('stats')
    .description('Statistics per feature (computed once in DuckDB, then reused), with a small histogram each')
    .argument('<dataset>', 'NAME or NAME@VERSION')
    .option('--html <file>', 'also write a self-contained page with Vega-Lite histograms')
    .option('--label <column>', "mark this column as the label on the page (default: the dataset schema's label)")
    .action(
      action(async (io, ref: string, opts: { html?: string; label?: string }) =>
        withContext(io.globals, async (ctx) => {
          const started = performance.now();
          const version = await datasetRef(ctx, ref);
          const stats = await datasetStatistics(ctx, version);
          let html: string | undefined;
          if (opts.html) {
            html = resolve(opts.html);
            const schema = opts.label === undefined ? await ctx.store.getDataSchema(version.dataset) : undefined;
            const label = opts.label ?? (schema ? (await loadDataSchema(ctx, schema)).label : undefined);
            if (label !== undefined && !(label in stats.features)) {
              throw new AtelierError('COLUMN_NOT_FOUND', `--label ${label}: no such column in ${version.dataset}@${version.version}; it has ${Object.keys(stats.features).join(', ')}`, {
                field: 'label',
              });
            }
            writeFileAtomic(html, await statisticsPage(`${version.dataset}@${version.version}`, stats, label));
          }
          return {
            json: { dataset: version.dataset, version: version.version, html, statistics: stats },
            human: [
              `${version.dataset}@${version.version}: ${stats.rowCount} rows, ${Object.keys(stats.features).length} features (${formatDuration(performance.now() - started)})`,
              table(STATISTICS_HEADERS, statisticsRows(stats)),
              ...(html ? [`Histograms: ${html}`] : []),
            ].join('\n'),
          };
        }),
      ),
    );

  const schema = data.command('schema').description('The editable data schema of a dataset: types, presence, domains, drift thresholds');
  schema
    .command('infer')
    .description('Infer a schema from a version\'s statistics, record it as the next schema version and write it as YAML')
    .argument('<dataset>', 'NAME or NAME@VERSION')
    .option('-o, --output <file>', 'YAML file to write (default: <name>.schema.yaml)')
    .option('--label <column>', 'the label: required in training, absent at serving')
    .option('--max-domain <n>', 'largest set of string values kept as a domain', '20')
    .action(
      action(async (io, ref: string, opts: { output?: string; label?: string; maxDomain: string }) =>
        withContext(io.globals, async (ctx) => {
          const version = await datasetRef(ctx, ref);
          const { schema: inferred, record } = await inferDataSchema(ctx, version, { label: opts.label, maxDomainSize: Number(opts.maxDomain) });
          const output = resolve(opts.output ?? `${version.dataset}.schema.yaml`);
          writeFileAtomic(output, schemaToYaml(inferred));
          return {
            json: { ...record, file: output, schema: inferred },
            human: `Inferred ${version.dataset} schema v${record.version} from ${version.dataset}@${version.version} (${Object.keys(inferred.features).length} features) → ${output}\nEdit it, then record it with: atelier data schema save ${output} --dataset ${version.dataset}`,
          };
        }),
      ),
    );
  schema
    .command('save')
    .description('Record an edited schema file as the next schema version of a dataset')
    .argument('<file>', 'schema YAML')
    .requiredOption('--dataset <name>', 'dataset it describes')
    .action(
      action(async (io, file: string, opts: { dataset: string }) =>
        withContext(io.globals, async (ctx) => {
          await resolveDataset(ctx, opts.dataset);
          const record = await saveDataSchema(ctx, opts.dataset, loadSchema(file), resolve(file));
          return { json: record, human: `${opts.dataset} schema v${record.version} (sha256 ${record.contentHash.slice(0, 12)}…)` };
        }),
      ),
    );
  schema
    .command('show')
    .description('Print a schema version of a dataset as YAML')
    .argument('<dataset>', 'dataset name')
    .option('--version <n>', 'schema version (default: latest)')
    .action(
      action(async (io, name: string, opts: { version?: string }) =>
        withContext(io.globals, async (ctx) => {
          const record = await ctx.store.getDataSchema(name, opts.version === undefined ? undefined : Number(opts.version));
          if (!record) throw new AtelierError('DATASET_NOT_FOUND', `dataset ${name} has no schema${opts.version ? ` version ${opts.version}` : ''}`, { field: 'dataset' });
          const loaded = await loadDataSchema(ctx, record);
          return { json: { ...record, schema: loaded }, human: schemaToYaml(loaded).trimEnd() };
        }),
      ),
    );

  data
    .command('validate')
    .description('List anomalies of a version against a schema, and drift against another version; exit 1 on any error')
    .argument('<dataset>', 'NAME@VERSION')
    .option('--schema <file>', 'schema YAML (default: the dataset\'s latest schema version)')
    .option('--against <dataset>', 'another version (NAME@VERSION) to check drift and row count against')
    .option('--environment <env>', 'TRAINING or SERVING (the label may be absent at serving)')
    .action(
      action(async (io, ref: string, opts: { schema?: string; against?: string; environment?: string }): Promise<CommandResult<unknown>> =>
        withContext(io.globals, async (ctx) => {
          const version = await datasetRef(ctx, ref);
          const against = opts.against ? await datasetRef(ctx, opts.against) : undefined;
          const result = await validateVersion(ctx, version, { schemaFile: opts.schema, against, environment: opts.environment });
          const human =
            result.anomalies.length === 0
              ? `${result.dataset}@${result.version}: no anomalies against ${result.schema}${result.against ? ` and ${result.against}` : ''}`
              : [
                  `${result.dataset}@${result.version} against ${result.schema}${result.against ? ` and ${result.against}` : ''}: ${result.errors} errors, ${result.warnings} warnings`,
                  table(
                    ['SEVERITY', 'FEATURE', 'KIND', 'WHAT'],
                    result.anomalies.map((a) => [a.severity, a.feature ?? '(dataset)', a.kind, a.message]),
                  ),
                ].join('\n');
          if (result.errors > 0) {
            // Anomalies are the answer, not a crash: print them, then exit 1 as the issue asks.
            process.exitCode = 1;
          }
          return { json: result, human };
        }),
      ),
    );

  data
    .command('drift')
    .description('Distance between two versions per feature (Jensen-Shannon for numbers, L-infinity for categories)')
    .argument('<base>', 'NAME@VERSION')
    .argument('<other>', 'NAME@VERSION')
    .action(
      action(async (io, baseRef: string, otherRef: string) =>
        withContext(io.globals, async (ctx) => {
          const base = await datasetRef(ctx, baseRef);
          const other = await datasetRef(ctx, otherRef);
          const comparison = await driftBetween(ctx, base, other);
          const rows = Object.entries(comparison.features).map(([name, f]) => [
            name,
            f.metric ?? '-',
            f.distance === null || f.distance === undefined ? '-' : f.distance.toFixed(4),
            f.threshold === undefined || f.threshold === null ? '-' : String(f.threshold),
            f.crossed ? 'DRIFT' : '',
          ]);
          return {
            json: { base: `${base.dataset}@${base.version}`, other: `${other.dataset}@${other.version}`, ...comparison },
            human: `${base.dataset}@${base.version} → ${other.dataset}@${other.version}: ${comparison.crossed.length} features drifted${comparison.crossed.length ? ` (${comparison.crossed.join(', ')})` : ''}\n${table(['FEATURE', 'METRIC', 'DISTANCE', 'THRESHOLD', ''], rows)}`,
          };
        }),
      ),
    );
}
