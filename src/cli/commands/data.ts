import type { Command } from 'commander';
import { parseRef } from '../../core/config.js';
import { headRows, importDataset, listDatasets, resolveDataset } from '../../data/datasets.js';
import { allItems } from '../../store/pages.js';
import { columnsTable, formatDuration, table } from '../output.js';
import { action, withContext } from '../runner.js';
import { registerDataQuality } from './data-quality.js';

export function registerData(program: Command): void {
  const data = program.command('data').description('Datasets: import, inspect, statistics, schema, validation, drift');
  registerDataQuality(data);

  data
    .command('import')
    .description('Import CSV/TSV (gzip too), Parquet or JSON Lines (a file, a glob or a folder) as a content-hashed dataset version')
    .argument('<source>', 'file, glob such as "data/part-*.csv", or folder')
    .requiredOption('--name <name>', 'dataset name')
    .action(
      action(async (io, file: string, opts: { name: string }) =>
        withContext(io.globals, async (ctx) => {
          const started = performance.now();
          const { version, existing } = await importDataset(ctx, file, opts.name);
          return {
            json: { ...version, existing },
            human: existing
              ? `${version.dataset}@${version.version} already holds this content (sha256 ${version.contentHash.slice(0, 12)}…); nothing new imported`
              : [
                  `Imported ${version.dataset}@${version.version}: ${version.rowCount} rows, ${version.columns.length} columns in ${formatDuration(performance.now() - started)}`,
                  `  sha256 ${version.contentHash}`,
                  columnsTable(version.columns),
                ].join('\n'),
          };
        }),
      ),
    );

  data
    .command('list')
    .description('List datasets with their latest version')
    .action(
      action(async (io) =>
        withContext(io.globals, async (ctx) => {
          const datasets = await listDatasets(ctx);
          return {
            json: { datasets },
            human:
              datasets.length === 0
                ? 'No datasets yet. Import one with `atelier data import FILE --name NAME`.'
                : table(
                    ['DATASET', 'VERSIONS', 'LATEST', 'ROWS', 'COLUMNS', 'CREATED'],
                    datasets.map((d) => [d.name, d.versions, d.latest.version, d.latest.rowCount, d.latest.columns.length, d.latest.createdAt]),
                  ),
          };
        }),
      ),
    );

  data
    .command('versions')
    .description('List the versions of a dataset')
    .argument('<name>', 'dataset name')
    .action(
      action(async (io, name: string) =>
        withContext(io.globals, async (ctx) => {
          await resolveDataset(ctx, name);
          const versions = await allItems((page) => ctx.store.listDatasetVersions({ dataset: name }, page));
          return {
            json: { versions },
            human: table(
              ['VERSION', 'ROWS', 'COLUMNS', 'SHA256', 'SOURCE', 'BY', 'CREATED'],
              versions.map((v) => [v.version, v.rowCount, v.columns.length, v.contentHash.slice(0, 12), v.source, v.createdBy, v.createdAt]),
            ),
          };
        }),
      ),
    );

  data
    .command('show')
    .description('Show one dataset version: source, hash, columns and types')
    .argument('<dataset>', 'NAME or NAME@VERSION')
    .action(
      action(async (io, ref: string) =>
        withContext(io.globals, async (ctx) => {
          const { name, selector } = parseRef(ref);
          const v = await resolveDataset(ctx, name, selector);
          return {
            json: v,
            human: [
              `${v.dataset}@${v.version}: ${v.rowCount} rows, ${v.columns.length} columns`,
              `  source  ${v.source}`,
              `  sha256  ${v.contentHash}`,
              `  stored  ${ctx.artifacts.locationOf(v.artifact)}`,
              `  by      ${v.createdBy}, ${v.createdAt}`,
              columnsTable(v.columns),
            ].join('\n'),
          };
        }),
      ),
    );

  data
    .command('head')
    .description('Print the first rows of a dataset version')
    .argument('<dataset>', 'NAME or NAME@VERSION')
    .option('-n, --rows <n>', 'how many rows', '10')
    .action(
      action(async (io, ref: string, opts: { rows: string }) =>
        withContext(io.globals, async (ctx) => {
          const { name, selector } = parseRef(ref);
          const v = await resolveDataset(ctx, name, selector);
          const rows = await headRows(ctx, v, Number(opts.rows));
          const names = v.columns.map((c) => c.name);
          return {
            json: { dataset: v.dataset, version: v.version, rows },
            human: table(names, rows.map((r) => names.map((n) => (r[n] === null ? '' : String(r[n]))))),
          };
        }),
      ),
    );
}
