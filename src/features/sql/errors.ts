/**
 * What went wrong in an expression and where (0-based offset): a parse error says what was
 * expected and what was found; a check error (unknown function, mixed types) says what is wrong.
 * The feature layer turns these into AtelierErrors that name the feature.
 */
export class SqlError extends Error {
  constructor(
    readonly position: number,
    readonly expected: string,
    readonly found?: string,
  ) {
    super(found === undefined ? expected : `expected ${expected}, found ${found}`);
    this.name = 'SqlError';
  }
}

/** An expression names a column the table does not have. */
export class SqlUnknownColumn extends Error {
  constructor(
    readonly position: number,
    readonly column: string,
  ) {
    super(`no column "${column}"`);
    this.name = 'SqlUnknownColumn';
  }
}

/** Evaluation failed on a value, as DuckDB fails the query (square root of a negative, bad cast). */
export class SqlRuntimeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SqlRuntimeError';
  }
}
