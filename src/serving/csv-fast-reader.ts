/**
 * A byte-level reader for the common CSV of batch prediction: comma-separated, no quotes, one
 * record per line, numbers in plain decimal. It reads only the columns the model needs into
 * Float64Arrays and keeps where each line starts and ends, so the output can repeat the line.
 * Anything outside that form makes it give up (`Unreadable`), and the caller hands the file to
 * DuckDB, which reads every CSV; it never guesses.
 */
import { isUtf8 } from 'node:buffer';
import { detectDelimiter, NULL_MARKERS } from '../data/csv.js';

/** What the reader needs to know about the file's columns, from the header. */
export interface CsvLayout {
  /** Fields per line (the header's). */
  fields: number;
  /** Per field: the index of the model input it holds, or -1 for a column passed through. */
  role: Int32Array;
  /** The model's numeric inputs, in `role` order; `required` ones may not be empty. */
  inputs: { name: string; required: boolean }[];
}

/** Why the fast reader cannot read a file the way DuckDB would; the DuckDB path takes over. */
export class Unreadable extends Error {}

/**
 * The layout of a header line (without its line break), or Unreadable when DuckDB could read the
 * header differently or the DuckDB path would refuse it: another delimiter, quotes, a byte-order
 * mark, names empty, repeated or with spaces around them, a model input missing or not numeric,
 * or a column named like one the output adds.
 */
export function csvLayout(header: string, inputs: { name: string; dtype: string }[], required: Set<string>, added: string[]): CsvLayout {
  if (header.startsWith('\uFEFF')) throw new Unreadable('a byte-order mark');
  if (header.includes('"') || header.includes('\r')) throw new Unreadable('a quoted header');
  if (detectDelimiter(header) !== ',') throw new Unreadable('not comma-separated');
  const names = header.split(',');
  const seen = new Set<string>();
  for (const name of names) {
    if (name === '' || name !== name.trim() || seen.has(name)) throw new Unreadable(`header name ${JSON.stringify(name)}`);
    seen.add(name);
  }
  // DuckDB's column names ignore case: "Prediction" would clash with the added "prediction".
  const lower = new Set(names.map((n) => n.toLowerCase()));
  for (const name of added) if (lower.has(name.toLowerCase())) throw new Unreadable(`the input has a column "${name}"`);
  const role = new Int32Array(names.length).fill(-1);
  inputs.forEach(({ name, dtype }, k) => {
    const field = names.indexOf(name);
    if (field < 0) throw new Unreadable(`no column "${name}"`);
    if (dtype !== 'int' && dtype !== 'float') throw new Unreadable(`input "${name}" is ${dtype}`);
    role[field] = k;
  });
  return { fields: names.length, role, inputs: inputs.map(({ name }) => ({ name, required: required.has(name) })) };
}

/**
 * Per passed-through column: cells not empty, cells in the strict number form, and cells that
 * might be numbers to DuckDB (TRY_CAST AS DOUBLE); the import refuses a text column that is mostly
 * numbers (data/csv.ts), so such a column must go the DuckDB way.
 */
export interface PassThroughCounts {
  present: Float64Array;
  strict: Float64Array;
  maybe: Float64Array;
}

export interface ParsedBlock {
  rows: number;
  /** The bytes the line ranges point into: the block, or a copy ending in a line feed. */
  bytes: Uint8Array;
  /** One column per model input (NaN where empty and allowed). */
  columns: Float64Array[];
  /** Per model input: cells present (a column with none is typed as text by DuckDB). */
  present: Float64Array;
  passThrough: PassThroughCounts;
  /** Byte range of each line without its line break. */
  lineStart: Int32Array;
  lineEnd: Int32Array;
  /** The first empty required cell: row in the block and input index; row -1 if none. */
  emptyRow: number;
  emptyInput: number;
}

const POWERS = Array.from({ length: 23 }, (_v, i) => 10 ** i);
const TWO_53 = 2 ** 53;
const COMMA = 44;
const LF = 10;
const CR = 13;
const QUOTE = 34;
const MINUS = 45;
const DOT = 46;
const ZERO = 48;
const markers = NULL_MARKERS.map((m) => Buffer.from(m, 'latin1'));
/** Forms DuckDB's TRY_CAST(... AS DOUBLE) may accept, loosely: spaces, signs, underscores, inf, nan. */
const MAYBE_NUMBER = /^\s*[+-]?(?:[\d_.]+(?:[eE][+-]?[\d_]+)?|inf(?:inity)?|nan)\s*$/i;
/** Bytes such a form may start and end with; a cheap filter before the regex. */
const MAYBE_FIRST = new Uint8Array(256);
const MAYBE_LAST = new Uint8Array(256);
for (const c of ' \t+-._0123456789iInN') MAYBE_FIRST[c.charCodeAt(0)] = 1;
for (const c of ' \t._0123456789fFyYnN') MAYBE_LAST[c.charCodeAt(0)] = 1;

function maybeNumber(bytes: Uint8Array, from: number, to: number): boolean {
  if (!MAYBE_FIRST[bytes[from]!] || !MAYBE_LAST[bytes[to - 1]!] || to - from > 64) return false;
  return MAYBE_NUMBER.test(Buffer.from(bytes.buffer, bytes.byteOffset + from, to - from).toString('latin1'));
}

/** Where a pass-through cell's number goes (it is only counted). */
const scratch = new Float64Array(1);

/**
 * Reads a number in the strict form -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? starting at
 * `pos` and ending at a comma or a line break (the caller guarantees a line feed after the last
 * field, so the loops need no bounds checks) into into[at] (a typed array: no boxed number per
 * cell); returns where it ended, or -1 for anything else. The value is the
 * correctly rounded double (as Number() and DuckDB give): below 2^53 the mantissa is exact and so
 * is a power of ten up to 10^22, so one division or multiplication rounds once; beyond, Number().
 * "-0" alone is refused: DuckDB reads it as 0 in an integer column and -0 in a decimal one; so is
 * a number out of the double's range.
 */
function scanNumber(bytes: Uint8Array, pos: number, into: Float64Array, at: number): number {
  const begin = pos;
  const negative = bytes[pos] === MINUS;
  if (negative) pos++;
  let c = bytes[pos]! - ZERO;
  if (c >>> 0 > 9) return -1;
  let mantissa = c;
  pos++;
  if (c === 0) {
    if ((bytes[pos]! - ZERO) >>> 0 <= 9) return -1; // leading zero: DuckDB reads the column as text
  } else {
    while ((c = bytes[pos]! - ZERO) >>> 0 <= 9) {
      mantissa = mantissa * 10 + c;
      pos++;
    }
  }
  let exponent = 0;
  let decimal = false;
  let b = bytes[pos]!;
  if (b === DOT) {
    decimal = true;
    const first = ++pos;
    while ((c = bytes[pos]! - ZERO) >>> 0 <= 9) {
      mantissa = mantissa * 10 + c;
      pos++;
    }
    if (pos === first) return -1;
    exponent = first - pos;
    b = bytes[pos]!;
  }
  if (b === 101 || b === 69) {
    decimal = true;
    b = bytes[++pos]!;
    const sign = b === MINUS ? -1 : 1;
    if (b === MINUS || b === 43) pos++;
    const first = pos;
    let e = 0;
    while ((c = bytes[pos]! - ZERO) >>> 0 <= 9) {
      if (e < 100_000) e = e * 10 + c;
      pos++;
    }
    if (pos === first) return -1;
    exponent += sign * e;
    b = bytes[pos]!;
  }
  if (b !== COMMA && b !== LF && b !== CR) return -1;
  if (negative && mantissa === 0 && !decimal) return -1;
  // Monotone rounding: a final mantissa below 2^53 means every step was exact.
  if (mantissa < TWO_53 && exponent >= -22 && exponent <= 22) {
    const value = exponent < 0 ? mantissa / POWERS[-exponent]! : mantissa * POWERS[exponent]!;
    into[at] = negative ? -value : value;
  } else {
    const value = Number(Buffer.from(bytes.buffer, bytes.byteOffset + begin, pos - begin).toString('latin1'));
    // Out of range (1e400): DuckDB does not read it as a double.
    if (!Number.isFinite(value)) return -1;
    into[at] = value;
  }
  return pos;
}

/** The strict number that is the whole of `text`, or undefined. */
export function parseNumber(text: string): number | undefined {
  const bytes = Buffer.from(`${text}\n`, 'latin1');
  const value = new Float64Array(1);
  return scanNumber(bytes, 0, value, 0) === bytes.length - 1 ? value[0] : undefined;
}

function isNullMarker(bytes: Uint8Array, from: number, to: number): boolean {
  const n = to - from;
  if (n === 0) return true;
  if (n > 4) return false;
  for (const m of markers) {
    if (m.length !== n) continue;
    let k = 0;
    while (k < n && bytes[from + k] === m[k]) k++;
    if (k === n) return true;
  }
  return false;
}

function grow<T extends Float64Array | Int32Array>(a: T, size: number): T {
  const b = new (a.constructor as new (n: number) => T)(size);
  b.set(a);
  return b;
}

/**
 * Reads the whole lines of a block: every line ends in LF (CRLF allowed) except perhaps the last. Throws Unreadable at the first thing DuckDB might read differently: a
 * quote, a bare CR, a blank line, a record with another number of fields, a model input that is
 * not a strict number or a missing-value marker.
 */
export function parseBlock(block: Uint8Array, layout: CsvLayout, expectedRows = 1024): ParsedBlock {
  if (!isUtf8(block)) throw new Unreadable('bytes that are not UTF-8');
  // A line feed after the last line, so that every field ends at a comma or a line break.
  let bytes = block;
  if (block.length > 0 && block[block.length - 1] !== LF) {
    bytes = new Uint8Array(block.length + 1);
    bytes.set(block);
    bytes[block.length] = LF;
  }
  const { fields, role } = layout;
  const width = layout.inputs.length;
  const passThrough = role.reduce((n, r) => n + (r < 0 ? 1 : 0), 0);
  let capacity = Math.max(16, expectedRows);
  let columns = layout.inputs.map(() => new Float64Array(capacity));
  let lineStart = new Int32Array(capacity);
  let lineEnd = new Int32Array(capacity);
  const present = new Float64Array(width);
  const counts: PassThroughCounts = { present: new Float64Array(passThrough), strict: new Float64Array(passThrough), maybe: new Float64Array(passThrough) };
  // Pass-through column index per field.
  const through = new Int32Array(fields).fill(-1);
  for (let f = 0, p = 0; f < fields; f++) if (role[f]! < 0) through[f] = p++;
  let emptyRow = -1;
  let emptyInput = -1;
  const length = bytes.length;
  let rows = 0;
  let pos = 0;
  while (pos < length) {
    if (rows === capacity) {
      capacity *= 2;
      columns = columns.map((c) => grow(c, capacity));
      lineStart = grow(lineStart, capacity);
      lineEnd = grow(lineEnd, capacity);
    }
    const start = pos;
    let field = 0;
    for (;;) {
      if (field >= fields) throw new Unreadable(`row ${rows}: more fields than the header`);
      const r = role[field]!;
      const from = pos;
      let b = 0;
      if (r >= 0) {
        const end = scanNumber(bytes, pos, columns[r]!, rows);
        if (end >= 0) {
          present[r]++;
          pos = end;
        } else {
          while ((b = bytes[pos]!) !== COMMA && b !== LF && b !== CR) pos++;
          if (!isNullMarker(bytes, from, pos)) throw new Unreadable(`row ${rows}: input "${layout.inputs[r]!.name}" is not a plain number`);
          columns[r]![rows] = Number.NaN;
          if (emptyRow < 0 && layout.inputs[r]!.required) {
            emptyRow = rows;
            emptyInput = r;
          }
        }
      } else {
        while ((b = bytes[pos]!) !== COMMA && b !== LF && b !== CR) {
          if (b === QUOTE) throw new Unreadable(`row ${rows}: a quoted field`);
          pos++;
        }
        const p = through[field]!;
        if (!isNullMarker(bytes, from, pos)) {
          counts.present[p]++;
          if (scanNumber(bytes, from, scratch, 0) === pos) {
            counts.strict[p]++;
            counts.maybe[p]++;
          } else if (maybeNumber(bytes, from, pos)) {
            counts.maybe[p]++;
          }
        }
      }
      field++;
      b = bytes[pos]!;
      if (b === COMMA) {
        pos++;
        continue;
      }
      if (b === CR && bytes[pos + 1] !== LF) throw new Unreadable(`row ${rows}: a carriage return not followed by a line feed`);
      break;
    }
    if (field !== fields) throw new Unreadable(`row ${rows}: ${field} fields, the header has ${fields}`);
    if (pos === start) throw new Unreadable(`row ${rows}: a blank line`);
    lineStart[rows] = start;
    lineEnd[rows] = pos;
    rows++;
    pos += bytes[pos] === CR ? 2 : 1;
  }
  return { rows, bytes, columns: columns.map((c) => c.subarray(0, rows)), present, passThrough: counts, lineStart, lineEnd, emptyRow, emptyInput };
}

/**
 * Whether a passed-through column could be one the import refuses: DuckDB types it as text, and
 * at least half of its cells (but not all) read as numbers. Counted loosely (`maybe`), so that
 * such a file always goes the DuckDB way.
 */
export function mightBeRefused(present: number, strict: number, maybe: number): boolean {
  return maybe > 0 && strict < present && maybe >= present / 2;
}
