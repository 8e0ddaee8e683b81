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

/**
 * The metadata store: datasets, runs, model versions, aliases and the event log.
 * Kept deliberately small (MLflow's grew to dozens of methods). Conveniences live in the layers
 * above (data/, registry/). A write that spans rows goes through `transaction`.
 * Implementations: SQLite (embedded default); PostgreSQL through the same Kysely code.
 */
export interface MetadataStore {
  transaction<T>(work: (tx: MetadataStore) => Promise<T>): Promise<T>;
  close(): Promise<void>;

  insertDatasetVersion(record: DatasetVersionRecord): Promise<void>;
  /** Latest version when `version` is omitted. */
  getDatasetVersion(dataset: string, version?: number): Promise<DatasetVersionRecord | undefined>;
  getDatasetVersionById(id: string): Promise<DatasetVersionRecord | undefined>;
  findDatasetVersionByHash(dataset: string, contentHash: string): Promise<DatasetVersionRecord | undefined>;
  listDatasetVersions(dataset?: string): Promise<DatasetVersionRecord[]>;
  setDatasetStatistics(id: string, artifact: string): Promise<void>;

  insertDataSchema(record: DataSchemaRecord): Promise<void>;
  /** Latest version when `version` is omitted. */
  getDataSchema(dataset: string, version?: number): Promise<DataSchemaRecord | undefined>;

  insertRun(record: RunRecord): Promise<void>;
  updateRun(id: string, patch: Partial<Pick<RunRecord, 'status' | 'endedAt' | 'error' | 'params'>>): Promise<void>;
  getRun(id: string): Promise<RunRecord | undefined>;
  /** The run's process is alive: sets heartbeat_at (only while the run is running). */
  heartbeatRun(id: string, at: string): Promise<void>;
  /** Ends a run that is still running (killed, or failed when its process vanished); false when it had already ended. */
  endRun(id: string, end: RunEnd): Promise<boolean>;
  /** Runs whose status is `running`, oldest first. */
  listRunningRuns(): Promise<RunRecord[]>;
  logMetrics(runId: string, points: MetricPoint[]): Promise<void>;
  getMetrics(runId: string): Promise<MetricPoint[]>;

  insertModelVersion(record: ModelVersionRecord): Promise<void>;
  /** Latest version when `version` is omitted. */
  getModelVersion(model: string, version?: number): Promise<ModelVersionRecord | undefined>;
  listModelVersions(model?: string): Promise<ModelVersionRecord[]>;

  setAlias(record: AliasRecord): Promise<void>;
  listAliases(model?: string): Promise<AliasRecord[]>;

  appendEvent(event: NewEvent): Promise<void>;

  /** Pipeline metadata (ML Metadata): inserting an artifact id that exists keeps the first record. */
  putArtifact(record: ArtifactRecord): Promise<void>;
  getArtifact(id: string): Promise<ArtifactRecord | undefined>;
  insertExecution(record: ExecutionRecord): Promise<void>;
  updateExecution(id: string, patch: Partial<Pick<ExecutionRecord, 'state' | 'endedAt' | 'error' | 'properties'>>): Promise<void>;
  /** Oldest first. */
  listExecutions(filter: { pipeline?: string; pipelineRun?: string; cacheKey?: string; step?: string; state?: ExecutionState }): Promise<ExecutionRecord[]>;
  insertExecutionEvents(events: ExecutionEvent[]): Promise<void>;
  listExecutionEvents(filter: { executionId?: string; artifactId?: string }): Promise<ExecutionEvent[]>;
  /**
   * Every artifact key the metadata refers to (dataset Parquet and statistics, schemas, bundles,
   * pipeline and monitoring artifacts, finished runs' bundles): what `atelier gc` keeps. A table
   * that stores an artifact key must be listed here.
   */
  referencedArtifactKeys(): Promise<string[]>;
  /** Oldest first; `afterSeq` keeps only events after that one (a cheap poll for news). */
  listEvents(options?: { limit?: number; kind?: string; afterSeq?: number }): Promise<EventRecord[]>;
}
