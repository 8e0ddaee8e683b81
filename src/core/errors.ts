/**
 * Errors are a table: each code has an HTTP status, a CLI exit code and a sentence template.
 * The structured facts (file, line, column, field, feature, expected...) travel with the error;
 * the message is rendered at the edge (CLI line, HTTP `{"error": ...}` body).
 * docs/errors.md documents every code; a test keeps the two in step.
 */

export interface ErrorFacts {
  file?: string;
  line?: number;
  column?: string;
  field?: string;
  feature?: string;
  expected?: string;
  got?: string;
  [key: string]: unknown;
}

interface ErrorSpec {
  status: number;
  /** Exit code of the CLI: 1 for a user error, 2 for a usage error. */
  exit: 1 | 2;
  summary: string;
}

export const ERROR_CODES = {
  USAGE: { status: 400, exit: 2, summary: 'The command line is malformed.' },
  WORKSPACE_NOT_FOUND: { status: 500, exit: 1, summary: 'No atelier.yaml in this folder or above it.' },
  WORKSPACE_EXISTS: { status: 409, exit: 1, summary: 'The folder already holds a workspace.' },
  FILE_NOT_FOUND: { status: 404, exit: 1, summary: 'A file named on the command line or in a config does not exist.' },
  FILE_UNREADABLE: { status: 403, exit: 1, summary: 'A file exists but this process may not read it.' },
  CSV_INVALID: { status: 400, exit: 1, summary: 'A CSV file cannot be read: ragged row, broken quoting, empty file, bad header.' },
  DATA_FILE_INVALID: { status: 400, exit: 1, summary: 'A Parquet or JSON Lines file cannot be read, or files imported together disagree.' },
  DATA_ANOMALIES: { status: 400, exit: 1, summary: 'Training refused: the data breaks its schema (override with --allow-anomalies).' },
  CONFIG_INVALID: { status: 400, exit: 1, summary: 'A YAML config breaks its schema; the field is named.' },
  DATASET_NOT_FOUND: { status: 404, exit: 1, summary: 'No dataset (or version) by that name.' },
  COLUMN_NOT_FOUND: { status: 400, exit: 1, summary: 'A config names a column the dataset does not have.' },
  COLUMN_TYPE: { status: 400, exit: 1, summary: 'A column does not have the type the model needs.' },
  EXPRESSION_INVALID: { status: 400, exit: 1, summary: 'A derived feature\'s SQL expression does not parse or type-check, or fails on a row.' },
  DATA_TOO_SMALL: { status: 400, exit: 1, summary: 'Too few rows to train or evaluate.' },
  MODEL_NOT_FOUND: { status: 404, exit: 1, summary: 'No registered model by that name.' },
  VERSION_NOT_FOUND: { status: 404, exit: 1, summary: 'The model has no such version.' },
  ALIAS_NOT_FOUND: { status: 400, exit: 1, summary: 'The model has no such alias (TF Serving: label).' },
  INPUT_INVALID: { status: 400, exit: 1, summary: 'A prediction input is missing a feature or has a value of the wrong type.' },
  REQUEST_INVALID: { status: 400, exit: 1, summary: 'An HTTP request body is malformed.' },
  BUNDLE_INVALID: { status: 500, exit: 1, summary: 'A model bundle or archive cannot be trusted: a file or manifest field does not match its hash, a path is unsafe, or an archive breaks its caps.' },
  MODEL_NOT_BLESSED: { status: 409, exit: 1, summary: 'Promotion refused: the version failed (or never had) validation against its champion; --force overrides, and is recorded.' },
  MODEL_NOT_READY: { status: 503, exit: 1, summary: 'The model is not loaded yet.' },
  UNAUTHORIZED: { status: 401, exit: 1, summary: 'The server wants a bearer token and the request has none or a wrong one.' },
  QUEUE_FULL: { status: 429, exit: 1, summary: "The model's request queue is full." },
  REQUEST_TIMEOUT: { status: 504, exit: 1, summary: 'A request took longer than the server allows.' },
  TRAINING_FAILED: { status: 500, exit: 1, summary: 'Training diverged or produced no usable model.' },
  PORT_IN_USE: { status: 500, exit: 1, summary: 'The server cannot listen on the port asked for.' },
  ARTIFACT_NOT_FOUND: { status: 404, exit: 1, summary: 'A recorded artifact (dataset file, statistics, bundle) is missing from the artifact store.' },
  ARTIFACT_CORRUPT: { status: 500, exit: 1, summary: 'A downloaded artifact does not match the hash its key names.' },
  ARTIFACT_BUCKET_NOT_FOUND: { status: 500, exit: 1, summary: "The artifact store's bucket does not exist." },
  ARTIFACT_ACCESS_DENIED: { status: 500, exit: 1, summary: 'The artifact store refused the credentials, or there are none.' },
  ARTIFACT_STORE_UNREACHABLE: { status: 503, exit: 1, summary: 'The artifact store (its endpoint) cannot be reached.' },
  ARTIFACT_STORE_FAILED: { status: 500, exit: 1, summary: 'The artifact store answered a request with another error.' },
  STORE_BUSY: { status: 503, exit: 1, summary: 'The metadata store stayed locked by other writers past the wait (SQLite); nothing was written: retry the command.' },
  STORE_UNREACHABLE: { status: 503, exit: 1, summary: 'The metadata store (PostgreSQL) cannot be reached at the host and port of its URL.' },
  STORE_AUTH_FAILED: { status: 500, exit: 1, summary: 'The metadata store (PostgreSQL) refused the user or password of its URL.' },
  STORE_DATABASE_MISSING: { status: 500, exit: 1, summary: 'The database the store URL names does not exist on the PostgreSQL server.' },
  DISK_FULL: { status: 507, exit: 1, summary: 'A write failed because the disk (or the database server) is full; the path is named.' },
  INTERNAL: { status: 500, exit: 1, summary: 'An error Atelier did not expect (a bug); --debug prints the stack.' },
  TEAM_STORE_REQUIRED: { status: 400, exit: 1, summary: 'Jobs, workers and --queue need a team store (postgres://); this workspace is embedded (SQLite).' },
  QUEUE_UNREACHABLE: { status: 503, exit: 1, summary: "The job queue's PostgreSQL cannot be reached, or refuses the credentials." },
  JOB_NOT_FOUND: { status: 404, exit: 1, summary: 'No job with that id in the queue.' },
  JOB_FAILED: { status: 500, exit: 1, summary: 'A queued job failed on every attempt, or was cancelled.' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERROR_CODES;

export class AtelierError extends Error {
  readonly code: ErrorCode;
  readonly facts: ErrorFacts;

  constructor(code: ErrorCode, message: string, facts: ErrorFacts = {}) {
    super(message);
    this.name = 'AtelierError';
    this.code = code;
    this.facts = facts;
  }

  get status(): number {
    return ERROR_CODES[this.code].status;
  }

  get exitCode(): 1 | 2 {
    return ERROR_CODES[this.code].exit;
  }

  toJSON(): { code: ErrorCode; message: string } & ErrorFacts {
    return { code: this.code, message: this.message, ...this.facts };
  }
}

export function isAtelierError(error: unknown): error is AtelierError {
  return error instanceof AtelierError;
}
