import { writeFileSync } from 'node:fs';
import { readArtifactText } from '../store/artifacts.js';
import { AtelierError } from '../core/errors.js';
import { sha256 } from '../core/hash.js';
import { currentUser, nowIso } from '../core/identity.js';
import type { AtelierContext } from '../store/context.js';
import type { DataSchemaRecord, DatasetVersionRecord } from '../store/types.js';
import { compareStatistics, type StatisticsComparison } from './drift.js';
import { inferSchema, loadSchema, parseSchema, schemaToYaml, type DataSchema } from './schema.js';
import { checkStatistics, computeStatistics, type DatasetStatistics } from './statistics.js';
import { validateDataset, type Anomaly } from './validate.js';

/**
 * A dataset version's statistics: computed once in DuckDB, kept as a JSON artifact and reused by
 * stats, validation, drift and skew.
 */
export async function datasetStatistics(ctx: AtelierContext, version: DatasetVersionRecord): Promise<DatasetStatistics> {
  const stored = version.statistics ?? (await ctx.store.getDatasetVersionById(version.id))?.statistics;
  if (stored && (await ctx.artifacts.has(stored))) return checkStatistics(JSON.parse(await readArtifactText(ctx.artifacts, stored)));
  const statistics = await computeStatistics(await ctx.artifacts.localPath(version.artifact), version.columns);
  const temp = ctx.artifacts.tempPath('.json');
  writeFileSync(temp, JSON.stringify(statistics));
  const { key } = await ctx.artifacts.putFile(temp, '.json');
  await ctx.store.setDatasetStatistics(version.id, key);
  version.statistics = key;
  return statistics;
}

/** Records a schema as the next version of the dataset's schema (identical content: the same). */
export async function saveDataSchema(ctx: AtelierContext, dataset: string, schema: DataSchema, source: string): Promise<DataSchemaRecord> {
  const text = schemaToYaml(schema);
  const contentHash = sha256(text);
  const latest = await ctx.store.getDataSchema(dataset);
  if (latest?.contentHash === contentHash) return latest;
  const temp = ctx.artifacts.tempPath('.yaml');
  writeFileSync(temp, text);
  const { key } = await ctx.artifacts.putFile(temp, '.yaml');
  return ctx.store.transaction(async (tx) => {
    const record = await tx.addDataSchema({ dataset, contentHash, artifact: key, source, createdAt: nowIso(), createdBy: currentUser() });
    await tx.appendEvent({ kind: 'schema.saved', subject: `${dataset} schema v${record.version}`, details: { source, contentHash } });
    return record;
  });
}

export async function loadDataSchema(ctx: AtelierContext, record: DataSchemaRecord): Promise<DataSchema> {
  return parseSchema(await readArtifactText(ctx.artifacts, record.artifact), `${record.dataset} schema v${record.version}`);
}

/** Infers a schema from a version's statistics and records it as the dataset's next schema version. */
export async function inferDataSchema(
  ctx: AtelierContext,
  version: DatasetVersionRecord,
  options: { label?: string; maxDomainSize?: number } = {},
): Promise<{ schema: DataSchema; record: DataSchemaRecord }> {
  const statistics = await datasetStatistics(ctx, version);
  const schema = inferSchema(statistics, options);
  const record = await saveDataSchema(ctx, version.dataset, schema, `inferred from ${version.dataset}@${version.version}`);
  return { schema, record };
}

export interface VersionValidation {
  dataset: string;
  version: number;
  schema: string;
  against?: string;
  anomalies: Anomaly[];
  errors: number;
  warnings: number;
}

/**
 * Validates a version against a schema (a file, else the dataset's latest schema version) and,
 * with `against`, checks drift and row-count change against another version.
 */
export async function validateVersion(
  ctx: AtelierContext,
  version: DatasetVersionRecord,
  options: { schemaFile?: string; against?: DatasetVersionRecord; environment?: string } = {},
): Promise<VersionValidation> {
  let schema: DataSchema;
  let schemaName: string;
  if (options.schemaFile) {
    schema = loadSchema(options.schemaFile);
    schemaName = options.schemaFile;
  } else {
    const record = await ctx.store.getDataSchema(version.dataset);
    if (!record) {
      throw new AtelierError(
        'DATASET_NOT_FOUND',
        `dataset ${version.dataset} has no schema yet; run \`atelier data schema infer ${version.dataset}@${version.version}\` or pass --schema FILE`,
        { field: 'schema' },
      );
    }
    schema = await loadDataSchema(ctx, record);
    schemaName = `${record.dataset} schema v${record.version}`;
  }
  const computed = await datasetStatistics(ctx, version);
  const against = options.against ? await datasetStatistics(ctx, options.against) : undefined;
  const { anomalies } = await validateDataset(await ctx.artifacts.localPath(version.artifact), version.columns, schema, {
    computed,
    against,
    environment: options.environment,
  });
  return {
    dataset: version.dataset,
    version: version.version,
    schema: schemaName,
    against: options.against ? `${options.against.dataset}@${options.against.version}` : undefined,
    anomalies,
    errors: anomalies.filter((a) => a.severity === 'error').length,
    warnings: anomalies.filter((a) => a.severity === 'warning').length,
  };
}

/** Drift between two versions' statistics (computed once each, then compared in memory). */
export async function driftBetween(ctx: AtelierContext, base: DatasetVersionRecord, other: DatasetVersionRecord): Promise<StatisticsComparison> {
  const schemaRecord = await ctx.store.getDataSchema(base.dataset);
  const schema = schemaRecord ? await loadDataSchema(ctx, schemaRecord) : undefined;
  return compareStatistics(await datasetStatistics(ctx, base), await datasetStatistics(ctx, other), schema, { kind: 'drift' });
}
