import { SqlRuntimeError } from './errors.js';

/**
 * Values and types of the expression language. Numbers are float64 whatever their SQL type;
 * INTEGER and DOUBLE differ only where DuckDB's answer differs: text formatting, `%` by zero,
 * and what CAST, round and abs return. NULL is `null`, never NaN: NaN and ±Infinity are values,
 * as in DuckDB (1/0 is Infinity, 0/0 NaN).
 */
export type Value = number | string | boolean | null;

export type SqlType = 'INTEGER' | 'DOUBLE' | 'VARCHAR' | 'BOOLEAN' | 'NULL';

export function isNumericType(type: SqlType): boolean {
  return type === 'INTEGER' || type === 'DOUBLE';
}

/**
 * DuckDB's ordering: NaN equals NaN and sorts above every number; text compares by code unit
 * (DuckDB compares UTF-8 bytes; the two differ only past the Basic Multilingual Plane).
 */
export function compareValues(a: number | string | boolean, b: number | string | boolean): number {
  if (typeof a === 'number' && typeof b === 'number') {
    if (Number.isNaN(a)) return Number.isNaN(b) ? 0 : 1;
    if (Number.isNaN(b)) return -1;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A DOUBLE as DuckDB prints it: the shortest round-trip digits, exponent below 1e-4 and from 1e16. */
export function formatDouble(value: number): string {
  if (Number.isNaN(value)) return 'nan';
  if (!Number.isFinite(value)) return value > 0 ? 'inf' : '-inf';
  if (value === 0) return Object.is(value, -0) ? '-0.0' : '0.0';
  const [mantissa, exponentText] = value.toExponential().split('e') as [string, string];
  const exponent = Number(exponentText);
  if (exponent < -4 || exponent >= 16) {
    return `${mantissa}e${exponent < 0 ? '-' : '+'}${String(Math.abs(exponent)).padStart(2, '0')}`;
  }
  const negative = mantissa.startsWith('-');
  const digits = mantissa.replace('-', '').replace('.', '');
  let text: string;
  if (exponent < 0) text = `0.${'0'.repeat(-exponent - 1)}${digits}`;
  else if (digits.length > exponent + 1) text = `${digits.slice(0, exponent + 1)}.${digits.slice(exponent + 1)}`;
  else text = `${digits}${'0'.repeat(exponent + 1 - digits.length)}.0`;
  return negative ? `-${text}` : text;
}

/** A value as VARCHAR, by its static type (CAST, ||, concat). */
export function toText(value: Value, type: SqlType): string | null {
  if (value === null) return null;
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'string') return value;
  return type === 'INTEGER' ? String(value === 0 ? 0 : value) : formatDouble(value);
}

/**
 * Text to DOUBLE as DuckDB casts it: surrounding spaces and `_` between digits allowed,
 * inf/infinity/nan accepted; anything else fails the cast.
 */
export function parseDouble(text: string): number {
  const trimmed = text.trim();
  if (/^[+-]?(inf|infinity)$/i.test(trimmed)) return trimmed.startsWith('-') ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  if (/^[+-]?nan$/i.test(trimmed)) return Number.NaN;
  const plain = trimmed.replace(/(?<=[0-9])_(?=[0-9])/g, '');
  if (!/^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/.test(plain)) {
    throw new SqlRuntimeError(`could not convert string '${text}' to DOUBLE`);
  }
  return Number(plain);
}

/** Rounds half away from zero (C's round, which DuckDB's round uses). */
export function roundHalfAway(value: number): number {
  return Math.sign(value) * Math.round(Math.abs(value));
}

/** Rounds half to even (C's nearbyint, which DuckDB's DOUBLE to INTEGER cast uses). */
export function roundHalfEven(value: number): number {
  const floor = Math.floor(value);
  const diff = value - floor;
  if (diff < 0.5) return floor;
  if (diff > 0.5) return floor + 1;
  return floor % 2 === 0 ? floor : floor + 1;
}

const INTEGER_RANGE = { INTEGER: 2 ** 31, BIGINT: 2 ** 63 } as const;

/** CAST(value AS INTEGER|BIGINT): doubles round half to even, text half away from zero. */
export function castToInteger(value: Value, from: SqlType, to: 'INTEGER' | 'BIGINT'): number | null {
  if (value === null) return null;
  let n: number;
  if (typeof value === 'boolean') n = value ? 1 : 0;
  else if (typeof value === 'string') {
    const parsed = parseDouble(value);
    if (!Number.isFinite(parsed)) throw new SqlRuntimeError(`could not convert string '${value}' to ${to === 'INTEGER' ? 'INT32' : 'INT64'}`);
    n = roundHalfAway(parsed);
  } else n = from === 'INTEGER' ? value : roundHalfEven(value);
  const limit = INTEGER_RANGE[to];
  if (!(n >= -limit && n < limit)) {
    throw new SqlRuntimeError(`value ${toText(value, from)} is out of range for ${to === 'INTEGER' ? 'INT32' : 'INT64'}`);
  }
  return n === 0 ? 0 : n;
}

/** CAST(value AS DOUBLE). */
export function castToDouble(value: Value): number | null {
  if (value === null) return null;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'string') return parseDouble(value);
  return value;
}
