import { SqlError } from './errors.js';

/**
 * Tokens of the SQL expression subset. Positions are 0-based offsets into the source text;
 * errors show them 1-based, as a reader counts.
 */
export type Token =
  | { kind: 'number'; text: string; pos: number }
  | { kind: 'string'; value: string; pos: number }
  | { kind: 'word'; text: string; upper: string; pos: number }
  | { kind: 'quoted'; value: string; pos: number }
  | { kind: 'symbol'; text: string; pos: number }
  | { kind: 'end'; pos: number };

const SYMBOLS = ['<>', '!=', '<=', '>=', '||', '::', '=', '<', '>', '+', '-', '*', '/', '%', '(', ')', ','];

export function describeToken(token: Token): string {
  switch (token.kind) {
    case 'end':
      return 'the end of the expression';
    case 'number':
      return `the number ${token.text}`;
    case 'string':
      return `the string '${token.value}'`;
    case 'word':
      return `"${token.text}"`;
    case 'quoted':
      return `the name "${token.value}"`;
    case 'symbol':
      return `"${token.text}"`;
  }
}

/** Splits an expression into tokens; an unclosed quote or a stray character is an error. */
export function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const c = source[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const start = i;
    if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(source[i + 1] ?? ''))) {
      const match = /^(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?/.exec(source.slice(i))!;
      i += match[0].length;
      if (/[A-Za-z_]/.test(source[i] ?? '')) throw new SqlError(i, 'an operator or the end after a number', `"${source[i]}"`);
      tokens.push({ kind: 'number', text: match[0], pos: start });
    } else if (c === "'" || c === '"') {
      // Both quotes escape themselves by doubling, as in SQL.
      let value = '';
      i++;
      for (;;) {
        if (i >= source.length) throw new SqlError(start, `a closing ${c}`, 'the end of the expression');
        if (source[i] === c) {
          if (source[i + 1] === c) {
            value += c;
            i += 2;
            continue;
          }
          i++;
          break;
        }
        value += source[i];
        i++;
      }
      tokens.push(c === "'" ? { kind: 'string', value, pos: start } : { kind: 'quoted', value, pos: start });
    } else if (/[A-Za-z_]/.test(c)) {
      const match = /^[A-Za-z_][A-Za-z0-9_$]*/.exec(source.slice(i))!;
      i += match[0].length;
      tokens.push({ kind: 'word', text: match[0], upper: match[0].toUpperCase(), pos: start });
    } else {
      const symbol = SYMBOLS.find((s) => source.startsWith(s, i));
      if (!symbol) throw new SqlError(i, 'an operator, a name, a number or a string', `"${c}"`);
      i += symbol.length;
      tokens.push({ kind: 'symbol', text: symbol, pos: start });
    }
  }
  tokens.push({ kind: 'end', pos: source.length });
  return tokens;
}
