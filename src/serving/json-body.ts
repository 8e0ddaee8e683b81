import { AtelierError } from '../core/errors.js';

/** Bare tokens TF Serving's JSON parser accepts outside strings (rapidjson's kParseNanAndInfFlag). */
const NON_FINITE: [string, number][] = [
  ['-Infinity', Number.NEGATIVE_INFINITY],
  ['Infinity', Number.POSITIVE_INFINITY],
  ['-Inf', Number.NEGATIVE_INFINITY],
  ['Inf', Number.POSITIVE_INFINITY],
  ['-NaN', Number.NaN],
  ['NaN', Number.NaN],
];
/** Stand-in strings for the tokens: a NUL start never occurs in a real JSON number. */
const MARK = '\u0000';

/**
 * Rewrites bare NaN/Infinity tokens (outside strings) as marked strings, or returns undefined when
 * the text has none. One pass that tracks whether it is inside a string.
 */
function markNonFinite(text: string): string | undefined {
  let out = '';
  let from = 0;
  let inString = false;
  let found = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inString = false;
      continue;
    }
    if (c === 34) {
      inString = true;
      continue;
    }
    if (c !== 78 /* N */ && c !== 73 /* I */ && c !== 45 /* - */) continue;
    const token = NON_FINITE.find(([t]) => text.startsWith(t, i) && !/[A-Za-z0-9]/.test(text[i + t.length] ?? ''));
    if (!token) continue;
    out += text.slice(from, i) + `"\\u0000${token[0]}"`;
    i += token[0].length - 1;
    from = i + 1;
    found = true;
  }
  return found ? out + text.slice(from) : undefined;
}

const VALUES = new Map(NON_FINITE.map(([t, v]) => [MARK + t, v]));

/**
 * Parses a request body as TF Serving does: JSON, plus bare NaN, Infinity and -Infinity tokens.
 * Plain JSON takes JSON.parse's fast path; only a body that fails it is scanned for the tokens.
 */
export function parseJsonBody(text: string): unknown {
  if (text.trim() === '') throw new AtelierError('REQUEST_INVALID', 'JSON Parse error: The document is empty');
  try {
    return JSON.parse(text);
  } catch (error) {
    const marked = markNonFinite(text);
    if (marked !== undefined) {
      try {
        return JSON.parse(marked, (_key, value: unknown) => (typeof value === 'string' && value.charCodeAt(0) === 0 && VALUES.has(value) ? VALUES.get(value) : value));
      } catch {
        /* report the first error */
      }
    }
    throw new AtelierError('REQUEST_INVALID', `JSON Parse error: ${(error as Error).message}`);
  }
}

/** What a non-finite number becomes while the answer is stringified, then the bare token. */
const OUT_MARK = '\u0000atelier-non-finite:';
const OUT_TOKENS = new RegExp(`"${JSON.stringify(OUT_MARK).slice(1, -1).replace(/\\/g, '\\\\')}(NaN|-?Infinity)"`, 'g');

/**
 * Writes an answer as TF Serving does: JSON, with NaN, Infinity and -Infinity as bare tokens
 * (JSON.stringify would write null, which a client cannot tell from a missing value). A model
 * predicts them for inputs far outside its training range (1e39 through a linear layer).
 */
export function stringifyJsonBody(value: unknown): string {
  const plain = JSON.stringify(value);
  // The common case: nothing non-finite (JSON.stringify writes every one of them as null).
  if (!plain.includes('null')) return plain;
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? `${OUT_MARK}${v}` : v)).replace(OUT_TOKENS, '$1');
}
