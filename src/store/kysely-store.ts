import { Migrator, sql, type Kysely, type SqlBool, type Transaction } from '#kysely';
import { AtelierError, isAtelierError } from '../core/errors.js';
import { currentUser, nowIso } from '../core/identity.js';
import type { MetadataStore } from './metadata-store.js';
import { migrationNames, migrationProvider, type Dialect } from './migrations.js';
import { decodeCursor, encodeCursor, pageSize, toPage } from './pages.js';
import { typedParams } from './params.js';
import type { RegistryChanges } from './registry-changes.js';
import type {
  Added,
  AliasMove,
  AliasRecord,
  ArtifactRecord,
  DataSchemaRecord,
  DatasetVersionRecord,
  EventFilter,
  EventRecord,
  ExecutionEvent,
  ExecutionRecord,
  ExecutionState,
  ExperimentRecord,
  MetricPoint,
  ModelVersionRecord,
  NewAliasMove,
  NewDatasetVersion,
  NewEvent,
  NewModelVersion,
  NewVerdict,
  Page,
  PageRequest,
  RunEnd,
  RunFilter,
  RunRecord,
  VerdictRecord,
} from './types.js';

type Serial = number | string | undefined;

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
  experiments: { name: string; description: string | null; created_at: string; created_by: string };
  runs: {
    id: string;
    model: string;
    status: string;
    config_json: string;
    config_hash: string;
    dataset_version_id: string;
    parent_run_id: string | null;
    experiment: string | null;
    params_json: string;
    started_at: string;
    ended_at: string | null;
    user_name: string;
    host: string;
    error: string | null;
    heartbeat_at: string | null;
    pid: number | null;
  };
  run_params: { run_id: string; key: string; num_value: number | null; text_value: string | null };
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
  alias_history: {
    seq: Serial;
    model: string;
    alias: string;
    kind: string;
    from_version: number | null;
    to_version: number;
    reason: string | null;
    at: string;
    user_name: string;
  };
  verdicts: { seq: Serial; model: string; version: number; blessed: number; details_json: string; at: string; user_name: string };
  registry_changes: { id: number; counter: number | string };
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
  events: { seq: Serial; at: string; user_name: string; kind: string; subject: string; details_json: string };
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

const toExperiment = (r: Tables['experiments']): ExperimentRecord => ({
  name: r.name,
  description: r.description,
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
  parentRunId: r.parent_run_id,
  experiment: r.experiment,
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

const toAlias = (r: Tables['aliases']): AliasRecord => ({ model: r.model, alias: r.alias, version: Number(r.version), updatedAt: r.updated_at });

const toAliasMove = (r: Tables['alias_history']): AliasMove => ({
  seq: Number(r.seq),
  at: r.at,
  user: r.user_name,
  kind: r.kind as AliasMove['kind'],
  model: r.model,
  alias: r.alias,
  from: r.from_version === null ? null : Number(r.from_version),
  to: Number(r.to_version),
  reason: r.reason,
});

const toVerdict = (r: Tables['verdicts']): VerdictRecord => ({
  seq: Number(r.seq),
  model: r.model,
  version: Number(r.version),
  blessed: Number(r.blessed) === 1,
  details: JSON.parse(r.details_json),
  at: r.at,
  user: r.user_name,
});

const toEvent = (r: Tables['events']): EventRecord => ({
  seq: Number(r.seq),
  at: r.at,
  user: r.user_name,
  kind: r.kind,
  subject: r.subject,
  details: JSON.parse(r.details_json),
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

const toExecutionEvent = (r: Tables['execution_events']): ExecutionEvent => ({
  executionId: r.execution_id,
  artifactId: r.artifact_id,
  kind: r.kind as ExecutionEvent['kind'],
  name: r.name,
});

/** `(a, b) > (x, y)`: the keyset condition of a page after the cursor's row (`<` when descending). */
function after(columns: string[], values: (string | number)[], descending = false) {
  const left = sql.join(columns.map((c) => sql.ref(c)));
  const right = sql.join(values.map((v) => sql`${v}`));
  return descending ? sql<SqlBool>`(${left}) < (${right})` : sql<SqlBool>`(${left}) > (${right})`;
}

/** Tries to add the next numbered record before giving up (each try lost a race to another writer). */
const NUMBERING_TRIES = 100;
/** SQLite: a transaction that found the database locked past the busy timeout is tried this many times. */
const BUSY_TRIES = 3;

/**
 * One implementation of MetadataStore for both SQLite and PostgreSQL: Kysely writes the SQL of
 * each dialect, so there is one body of query code and the two backends cannot drift apart.
 */
export class KyselyMetadataStore implements MetadataStore {
  private constructor(
    readonly dialect: Dialect,
    private readonly db: Db,
    private readonly root: Kysely<Tables>,
    private readonly changes: RegistryChanges,
    private readonly inTransaction: boolean,
  ) {}

  /** Migrates to the latest schema (unless it is there already: a cheap read) and opens the store. */
  static async create(db: Kysely<any>, dialect: Dialect, changes: RegistryChanges): Promise<KyselyMetadataStore> {
    if (!(await KyselyMetadataStore.upToDate(db, dialect))) {
      // Kysely's Migrator serializes concurrent starts: an advisory lock on PostgreSQL, the write lock on SQLite.
      const migrator = new Migrator({ db, provider: migrationProvider(dialect) });
      const { error, results } = await migrator.migrateToLatest();
      if (error) {
        if (isAtelierError(error)) throw error;
        const failed = results?.find((r) => r.status === 'Error');
        throw new Error(`metadata migration ${failed?.migrationName ?? ''} failed: ${String((error as Error).message ?? error)}`);
      }
    }
    return new KyselyMetadataStore(dialect, db as Kysely<Tables>, db as Kysely<Tables>, changes, false);
  }

  private static async upToDate(db: Kysely<any>, dialect: Dialect): Promise<boolean> {
    try {
      const done = new Set((await db.selectFrom('kysely_migration').select('name').execute()).map((r) => r.name as string));
      return migrationNames(dialect).every((name) => done.has(name));
    } catch (error) {
      if (isAtelierError(error)) throw error;
      return false; // no migration table yet
    }
  }

  async transaction<T>(work: (tx: MetadataStore) => Promise<T>): Promise<T> {
    if (this.inTransaction) return work(this);
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.root.transaction().execute((trx) => work(new KyselyMetadataStore(this.dialect, trx, this.root, this.changes, true)));
      } catch (error) {
        // SQLite: the write lock stayed taken past the busy timeout; the body ran in a rolled-back transaction, so it may run again.
        if (!(isAtelierError(error) && error.code === 'STORE_BUSY') || attempt >= BUSY_TRIES) throw error;
      }
    }
  }

  async close(): Promise<void> {
    if (!this.inTransaction) await this.root.destroy();
  }

  private async nextVersion(table: 'dataset_versions' | 'data_schemas' | 'model_versions', scope: 'dataset' | 'model', name: string): Promise<number> {
    const row = await (this.db as Kysely<any>)
      .selectFrom(table)
      .select((eb) => eb.fn.max('version').as('latest'))
      .where(scope, '=', name)
      .executeTakeFirst();
    return Number(row?.latest ?? 0) + 1;
  }

  /**
   * Adds a numbered record: the insert carries the next number under a unique key and does
   * nothing on a conflict (another writer took the number, or the record is there already);
   * then `existing` is asked again and the number read afresh. Never latest + 1 outside the write.
   */
  private async addNumbered<T>(
    next: () => Promise<number>,
    existing: () => Promise<T | undefined>,
    insert: (version: number) => Promise<T | undefined>,
  ): Promise<Added<T>> {
    for (let attempt = 0; attempt < NUMBERING_TRIES; attempt++) {
      const found = await existing();
      if (found) return { record: found, created: false };
      const added = await insert(await next());
      if (added) return { record: added, created: true };
    }
    throw new AtelierError('STORE_BUSY', `the metadata store stayed too busy to number a new version (${NUMBERING_TRIES} tries); retry the command`);
  }

  async addDatasetVersion(r: NewDatasetVersion): Promise<Added<DatasetVersionRecord>> {
    return this.addNumbered(
      () => this.nextVersion('dataset_versions', 'dataset', r.dataset),
      () => this.findDatasetVersionByHash(r.dataset, r.contentHash),
      async (version) => {
        const row = await this.db
          .insertInto('dataset_versions')
          .values({
            id: r.id,
            dataset: r.dataset,
            version,
            content_hash: r.contentHash,
            row_count: r.rowCount,
            columns_json: JSON.stringify(r.columns),
            source: r.source,
            artifact: r.artifact,
            statistics: r.statistics ?? null,
            created_at: r.createdAt,
            created_by: r.createdBy,
          })
          .onConflict((oc) => oc.doNothing())
          .returningAll()
          .executeTakeFirst();
        return row && toDatasetVersion(row);
      },
    );
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

  async listDatasetVersions(filter: { dataset?: string } = {}, page?: PageRequest): Promise<Page<DatasetVersionRecord>> {
    const limit = pageSize(page);
    let q = this.db.selectFrom('dataset_versions').selectAll();
    if (filter.dataset !== undefined) q = q.where('dataset', '=', filter.dataset);
    if (page?.cursor) q = q.where(after(['dataset', 'version'], decodeCursor('dataset versions', page.cursor, ['string', 'number'])));
    const rows = await q.orderBy('dataset').orderBy('version').limit(limit + 1).execute();
    return toPage(rows, limit, toDatasetVersion, (d) => encodeCursor('dataset versions', [d.dataset, d.version]));
  }

  async setDatasetStatistics(id: string, artifact: string): Promise<void> {
    await this.db.updateTable('dataset_versions').set({ statistics: artifact }).where('id', '=', id).execute();
  }

  async addDataSchema(r: Omit<DataSchemaRecord, 'version'>): Promise<DataSchemaRecord> {
    const { record } = await this.addNumbered(
      () => this.nextVersion('data_schemas', 'dataset', r.dataset),
      async () => undefined,
      async (version) => {
        const row = await this.db
          .insertInto('data_schemas')
          .values({
            dataset: r.dataset,
            version,
            content_hash: r.contentHash,
            artifact: r.artifact,
            source: r.source,
            created_at: r.createdAt,
            created_by: r.createdBy,
          })
          .onConflict((oc) => oc.doNothing())
          .returningAll()
          .executeTakeFirst();
        return row && toDataSchema(row);
      },
    );
    return record;
  }

  async getDataSchema(dataset: string, version?: number): Promise<DataSchemaRecord | undefined> {
    let q = this.db.selectFrom('data_schemas').selectAll().where('dataset', '=', dataset);
    q = version === undefined ? q.orderBy('version', 'desc').limit(1) : q.where('version', '=', version);
    const row = await q.executeTakeFirst();
    return row && toDataSchema(row);
  }

  async putExperiment(r: ExperimentRecord): Promise<void> {
    await this.db
      .insertInto('experiments')
      .values({ name: r.name, description: r.description, created_at: r.createdAt, created_by: r.createdBy })
      .onConflict((oc) => oc.column('name').doNothing())
      .execute();
  }

  async getExperiment(name: string): Promise<ExperimentRecord | undefined> {
    const row = await this.db.selectFrom('experiments').selectAll().where('name', '=', name).executeTakeFirst();
    return row && toExperiment(row);
  }

  async listExperiments(page?: PageRequest): Promise<Page<ExperimentRecord>> {
    const limit = pageSize(page);
    let q = this.db.selectFrom('experiments').selectAll();
    if (page?.cursor) q = q.where(after(['name'], decodeCursor('experiments', page.cursor, ['string'])));
    const rows = await q.orderBy('name').limit(limit + 1).execute();
    return toPage(rows, limit, toExperiment, (e) => encodeCursor('experiments', [e.name]));
  }

  private async writeParams(runId: string, params: Record<string, unknown>): Promise<void> {
    await this.db.deleteFrom('run_params').where('run_id', '=', runId).execute();
    const rows = typedParams(params).map((p) => ({ run_id: runId, key: p.key, num_value: p.num, text_value: p.text }));
    for (let i = 0; i < rows.length; i += 200) await this.db.insertInto('run_params').values(rows.slice(i, i + 200)).execute();
  }

  async insertRun(r: RunRecord): Promise<void> {
    await this.transaction(async (tx) => {
      const self = tx as KyselyMetadataStore;
      await self.db
        .insertInto('runs')
        .values({
          id: r.id,
          model: r.model,
          status: r.status,
          config_json: JSON.stringify(r.config),
          config_hash: r.configHash,
          dataset_version_id: r.datasetVersionId,
          parent_run_id: r.parentRunId,
          experiment: r.experiment,
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
      await self.writeParams(r.id, r.params);
    });
  }

  async updateRun(id: string, patch: Partial<Pick<RunRecord, 'status' | 'endedAt' | 'error' | 'params'>>): Promise<void> {
    const values: Partial<Tables['runs']> = {};
    if (patch.status !== undefined) values.status = patch.status;
    if (patch.endedAt !== undefined) values.ended_at = patch.endedAt;
    if (patch.error !== undefined) values.error = patch.error;
    if (patch.params !== undefined) values.params_json = JSON.stringify(patch.params);
    if (Object.keys(values).length === 0) return;
    await this.transaction(async (tx) => {
      const self = tx as KyselyMetadataStore;
      await self.db.updateTable('runs').set(values).where('id', '=', id).execute();
      if (patch.params !== undefined) await self.writeParams(id, patch.params);
    });
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


  async listRuns(filter: RunFilter = {}, page?: PageRequest): Promise<Page<RunRecord>> {
    const limit = pageSize(page);
    let q = this.db.selectFrom('runs').selectAll();
    if (filter.model !== undefined) q = q.where('model', '=', filter.model);
    if (filter.experiment !== undefined) q = q.where('experiment', '=', filter.experiment);
    if (filter.parentRunId !== undefined) q = q.where('parent_run_id', '=', filter.parentRunId);
    if (filter.status !== undefined) q = q.where('status', '=', filter.status);
    const param = filter.param;
    if (param) {
      q = q.where((eb) => {
        let p = eb.selectFrom('run_params').select('run_params.run_id').whereRef('run_params.run_id', '=', 'runs.id').where('run_params.key', '=', param.key);
        if (typeof param.equals === 'number') p = p.where('run_params.num_value', '=', param.equals);
        else if (param.equals !== undefined) p = p.where('run_params.text_value', '=', String(param.equals));
        if (param.atLeast !== undefined) p = p.where('run_params.num_value', '>=', param.atLeast);
        if (param.atMost !== undefined) p = p.where('run_params.num_value', '<=', param.atMost);
        return eb.exists(p);
      });
    }
    if (page?.cursor) q = q.where(after(['started_at', 'id'], decodeCursor('runs', page.cursor, ['string', 'string'])));
    const rows = await q.orderBy('started_at').orderBy('id').limit(limit + 1).execute();
    return toPage(rows, limit, toRun, (r) => encodeCursor('runs', [r.startedAt, r.id]));
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

  async addModelVersion(r: NewModelVersion): Promise<Added<ModelVersionRecord>> {
    return this.transaction(async (tx) => {
      const self = tx as KyselyMetadataStore;
      const result = await self.addNumbered(
        () => self.nextVersion('model_versions', 'model', r.model),
        async () => {
          if (r.runId === null) return undefined;
          const row = await self.db.selectFrom('model_versions').selectAll().where('run_id', '=', r.runId).executeTakeFirst();
          return row && toModelVersion(row);
        },
        async (version) => {
          const row = await self.db
            .insertInto('model_versions')
            .values({
              model: r.model,
              version,
              run_id: r.runId,
              bundle_uri: r.bundleUri,
              bundle_hash: r.bundleHash,
              metrics_json: JSON.stringify(r.metrics),
              created_at: r.createdAt,
              created_by: r.createdBy,
              description: r.description,
            })
            .onConflict((oc) => oc.doNothing())
            .returningAll()
            .executeTakeFirst();
          return row && toModelVersion(row);
        },
      );
      if (result.created) await this.changes.bump(self.db as Kysely<any>);
      return result;
    });
  }

  async getModelVersion(model: string, version?: number): Promise<ModelVersionRecord | undefined> {
    let q = this.db.selectFrom('model_versions').selectAll().where('model', '=', model);
    q = version === undefined ? q.orderBy('version', 'desc').limit(1) : q.where('version', '=', version);
    const row = await q.executeTakeFirst();
    return row && toModelVersion(row);
  }

  async listModelVersions(filter: { model?: string } = {}, page?: PageRequest): Promise<Page<ModelVersionRecord>> {
    const limit = pageSize(page);
    let q = this.db.selectFrom('model_versions').selectAll();
    if (filter.model !== undefined) q = q.where('model', '=', filter.model);
    if (page?.cursor) q = q.where(after(['model', 'version'], decodeCursor('model versions', page.cursor, ['string', 'number'])));
    const rows = await q.orderBy('model').orderBy('version').limit(limit + 1).execute();
    return toPage(rows, limit, toModelVersion, (v) => encodeCursor('model versions', [v.model, v.version]));
  }

  async getAlias(model: string, alias: string): Promise<AliasRecord | undefined> {
    const row = await this.db.selectFrom('aliases').selectAll().where('model', '=', model).where('alias', '=', alias).executeTakeFirst();
    return row && toAlias(row);
  }

  async listAliases(filter: { model?: string | string[]; version?: number } = {}, page?: PageRequest): Promise<Page<AliasRecord>> {
    const limit = pageSize(page);
    if (Array.isArray(filter.model) && filter.model.length === 0) return { items: [], next: null };
    let q = this.db.selectFrom('aliases').selectAll();
    if (typeof filter.model === 'string') q = q.where('model', '=', filter.model);
    else if (filter.model !== undefined) q = q.where('model', 'in', filter.model);
    if (filter.version !== undefined) q = q.where('version', '=', filter.version);
    if (page?.cursor) q = q.where(after(['model', 'alias'], decodeCursor('aliases', page.cursor, ['string', 'string'])));
    const rows = await q.orderBy('model').orderBy('alias').limit(limit + 1).execute();
    return toPage(rows, limit, toAlias, (a) => encodeCursor('aliases', [a.model, a.alias]));
  }

  async lockAlias(model: string, alias: string): Promise<void> {
    if (this.dialect === 'postgres') await sql`select pg_advisory_xact_lock(hashtext(${`alias:${model}:${alias}`}))`.execute(this.db);
  }

  async moveAlias(m: NewAliasMove): Promise<AliasMove> {
    const at = m.at ?? nowIso();
    const user = m.user ?? currentUser();
    return this.transaction(async (tx) => {
      const db = (tx as KyselyMetadataStore).db;
      await db
        .insertInto('aliases')
        .values({ model: m.model, alias: m.alias, version: m.to, updated_at: at })
        .onConflict((oc) => oc.columns(['model', 'alias']).doUpdateSet({ version: m.to, updated_at: at }))
        .execute();
      const row = await db
        .insertInto('alias_history')
        .values({ seq: undefined, model: m.model, alias: m.alias, kind: m.kind, from_version: m.from, to_version: m.to, reason: m.reason, at, user_name: user })
        .returningAll()
        .executeTakeFirstOrThrow();
      await this.changes.bump(db as Kysely<any>);
      return toAliasMove(row);
    });
  }

  async listAliasMoves(filter: { model?: string; alias?: string; until?: string } = {}, page?: PageRequest): Promise<Page<AliasMove>> {
    const limit = pageSize(page);
    let q = this.db.selectFrom('alias_history').selectAll();
    if (filter.model !== undefined) q = q.where('model', '=', filter.model);
    if (filter.alias !== undefined) q = q.where('alias', '=', filter.alias);
    if (filter.until !== undefined) q = q.where('at', '<=', filter.until);
    if (page?.cursor) q = q.where(after(['seq'], decodeCursor('alias moves', page.cursor, ['number'])));
    const rows = await q.orderBy('seq').limit(limit + 1).execute();
    return toPage(rows, limit, toAliasMove, (m) => encodeCursor('alias moves', [m.seq]));
  }

  async watchRegistry(onChange: () => void, options: { checkMs?: number } = {}): Promise<() => Promise<void>> {
    return this.changes.watch(this.root as Kysely<any>, onChange, options.checkMs ?? 200);
  }

  async addVerdict(v: NewVerdict): Promise<VerdictRecord> {
    const row = await this.db
      .insertInto('verdicts')
      .values({
        seq: undefined,
        model: v.model,
        version: v.version,
        blessed: v.blessed ? 1 : 0,
        details_json: JSON.stringify(v.details),
        at: v.at ?? nowIso(),
        user_name: v.user ?? currentUser(),
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toVerdict(row);
  }

  async getLatestVerdict(model: string, version: number): Promise<VerdictRecord | undefined> {
    const row = await this.db
      .selectFrom('verdicts')
      .selectAll()
      .where('model', '=', model)
      .where('version', '=', version)
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row && toVerdict(row);
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

  async listEvents(filter: EventFilter = {}, page?: PageRequest): Promise<Page<EventRecord>> {
    const limit = pageSize(page);
    const descending = filter.newestFirst === true;
    let q = this.db.selectFrom('events').selectAll();
    if (filter.kind !== undefined) q = q.where('kind', '=', filter.kind);
    if (filter.subject !== undefined) q = q.where('subject', '=', filter.subject);
    if (page?.cursor) q = q.where(after(['seq'], decodeCursor('events', page.cursor, ['number']), descending));
    const rows = await q.orderBy('seq', descending ? 'desc' : 'asc').limit(limit + 1).execute();
    return toPage(rows, limit, toEvent, (e) => encodeCursor('events', [e.seq]));
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

  async listExecutions(
    filter: { pipeline?: string; pipelineRun?: string; cacheKey?: string; step?: string; state?: ExecutionState },
    page?: PageRequest,
  ): Promise<Page<ExecutionRecord>> {
    const limit = pageSize(page);
    let q = this.db.selectFrom('executions').selectAll();
    if (filter.pipeline !== undefined) q = q.where('pipeline', '=', filter.pipeline);
    if (filter.pipelineRun !== undefined) q = q.where('pipeline_run', '=', filter.pipelineRun);
    if (filter.cacheKey !== undefined) q = q.where('cache_key', '=', filter.cacheKey);
    if (filter.step !== undefined) q = q.where('step', '=', filter.step);
    if (filter.state !== undefined) q = q.where('state', '=', filter.state);
    if (page?.cursor) q = q.where(after(['started_at', 'id'], decodeCursor('executions', page.cursor, ['string', 'string'])));
    const rows = await q.orderBy('started_at').orderBy('id').limit(limit + 1).execute();
    return toPage(rows, limit, toExecution, (e) => encodeCursor('executions', [e.startedAt, e.id]));
  }

  async insertExecutionEvents(events: ExecutionEvent[]): Promise<void> {
    if (events.length === 0) return;
    await this.db
      .insertInto('execution_events')
      .values(events.map((e) => ({ execution_id: e.executionId, artifact_id: e.artifactId, kind: e.kind, name: e.name })))
      .execute();
  }

  async listExecutionEvents(filter: { executionId?: string; artifactId?: string }, page?: PageRequest): Promise<Page<ExecutionEvent>> {
    const limit = pageSize(page);
    let q = this.db.selectFrom('execution_events').selectAll();
    if (filter.executionId !== undefined) q = q.where('execution_id', '=', filter.executionId);
    if (filter.artifactId !== undefined) q = q.where('artifact_id', '=', filter.artifactId);
    if (page?.cursor) {
      q = q.where(after(['execution_id', 'kind', 'name'], decodeCursor('execution events', page.cursor, ['string', 'string', 'string'])));
    }
    const rows = await q.orderBy('execution_id').orderBy('kind').orderBy('name').limit(limit + 1).execute();
    return toPage(rows, limit, toExecutionEvent, (e) => encodeCursor('execution events', [e.executionId, e.kind, e.name]));
  }
}
