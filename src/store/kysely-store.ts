import { Migrator, type Kysely, type Transaction } from 'kysely';
import { currentUser, nowIso } from '../core/identity.js';
import type { MetadataStore } from './metadata-store.js';
import { migrationProvider, type Dialect } from './migrations.js';
import type {
  AliasRecord,
  ArtifactRecord,
  ExecutionEvent,
  ExecutionRecord,
  ExecutionState,
  DataSchemaRecord,
  DatasetVersionRecord,
  EventRecord,
  MetricPoint,
  ModelVersionRecord,
  NewEvent,
  RunEnd,
  RunRecord,
} from './types.js';

interface Tables {
  dataset_versions: {
    id: string;
    dataset: string;
    version: number;
    content_hash: string;
    row_count: number | string;
    columns_json: string;
    source: string;
    artifact: string;
    statistics?: string | null;
    created_at: string;
    created_by: string;
  };
  data_schemas: {
    dataset: string;
    version: number;
    content_hash: string;
    artifact: string;
    source: string;
    created_at: string;
    created_by: string;
  };
  runs: {
    id: string;
    model: string;
    status: string;
    config_json: string;
    config_hash: string;
    dataset_version_id: string;
    params_json: string;
    started_at: string;
    ended_at: string | null;
    user_name: string;
    host: string;
    error: string | null;
    heartbeat_at: string | null;
    pid: number | null;
  };
  run_metrics: { run_id: string; key: string; step: number; value: number };
  model_versions: {
    model: string;
    version: number;
    run_id: string | null;
    bundle_uri: string;
    bundle_hash: string;
    metrics_json: string;
    created_at: string;
    created_by: string;
    description: string | null;
  };
  aliases: { model: string; alias: string; version: number; updated_at: string };
  artifacts: { id: string; type: string; uri: string; fingerprint: string; properties_json: string; created_at: string };
  executions: {
    id: string;
    pipeline: string;
    pipeline_run: string;
    step: string;
    state: string;
    cache_key: string;
    properties_json: string;
    started_at: string;
    ended_at: string | null;
    error: string | null;
  };
  execution_events: { execution_id: string; artifact_id: string; kind: string; name: string };
  events: { seq: number | undefined; at: string; user_name: string; kind: string; subject: string; details_json: string };
}

type Db = Kysely<Tables> | Transaction<Tables>;

const toDatasetVersion = (r: Tables['dataset_versions']): DatasetVersionRecord => ({
  id: r.id,
  dataset: r.dataset,
  version: Number(r.version),
  contentHash: r.content_hash,
  rowCount: Number(r.row_count),
  columns: JSON.parse(r.columns_json),
  source: r.source,
  artifact: r.artifact,
  statistics: r.statistics ?? null,
  createdAt: r.created_at,
  createdBy: r.created_by,
});

const toDataSchema = (r: Tables['data_schemas']): DataSchemaRecord => ({
  dataset: r.dataset,
  version: Number(r.version),
  contentHash: r.content_hash,
  artifact: r.artifact,
  source: r.source,
  createdAt: r.created_at,
  createdBy: r.created_by,
});

const toRun = (r: Tables['runs']): RunRecord => ({
  id: r.id,
  model: r.model,
  status: r.status as RunRecord['status'],
  config: JSON.parse(r.config_json),
  configHash: r.config_hash,
  datasetVersionId: r.dataset_version_id,
  params: JSON.parse(r.params_json),
  startedAt: r.started_at,
  endedAt: r.ended_at,
  user: r.user_name,
  host: r.host,
  error: r.error,
  heartbeatAt: r.heartbeat_at ?? null,
  pid: r.pid === null || r.pid === undefined ? null : Number(r.pid),
});

const toModelVersion = (r: Tables['model_versions']): ModelVersionRecord => ({
  model: r.model,
  version: Number(r.version),
  runId: r.run_id,
  bundleUri: r.bundle_uri,
  bundleHash: r.bundle_hash,
  metrics: JSON.parse(r.metrics_json),
  createdAt: r.created_at,
  createdBy: r.created_by,
  description: r.description,
});

const toArtifact = (r: Tables['artifacts']): ArtifactRecord => ({
  id: r.id,
  type: r.type,
  uri: r.uri,
  fingerprint: r.fingerprint,
  properties: JSON.parse(r.properties_json),
  createdAt: r.created_at,
});

const toExecution = (r: Tables['executions']): ExecutionRecord => ({
  id: r.id,
  pipeline: r.pipeline,
  pipelineRun: r.pipeline_run,
  step: r.step,
  state: r.state as ExecutionRecord['state'],
  cacheKey: r.cache_key,
  properties: JSON.parse(r.properties_json),
  startedAt: r.started_at,
  endedAt: r.ended_at,
  error: r.error,
});

/**
 * One implementation of MetadataStore for both SQLite and PostgreSQL: Kysely writes the SQL of
 * each dialect, so there is one body of query code and the two backends cannot drift apart.
 */
export class KyselyMetadataStore implements MetadataStore {
  private constructor(
    private readonly db: Db,
    private readonly root: Kysely<Tables>,
    private readonly inTransaction: boolean,
  ) {}

  static async create(db: Kysely<any>, dialect: Dialect): Promise<KyselyMetadataStore> {
    const migrator = new Migrator({ db, provider: migrationProvider(dialect) });
    const { error, results } = await migrator.migrateToLatest();
    if (error) {
      const failed = results?.find((r) => r.status === 'Error');
      throw new Error(`metadata migration ${failed?.migrationName ?? ''} failed: ${String((error as Error).message ?? error)}`);
    }
    return new KyselyMetadataStore(db as Kysely<Tables>, db as Kysely<Tables>, false);
  }

  async transaction<T>(work: (tx: MetadataStore) => Promise<T>): Promise<T> {
    if (this.inTransaction) return work(this);
    return this.root.transaction().execute((trx) => work(new KyselyMetadataStore(trx, this.root, true)));
  }

  async close(): Promise<void> {
    if (!this.inTransaction) await this.root.destroy();
  }

  async insertDatasetVersion(r: DatasetVersionRecord): Promise<void> {
    await this.db
      .insertInto('dataset_versions')
      .values({
        id: r.id,
        dataset: r.dataset,
        version: r.version,
        content_hash: r.contentHash,
        row_count: r.rowCount,
        columns_json: JSON.stringify(r.columns),
        source: r.source,
        artifact: r.artifact,
        created_at: r.createdAt,
        created_by: r.createdBy,
      })
      .execute();
  }

  async getDatasetVersion(dataset: string, version?: number): Promise<DatasetVersionRecord | undefined> {
    let q = this.db.selectFrom('dataset_versions').selectAll().where('dataset', '=', dataset);
    q = version === undefined ? q.orderBy('version', 'desc').limit(1) : q.where('version', '=', version);
    const row = await q.executeTakeFirst();
    return row && toDatasetVersion(row);
  }

  async getDatasetVersionById(id: string): Promise<DatasetVersionRecord | undefined> {
    const row = await this.db.selectFrom('dataset_versions').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toDatasetVersion(row);
  }

  async findDatasetVersionByHash(dataset: string, contentHash: string): Promise<DatasetVersionRecord | undefined> {
    const row = await this.db
      .selectFrom('dataset_versions')
      .selectAll()
      .where('dataset', '=', dataset)
      .where('content_hash', '=', contentHash)
      .executeTakeFirst();
    return row && toDatasetVersion(row);
  }

  async listDatasetVersions(dataset?: string): Promise<DatasetVersionRecord[]> {
    let q = this.db.selectFrom('dataset_versions').selectAll();
    if (dataset !== undefined) q = q.where('dataset', '=', dataset);
    const rows = await q.orderBy('dataset').orderBy('version').execute();
    return rows.map(toDatasetVersion);
  }

  async setDatasetStatistics(id: string, artifact: string): Promise<void> {
    await this.db.updateTable('dataset_versions').set({ statistics: artifact }).where('id', '=', id).execute();
  }

  async insertDataSchema(r: DataSchemaRecord): Promise<void> {
    await this.db
      .insertInto('data_schemas')
      .values({
        dataset: r.dataset,
        version: r.version,
        content_hash: r.contentHash,
        artifact: r.artifact,
        source: r.source,
        created_at: r.createdAt,
        created_by: r.createdBy,
      })
      .execute();
  }

  async getDataSchema(dataset: string, version?: number): Promise<DataSchemaRecord | undefined> {
    let q = this.db.selectFrom('data_schemas').selectAll().where('dataset', '=', dataset);
    q = version === undefined ? q.orderBy('version', 'desc').limit(1) : q.where('version', '=', version);
    const row = await q.executeTakeFirst();
    return row && toDataSchema(row);
  }

  async insertRun(r: RunRecord): Promise<void> {
    await this.db
      .insertInto('runs')
      .values({
        id: r.id,
        model: r.model,
        status: r.status,
        config_json: JSON.stringify(r.config),
        config_hash: r.configHash,
        dataset_version_id: r.datasetVersionId,
        params_json: JSON.stringify(r.params),
        started_at: r.startedAt,
        ended_at: r.endedAt,
        user_name: r.user,
        host: r.host,
        error: r.error,
        heartbeat_at: r.heartbeatAt,
        pid: r.pid,
      })
      .execute();
  }

  async updateRun(id: string, patch: Partial<Pick<RunRecord, 'status' | 'endedAt' | 'error' | 'params'>>): Promise<void> {
    const values: Partial<Tables['runs']> = {};
    if (patch.status !== undefined) values.status = patch.status;
    if (patch.endedAt !== undefined) values.ended_at = patch.endedAt;
    if (patch.error !== undefined) values.error = patch.error;
    if (patch.params !== undefined) values.params_json = JSON.stringify(patch.params);
    await this.db.updateTable('runs').set(values).where('id', '=', id).execute();
  }

  async getRun(id: string): Promise<RunRecord | undefined> {
    const row = await this.db.selectFrom('runs').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toRun(row);
  }

  async heartbeatRun(id: string, at: string): Promise<void> {
    await this.db.updateTable('runs').set({ heartbeat_at: at }).where('id', '=', id).where('status', '=', 'running').execute();
  }

  async endRun(id: string, end: RunEnd): Promise<boolean> {
    // Conditional on `running`: a run that finished meanwhile, or that another sweeper ended, stays as it is.
    const result = await this.db
      .updateTable('runs')
      .set({ status: end.status, ended_at: end.endedAt, error: end.error })
      .where('id', '=', id)
      .where('status', '=', 'running')
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async listRunningRuns(): Promise<RunRecord[]> {
    const rows = await this.db.selectFrom('runs').selectAll().where('status', '=', 'running').orderBy('started_at').orderBy('id').execute();
    return rows.map(toRun);
  }

  async logMetrics(runId: string, points: MetricPoint[]): Promise<void> {
    if (points.length === 0) return;
    // Chunked: SQLite caps bound parameters per statement.
    for (let i = 0; i < points.length; i += 200) {
      await this.db
        .insertInto('run_metrics')
        .values(points.slice(i, i + 200).map((p) => ({ run_id: runId, key: p.key, step: p.step, value: p.value })))
        .execute();
    }
  }

  async getMetrics(runId: string): Promise<MetricPoint[]> {
    const rows = await this.db
      .selectFrom('run_metrics')
      .select(['key', 'step', 'value'])
      .where('run_id', '=', runId)
      .orderBy('key')
      .orderBy('step')
      .execute();
    return rows.map((r) => ({ key: r.key, step: Number(r.step), value: Number(r.value) }));
  }

  async insertModelVersion(r: ModelVersionRecord): Promise<void> {
    await this.db
      .insertInto('model_versions')
      .values({
        model: r.model,
        version: r.version,
        run_id: r.runId,
        bundle_uri: r.bundleUri,
        bundle_hash: r.bundleHash,
        metrics_json: JSON.stringify(r.metrics),
        created_at: r.createdAt,
        created_by: r.createdBy,
        description: r.description,
      })
      .execute();
  }

  async getModelVersion(model: string, version?: number): Promise<ModelVersionRecord | undefined> {
    let q = this.db.selectFrom('model_versions').selectAll().where('model', '=', model);
    q = version === undefined ? q.orderBy('version', 'desc').limit(1) : q.where('version', '=', version);
    const row = await q.executeTakeFirst();
    return row && toModelVersion(row);
  }

  async listModelVersions(model?: string): Promise<ModelVersionRecord[]> {
    let q = this.db.selectFrom('model_versions').selectAll();
    if (model !== undefined) q = q.where('model', '=', model);
    const rows = await q.orderBy('model').orderBy('version').execute();
    return rows.map(toModelVersion);
  }

  async setAlias(r: AliasRecord): Promise<void> {
    await this.db
      .insertInto('aliases')
      .values({ model: r.model, alias: r.alias, version: r.version, updated_at: r.updatedAt })
      .onConflict((oc) => oc.columns(['model', 'alias']).doUpdateSet({ version: r.version, updated_at: r.updatedAt }))
      .execute();
  }

  async listAliases(model?: string): Promise<AliasRecord[]> {
    let q = this.db.selectFrom('aliases').selectAll();
    if (model !== undefined) q = q.where('model', '=', model);
    const rows = await q.orderBy('model').orderBy('alias').execute();
    return rows.map((r) => ({ model: r.model, alias: r.alias, version: Number(r.version), updatedAt: r.updated_at }));
  }

  async appendEvent(e: NewEvent): Promise<void> {
    await this.db
      .insertInto('events')
      .values({
        seq: undefined,
        at: e.at ?? nowIso(),
        user_name: e.user ?? currentUser(),
        kind: e.kind,
        subject: e.subject,
        details_json: JSON.stringify(e.details),
      })
      .execute();
  }

  async listEvents(options: { limit?: number; kind?: string; afterSeq?: number } = {}): Promise<EventRecord[]> {
    let q = this.db.selectFrom('events').selectAll();
    if (options.kind !== undefined) q = q.where('kind', '=', options.kind);
    if (options.afterSeq !== undefined) q = q.where('seq', '>', options.afterSeq);
    q = q.orderBy('seq', 'asc');
    if (options.limit !== undefined) q = q.limit(options.limit);
    const rows = await q.execute();
    return rows.map((r) => ({
      seq: Number(r.seq),
      at: r.at,
      user: r.user_name,
      kind: r.kind,
      subject: r.subject,
      details: JSON.parse(r.details_json),
    }));
  }

  async referencedArtifactKeys(): Promise<string[]> {
    const keys = new Set<string>();
    const add = (key: string | null | undefined) => {
      if (key) keys.add(key);
    };
    for (const r of await this.db.selectFrom('dataset_versions').select(['artifact', 'statistics']).execute()) {
      add(r.artifact);
      add(r.statistics);
    }
    for (const r of await this.db.selectFrom('data_schemas').select('artifact').execute()) add(r.artifact);
    for (const r of await this.db.selectFrom('model_versions').select('bundle_uri').execute()) add(r.bundle_uri);
    for (const r of await this.db.selectFrom('artifacts').select('uri').execute()) add(r.uri);
    // A finished run trained with --no-register keeps its bundle (params.bundle) until gc'd with its run.
    for (const r of await this.db.selectFrom('runs').select('params_json').where('status', '=', 'finished').execute()) {
      const bundle = (JSON.parse(r.params_json) as { bundle?: unknown }).bundle;
      if (typeof bundle === 'string') add(bundle);
    }
    return [...keys];
  }

  async putArtifact(r: ArtifactRecord): Promise<void> {
    await this.db
      .insertInto('artifacts')
      .values({ id: r.id, type: r.type, uri: r.uri, fingerprint: r.fingerprint, properties_json: JSON.stringify(r.properties), created_at: r.createdAt })
      .onConflict((oc) => oc.column('id').doNothing())
      .execute();
  }

  async getArtifact(id: string): Promise<ArtifactRecord | undefined> {
    const row = await this.db.selectFrom('artifacts').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toArtifact(row);
  }

  async insertExecution(r: ExecutionRecord): Promise<void> {
    await this.db
      .insertInto('executions')
      .values({
        id: r.id,
        pipeline: r.pipeline,
        pipeline_run: r.pipelineRun,
        step: r.step,
        state: r.state,
        cache_key: r.cacheKey,
        properties_json: JSON.stringify(r.properties),
        started_at: r.startedAt,
        ended_at: r.endedAt,
        error: r.error,
      })
      .execute();
  }

  async updateExecution(id: string, patch: Partial<Pick<ExecutionRecord, 'state' | 'endedAt' | 'error' | 'properties'>>): Promise<void> {
    const values: Partial<Tables['executions']> = {};
    if (patch.state !== undefined) values.state = patch.state;
    if (patch.endedAt !== undefined) values.ended_at = patch.endedAt;
    if (patch.error !== undefined) values.error = patch.error;
    if (patch.properties !== undefined) values.properties_json = JSON.stringify(patch.properties);
    await this.db.updateTable('executions').set(values).where('id', '=', id).execute();
  }

  async listExecutions(filter: { pipeline?: string; pipelineRun?: string; cacheKey?: string; step?: string; state?: ExecutionState }): Promise<ExecutionRecord[]> {
    let q = this.db.selectFrom('executions').selectAll();
    if (filter.pipeline !== undefined) q = q.where('pipeline', '=', filter.pipeline);
    if (filter.pipelineRun !== undefined) q = q.where('pipeline_run', '=', filter.pipelineRun);
    if (filter.cacheKey !== undefined) q = q.where('cache_key', '=', filter.cacheKey);
    if (filter.step !== undefined) q = q.where('step', '=', filter.step);
    if (filter.state !== undefined) q = q.where('state', '=', filter.state);
    const rows = await q.orderBy('started_at').orderBy('id').execute();
    return rows.map(toExecution);
  }

  async insertExecutionEvents(events: ExecutionEvent[]): Promise<void> {
    if (events.length === 0) return;
    await this.db
      .insertInto('execution_events')
      .values(events.map((e) => ({ execution_id: e.executionId, artifact_id: e.artifactId, kind: e.kind, name: e.name })))
      .execute();
  }

  async listExecutionEvents(filter: { executionId?: string; artifactId?: string }): Promise<ExecutionEvent[]> {
    let q = this.db.selectFrom('execution_events').selectAll();
    if (filter.executionId !== undefined) q = q.where('execution_id', '=', filter.executionId);
    if (filter.artifactId !== undefined) q = q.where('artifact_id', '=', filter.artifactId);
    const rows = await q.orderBy('execution_id').orderBy('kind').orderBy('name').execute();
    return rows.map((r) => ({ executionId: r.execution_id, artifactId: r.artifact_id, kind: r.kind as ExecutionEvent['kind'], name: r.name }));
  }
}
