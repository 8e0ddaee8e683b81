import { SqlRuntimeError } from './errors.js';
import { compareValues, roundHalfAway, toText, type SqlType, type Value } from './values.js';

/**
 * The functions an expression may call, each with DuckDB's semantics (checked against DuckDB in
 * test/derived-sql.test.ts). One table: the checker reads `args` and `returns`, the evaluator
 * `apply`. Unless `acceptsNull`, a NULL argument makes the result NULL without calling `apply`.
 */
export type ArgKind = 'number' | 'integer' | 'text' | 'any';

export interface SqlFunction {
  /** Kinds of the arguments; the ones past `required` are optional. `rest` repeats the last kind. */
  args: ArgKind[];
  required: number;
  rest?: boolean;
  /** All arguments share one type (least, greatest, coalesce, nullif); the result has it. */
  unify?: boolean;
  returns: SqlType | ((argTypes: SqlType[]) => SqlType);
  acceptsNull?: boolean;
  apply(args: Value[], argTypes: SqlType[]): Value;
}

function logarithm(base: (x: number) => number) {
  return (x: number): number => {
    if (x === 0) throw new SqlRuntimeError('cannot take logarithm of zero');
    if (x < 0) throw new SqlRuntimeError('cannot take logarithm of a negative number');
    return base(x);
  };
}

const ln = logarithm(Math.log);
const log10 = logarithm(Math.log10);
const log2 = logarithm(Math.log2);

/** C's pow where JavaScript's differs: 1 to any power, and -1 to an infinite power, are 1. */
function power(base: number, exponent: number): number {
  if (base === 1 || (base === -1 && (exponent === Number.POSITIVE_INFINITY || exponent === Number.NEGATIVE_INFINITY))) return 1;
  return base ** exponent;
}

/** DuckDB's round(x, digits) on doubles; a result that overflows leaves x (or 0) as DuckDB does. */
function roundDigits(x: number, digits: number, type: SqlType): number {
  if (type === 'INTEGER') {
    if (digits >= 0) return x;
    const modifier = 10 ** -digits;
    return roundHalfAway(x / modifier) * modifier;
  }
  if (digits < 0) {
    const modifier = 10 ** -digits;
    const rounded = roundHalfAway(x / modifier) * modifier;
    return Number.isFinite(rounded) ? rounded : 0;
  }
  const modifier = 10 ** digits;
  const rounded = roundHalfAway(x * modifier) / modifier;
  return Number.isFinite(rounded) ? rounded : x;
}

/** DuckDB's substring: 1-based start, 0 is one before the first character, negative counts from the end. */
function substring(text: string, start: number, length?: number): string {
  const chars = Array.from(text);
  const begin = start > 0 ? start - 1 : start < 0 ? chars.length + start : -1;
  let [from, to] = length === undefined ? [begin, chars.length] : length >= 0 ? [begin, begin + length] : [begin + length, begin];
  from = Math.max(0, from);
  to = Math.min(chars.length, to);
  return to > from ? chars.slice(from, to).join('') : '';
}

const num = (v: Value) => v as number;
const text = (v: Value) => v as string;
const sameAsFirst = (types: SqlType[]) => types[0]!;

function extreme(sign: 1 | -1) {
  return (args: Value[]): Value => {
    let best: Value = null;
    for (const v of args) if (v !== null && (best === null || sign * compareValues(v as number | string, best as number | string) > 0)) best = v;
    return best;
  };
}

export const SQL_FUNCTIONS: Record<string, SqlFunction> = {
  abs: { args: ['number'], required: 1, returns: sameAsFirst, apply: ([x]) => Math.abs(num(x)) },
  sign: { args: ['number'], required: 1, returns: 'INTEGER', apply: ([x]) => (num(x) > 0 ? 1 : num(x) < 0 ? -1 : 0) },
  sqrt: {
    args: ['number'],
    required: 1,
    returns: 'DOUBLE',
    apply([x]) {
      if (num(x) < 0) throw new SqlRuntimeError('cannot take square root of a negative number');
      return Math.sqrt(num(x));
    },
  },
  ln: { args: ['number'], required: 1, returns: 'DOUBLE', apply: ([x]) => ln(num(x)) },
  log10: { args: ['number'], required: 1, returns: 'DOUBLE', apply: ([x]) => log10(num(x)) },
  log2: { args: ['number'], required: 1, returns: 'DOUBLE', apply: ([x]) => log2(num(x)) },
  // DuckDB's log(x) is base 10, not e; log(b, x) is base b.
  log: {
    args: ['number', 'number'],
    required: 1,
    returns: 'DOUBLE',
    apply(args) {
      if (args.length === 1) return log10(num(args[0]!));
      const [base, x] = [num(args[0]!), num(args[1]!)];
      const denominator = ln(base);
      const numerator = ln(x);
      if (denominator === 0) throw new SqlRuntimeError('division by zero in based logarithm');
      return numerator / denominator;
    },
  },
  exp: { args: ['number'], required: 1, returns: 'DOUBLE', apply: ([x]) => Math.exp(num(x)) },
  pow: { args: ['number', 'number'], required: 2, returns: 'DOUBLE', apply: ([a, b]) => power(num(a), num(b)) },
  floor: { args: ['number'], required: 1, returns: 'DOUBLE', apply: ([x]) => Math.floor(num(x)) },
  ceil: { args: ['number'], required: 1, returns: 'DOUBLE', apply: ([x]) => Math.ceil(num(x)) },
  round: {
    args: ['number', 'integer'],
    required: 1,
    returns: sameAsFirst,
    apply: (args, types) => roundDigits(num(args[0]!), args.length > 1 ? num(args[1]!) : 0, types[0]!),
  },
  least: { args: ['any'], required: 1, rest: true, unify: true, returns: sameAsFirst, acceptsNull: true, apply: extreme(-1) },
  greatest: { args: ['any'], required: 1, rest: true, unify: true, returns: sameAsFirst, acceptsNull: true, apply: extreme(1) },
  coalesce: { args: ['any'], required: 1, rest: true, unify: true, returns: sameAsFirst, acceptsNull: true, apply: (args) => args.find((v) => v !== null) ?? null },
  nullif: {
    args: ['any', 'any'],
    required: 2,
    unify: true,
    returns: sameAsFirst,
    acceptsNull: true,
    apply: ([a, b]) => (a !== null && b !== null && compareValues(a, b) === 0 ? null : a!),
  },
  lower: { args: ['text'], required: 1, returns: 'VARCHAR', apply: ([s]) => text(s).toLowerCase() },
  upper: { args: ['text'], required: 1, returns: 'VARCHAR', apply: ([s]) => text(s).toUpperCase() },
  length: { args: ['text'], required: 1, returns: 'INTEGER', apply: ([s]) => Array.from(text(s)).length },
  // concat skips NULLs (the || operator does not).
  concat: {
    args: ['any'],
    required: 1,
    rest: true,
    returns: 'VARCHAR',
    acceptsNull: true,
    apply: (args, types) => args.map((v, i) => toText(v, types[i]!) ?? '').join(''),
  },
  substr: {
    args: ['text', 'integer', 'integer'],
    required: 2,
    returns: 'VARCHAR',
    apply: (args) => substring(text(args[0]!), num(args[1]!), args.length > 2 ? num(args[2]!) : undefined),
  },
};

// Aliases DuckDB accepts.
SQL_FUNCTIONS.power = SQL_FUNCTIONS.pow!;
SQL_FUNCTIONS.ceiling = SQL_FUNCTIONS.ceil!;
SQL_FUNCTIONS.substring = SQL_FUNCTIONS.substr!;
