/** Records the metadata store keeps. Plain JSON-able objects; JSON-valued columns are parsed. */

export interface DatasetColumn {
  name: string;
  /** Atelier's logical type: int, float, string, bool, timestamp. */
  type: 'int' | 'float' | 'string' | 'bool' | 'timestamp';
  /** The engine's own type name (DuckDB), kept for diagnostics. */
  sourceType: string;
}

export interface DatasetVersionRecord {
  id: string;
  dataset: string;
  version: number;
  contentHash: string;
  rowCount: number;
  columns: DatasetColumn[];
  source: string;
  /** Artifact key (relative to the artifact store) of the data as Parquet. */
  artifact: string;
  /** Artifact key of the version's statistics (JSON), once computed. */
  statistics?: string | null;
  createdAt: string;
  createdBy: string;
}

/** A version of a dataset's editable data schema (YAML kept as an artifact). */
export type NewDatasetVersion = Omit<DatasetVersionRecord, 'version'>;

export interface DataSchemaRecord {
  dataset: string;
  version: number;
  contentHash: string;
  artifact: string;
  /** Where it came from: "inferred from housing@1" or the file it was saved from. */
  source: string;
  createdAt: string;
  createdBy: string;
}

/** One page of a list, in the list's order; `next` is the cursor of the following page (null: none). */
export interface Page<T> {
  items: T[];
  next: string | null;
}

/** Which page: at most `limit` items (default 100, at most 1000) after `cursor` (from the previous page). */
export interface PageRequest {
  limit?: number;
  cursor?: string;
}

/** `killed`: stopped by Ctrl-C or SIGTERM; `failed`: an error, or its process vanished. */
export type RunStatus = 'running' | 'finished' | 'failed' | 'killed';

export interface RunRecord {
  id: string;
  model: string;
  status: RunStatus;
  config: unknown;
  configHash: string;
  datasetVersionId: string;
  /** The run this one belongs to (a tuning study's trial: the study's run). */
  parentRunId: string | null;
  /** The experiment grouping it (a tuning study, a comparison); null: none. */
  experiment: string | null;
  /** Kept whole as JSON; scalar leaves are also indexed as typed parameters (`listRuns` filters on them). */
  params: Record<string, unknown>;
  startedAt: string;
  endedAt: string | null;
  user: string;
  host: string;
  error: string | null;
  /** Last sign of life of a running run's process (written every few seconds while it runs). */
  heartbeatAt: string | null;
  /** The process (on `host`) running it. */
  pid: number | null;
}

/** How a run that is still `running` is ended by someone other than its own success. */
export interface RunEnd {
  status: 'failed' | 'killed';
  endedAt: string;
  error: string;
}

/** Runs to list: every field given must match; `param` compares one typed parameter (dotted key for nested ones). */
export interface RunFilter {
  model?: string;
  experiment?: string;
  parentRunId?: string;
  status?: RunStatus;
  param?: { key: string; equals?: number | string | boolean; atLeast?: number; atMost?: number };
}

export interface ExperimentRecord {
  name: string;
  description: string | null;
  createdAt: string;
  createdBy: string;
}

export interface MetricPoint {
  key: string;
  step: number;
  value: number;
}

export interface ModelVersionRecord {
  model: string;
  version: number;
  runId: string | null;
  bundleUri: string;
  bundleHash: string;
  metrics: Record<string, number>;
  createdAt: string;
  createdBy: string;
  description: string | null;
}

/** A model version to add: the store allocates its number. */
export type NewModelVersion = Omit<ModelVersionRecord, 'version'>;

/** What adding a versioned record did: the record, and whether it is new (false: one for the same run or content was there). */
export interface Added<T> {
  record: T;
  created: boolean;
}

export interface AliasRecord {
  model: string;
  alias: string;
  version: number;
  updatedAt: string;
}

/** One move of an alias (the alias_history table): a promotion or a rollback. */
export interface AliasMove {
  /** Order of the moves (ascending). */
  seq: number;
  at: string;
  user: string;
  kind: 'promoted' | 'rolled_back';
  model: string;
  alias: string;
  /** The version the alias pointed at before the move (null: the alias was new). */
  from: number | null;
  to: number;
  reason: string | null;
}

export type NewAliasMove = Omit<AliasMove, 'seq' | 'at' | 'user'> & { at?: string; user?: string };

/** A validation verdict as stored (the verdicts table); `details` is the whole verdict. */
export interface VerdictRecord {
  seq: number;
  model: string;
  version: number;
  blessed: boolean;
  details: Record<string, unknown>;
  at: string;
  user: string;
}

export type NewVerdict = Omit<VerdictRecord, 'seq' | 'at' | 'user'> & { at?: string; user?: string };

export interface EventRecord {
  seq: number;
  at: string;
  user: string;
  kind: string;
  subject: string;
  details: Record<string, unknown>;
}

export type NewEvent = Omit<EventRecord, 'seq' | 'at' | 'user'> & { at?: string; user?: string };

/** Events to list; newest first when `newestFirst` (history), else oldest first. */
export interface EventFilter {
  kind?: string;
  subject?: string;
  newestFirst?: boolean;
}

/** ML Metadata's artifact: something a pipeline step read or wrote (a file, a dataset version, a model version...). */
export interface ArtifactRecord {
  /** Stable for the same thing: `type:fingerprint`, so recording it twice is a no-op. */
  id: string;
  type: string;
  /** Where it is: a path, `housing@3`, `houses@2`, an artifact key. */
  uri: string;
  /** Content identity: a sha256, a bundle hash, a dataset content hash. */
  fingerprint: string;
  properties: Record<string, unknown>;
  createdAt: string;
}

export type ExecutionState = 'running' | 'complete' | 'cached' | 'failed';

/** One step of one pipeline run (ML Metadata's execution). */
export interface ExecutionRecord {
  id: string;
  pipeline: string;
  pipelineRun: string;
  step: string;
  state: ExecutionState;
  /** sha256 of the step's settings and the fingerprints of its inputs. */
  cacheKey: string;
  properties: Record<string, unknown>;
  startedAt: string;
  endedAt: string | null;
  error: string | null;
}

/** Joins an execution to an artifact it read (input) or wrote (output), under a name. */
export interface ExecutionEvent {
  executionId: string;
  artifactId: string;
  kind: 'input' | 'output';
  name: string;
}
