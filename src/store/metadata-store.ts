import type {
  Added,
  AliasMove,
  AliasRecord,
  ArtifactRecord,
  ExecutionState,
  DataSchemaRecord,
  DatasetVersionRecord,
  EventFilter,
  EventRecord,
  ExecutionEvent,
  ExecutionRecord,
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
  RunFilter,
  RunEnd,
  RunRecord,
  VerdictRecord,
} from './types.js';

/**
 * The metadata store, the system of record: datasets, runs (with parents, typed parameters and
 * step metrics), experiments, model versions, aliases with their history, verdicts, pipeline
 * metadata and the event log (the audit trail). Conveniences live in the layers above (data/,
 * registry/). A write that spans rows goes through `transaction`. Every list is paginated.
 * One implementation (Kysely) on SQLite (embedded default) and PostgreSQL.
 */
export interface MetadataStore {
  readonly dialect: 'sqlite' | 'postgres';
  transaction<T>(work: (tx: MetadataStore) => Promise<T>): Promise<T>;
  close(): Promise<void>;

  /** Adds the next version of a dataset (numbered atomically); the same content hash returns the version holding it. */
  addDatasetVersion(record: NewDatasetVersion): Promise<Added<DatasetVersionRecord>>;
  /** Latest version when `version` is omitted. */
  getDatasetVersion(dataset: string, version?: number): Promise<DatasetVersionRecord | undefined>;
  getDatasetVersionById(id: string): Promise<DatasetVersionRecord | undefined>;
  findDatasetVersionByHash(dataset: string, contentHash: string): Promise<DatasetVersionRecord | undefined>;
  /** By dataset, then version. */
  listDatasetVersions(filter?: { dataset?: string }, page?: PageRequest): Promise<Page<DatasetVersionRecord>>;
  setDatasetStatistics(id: string, artifact: string): Promise<void>;

  /** Adds the next version of a dataset's schema (numbered atomically). */
  addDataSchema(record: Omit<DataSchemaRecord, 'version'>): Promise<DataSchemaRecord>;
  /** Latest version when `version` is omitted. */
  getDataSchema(dataset: string, version?: number): Promise<DataSchemaRecord | undefined>;

  /** Records an experiment; one that exists is kept as it is. */
  putExperiment(record: ExperimentRecord): Promise<void>;
  getExperiment(name: string): Promise<ExperimentRecord | undefined>;
  listExperiments(page?: PageRequest): Promise<Page<ExperimentRecord>>;

  insertRun(record: RunRecord): Promise<void>;
  updateRun(id: string, patch: Partial<Pick<RunRecord, 'status' | 'endedAt' | 'error' | 'params'>>): Promise<void>;
  getRun(id: string): Promise<RunRecord | undefined>;
  /** Oldest first (start time, then id). */
  listRuns(filter?: RunFilter, page?: PageRequest): Promise<Page<RunRecord>>;
  /** The run's process is alive: sets heartbeat_at (only while the run is running). */
  heartbeatRun(id: string, at: string): Promise<void>;
  /** Ends a run that is still running (killed, or failed when its process vanished); false when it had already ended. */
  endRun(id: string, end: RunEnd): Promise<boolean>;
  /** Runs whose status is `running`, oldest first. */
  listRunningRuns(): Promise<RunRecord[]>;
  logMetrics(runId: string, points: MetricPoint[]): Promise<void>;
  getMetrics(runId: string): Promise<MetricPoint[]>;

  /**
   * Adds the next version of a model, numbered atomically (a unique key and a retry). A run
   * registers at most one version: for a run id already registered it returns that version.
   */
  addModelVersion(record: NewModelVersion): Promise<Added<ModelVersionRecord>>;
  /** Latest version when `version` is omitted. */
  getModelVersion(model: string, version?: number): Promise<ModelVersionRecord | undefined>;
  /** By model, then version. */
  listModelVersions(filter?: { model?: string }, page?: PageRequest): Promise<Page<ModelVersionRecord>>;

  getAlias(model: string, alias: string): Promise<AliasRecord | undefined>;
  /** By model, then alias; `model` may name several. */
  listAliases(filter?: { model?: string | string[]; version?: number }, page?: PageRequest): Promise<Page<AliasRecord>>;
  /**
   * Inside a transaction: holds the alias until commit, so that moves of one alias (read where it
   * points, decide, move) never interleave. PostgreSQL: an advisory transaction lock; SQLite: the
   * write lock BEGIN IMMEDIATE took already.
   */
  lockAlias(model: string, alias: string): Promise<void>;
  /** Points an alias at `move.to` and records the move in the alias history; watchers hear of it on commit. */
  moveAlias(move: NewAliasMove): Promise<AliasMove>;
  /** Oldest first; `until` (ISO time) keeps the moves made at or before it. */
  listAliasMoves(filter?: { model?: string; alias?: string; until?: string }, page?: PageRequest): Promise<Page<AliasMove>>;
  /**
   * Calls `onChange` after an alias moved or a model version was added, in this process or any
   * other on the same store (PostgreSQL: LISTEN/NOTIFY; SQLite: a change counter checked every
   * `checkMs`). Returns the function that stops watching.
   */
  watchRegistry(onChange: () => void, options?: { checkMs?: number }): Promise<() => Promise<void>>;

  addVerdict(verdict: NewVerdict): Promise<VerdictRecord>;
  /** The version's most recent verdict. */
  getLatestVerdict(model: string, version: number): Promise<VerdictRecord | undefined>;

  appendEvent(event: NewEvent): Promise<void>;
  listEvents(filter?: EventFilter, page?: PageRequest): Promise<Page<EventRecord>>;

  /** Pipeline metadata (ML Metadata): inserting an artifact id that exists keeps the first record. */
  putArtifact(record: ArtifactRecord): Promise<void>;
  getArtifact(id: string): Promise<ArtifactRecord | undefined>;
  insertExecution(record: ExecutionRecord): Promise<void>;
  updateExecution(id: string, patch: Partial<Pick<ExecutionRecord, 'state' | 'endedAt' | 'error' | 'properties'>>): Promise<void>;
  /** Oldest first. */
  listExecutions(filter: { pipeline?: string; pipelineRun?: string; cacheKey?: string; step?: string; state?: ExecutionState }, page?: PageRequest): Promise<Page<ExecutionRecord>>;
  insertExecutionEvents(events: ExecutionEvent[]): Promise<void>;
  listExecutionEvents(filter: { executionId?: string; artifactId?: string }, page?: PageRequest): Promise<Page<ExecutionEvent>>;
  /**
   * Every artifact key the metadata refers to (dataset Parquet and statistics, schemas, bundles,
   * pipeline and monitoring artifacts, finished runs' bundles): what `atelier gc` keeps. A table
   * that stores an artifact key must be listed here.
   */
  referencedArtifactKeys(): Promise<string[]>;
}
