import type { BinaryOp, CastType, Expr } from './ast.js';
import { SqlError } from './errors.js';
import { describeToken, tokenize, type Token } from './lexer.js';

/** Words that cannot be bare column names (quote them: "end"). */
const RESERVED = new Set(['AND', 'OR', 'NOT', 'IS', 'NULL', 'BETWEEN', 'IN', 'CASE', 'WHEN', 'THEN', 'ELSE', 'END', 'CAST', 'AS', 'TRUE', 'FALSE']);

const CAST_TYPES: Record<string, CastType> = {
  DOUBLE: 'DOUBLE',
  FLOAT8: 'DOUBLE',
  INTEGER: 'INTEGER',
  INT: 'INTEGER',
  INT4: 'INTEGER',
  BIGINT: 'BIGINT',
  INT8: 'BIGINT',
  VARCHAR: 'VARCHAR',
  TEXT: 'VARCHAR',
  STRING: 'VARCHAR',
};

const COMPARISONS: Record<string, BinaryOp> = { '=': '=', '<>': '<>', '!=': '<>', '<': '<', '<=': '<=', '>': '>', '>=': '>=' };

/**
 * Parses a DuckDB-compatible expression by recursive descent, one function per precedence level
 * (PostgreSQL's order, which DuckDB's parser follows): OR, AND, NOT, IS NULL, comparisons,
 * BETWEEN/IN, ||, + -, * / %, unary minus, ::, primaries.
 */
export function parseExpression(source: string): Expr {
  const tokens = tokenize(source);
  let at = 0;
  const peek = (): Token => tokens[at]!;
  const next = (): Token => tokens[at++]!;
  const isWord = (word: string, token = peek()) => token.kind === 'word' && token.upper === word;
  const isSymbol = (symbol: string, token = peek()) => token.kind === 'symbol' && token.text === symbol;
  const fail = (expected: string): never => {
    throw new SqlError(peek().pos, expected, describeToken(peek()));
  };
  const expectWord = (word: string) => (isWord(word) ? next() : fail(word));
  const expectSymbol = (symbol: string) => (isSymbol(symbol) ? next() : fail(`"${symbol}"`));

  /** The operator at the cursor if it is one of `ops` (words or symbols). */
  const operator = (ops: Record<string, BinaryOp>): BinaryOp | undefined => {
    const token = peek();
    return token.kind === 'word' ? ops[token.upper] : token.kind === 'symbol' ? ops[token.text] : undefined;
  };
  /** One left-associative level: operands from `operand`, joined by the operators `ops`. */
  function level(operand: () => Expr, ops: Record<string, BinaryOp>): Expr {
    let left = operand();
    for (let op = operator(ops); op; op = operator(ops)) {
      const pos = next().pos;
      left = { type: 'binary', op, left, right: operand(), pos };
    }
    return left;
  }
  const or = (): Expr => level(and, { OR: 'OR' });
  const and = (): Expr => level(not, { AND: 'AND' });
  function not(): Expr {
    if (isWord('NOT')) {
      const pos = next().pos;
      return { type: 'not', arg: not(), pos };
    }
    return isNull();
  }
  function isNull(): Expr {
    let arg = comparison();
    while (isWord('IS')) {
      const pos = next().pos;
      const negated = isWord('NOT') ? (next(), true) : false;
      expectWord('NULL');
      arg = { type: 'is_null', arg, negated, pos };
    }
    return arg;
  }
  const comparison = (): Expr => level(betweenIn, COMPARISONS);
  function betweenIn(): Expr {
    let arg = concat();
    for (;;) {
      const negated = isWord('NOT') && (isWord('BETWEEN', tokens[at + 1]) || isWord('IN', tokens[at + 1]));
      if (negated) next();
      if (isWord('BETWEEN')) {
        const pos = next().pos;
        const low = concat();
        expectWord('AND');
        arg = { type: 'between', arg, low, high: concat(), negated, pos };
      } else if (isWord('IN')) {
        const pos = next().pos;
        expectSymbol('(');
        const list = [or()];
        while (isSymbol(',')) {
          next();
          list.push(or());
        }
        expectSymbol(')');
        arg = { type: 'in', arg, list, negated, pos };
      } else {
        return arg;
      }
    }
  }
  const concat = (): Expr => level(additive, { '||': '||' });
  const additive = (): Expr => level(multiplicative, { '+': '+', '-': '-' });
  const multiplicative = (): Expr => level(unary, { '*': '*', '/': '/', '%': '%' });
  function unary(): Expr {
    if (isSymbol('-')) {
      const pos = next().pos;
      const arg = unary();
      // A negative literal stays a literal, so that -2147483648 and CASE branches type as numbers.
      if (arg.type === 'number') return { ...arg, value: -arg.value, pos };
      return { type: 'negate', arg, pos };
    }
    if (isSymbol('+')) {
      next();
      return unary();
    }
    return postfixCast();
  }
  function postfixCast(): Expr {
    let arg = primary();
    while (isSymbol('::')) {
      const pos = next().pos;
      arg = { type: 'cast', arg, to: castType(), pos };
    }
    return arg;
  }
  function castType(): CastType {
    const token = peek();
    const type = token.kind === 'word' ? CAST_TYPES[token.upper] : undefined;
    if (!type) return fail('a type: DOUBLE, INTEGER, BIGINT or VARCHAR');
    next();
    return type;
  }
  function primary(): Expr {
    const token = peek();
    if (token.kind === 'number') {
      next();
      return { type: 'number', value: Number(token.text), integer: /^[0-9]+$/.test(token.text), pos: token.pos };
    }
    if (token.kind === 'string') {
      next();
      return { type: 'string', value: token.value, pos: token.pos };
    }
    if (token.kind === 'quoted') {
      next();
      return { type: 'column', name: token.value, pos: token.pos };
    }
    if (isSymbol('(')) {
      next();
      const inner = or();
      expectSymbol(')');
      return inner;
    }
    if (token.kind === 'word') {
      switch (token.upper) {
        case 'NULL':
          next();
          return { type: 'null', pos: token.pos };
        case 'TRUE':
        case 'FALSE':
          next();
          return { type: 'boolean', value: token.upper === 'TRUE', pos: token.pos };
        case 'CASE':
          return caseExpression();
        case 'CAST': {
          next();
          expectSymbol('(');
          const arg = or();
          expectWord('AS');
          const to = castType();
          expectSymbol(')');
          return { type: 'cast', arg, to, pos: token.pos };
        }
      }
      if (!RESERVED.has(token.upper)) {
        next();
        if (!isSymbol('(')) return { type: 'column', name: token.text, pos: token.pos };
        next();
        const args: Expr[] = [];
        if (!isSymbol(')')) {
          args.push(or());
          while (isSymbol(',')) {
            next();
            args.push(or());
          }
        }
        expectSymbol(')');
        return { type: 'call', name: token.text.toLowerCase(), args, pos: token.pos };
      }
    }
    return fail('a value: a number, a \'string\', a column, a function call, CASE, CAST or "("');
  }
  function caseExpression(): Expr {
    const pos = next().pos;
    const operand = isWord('WHEN') ? undefined : or();
    const whens: { when: Expr; then: Expr }[] = [];
    while (isWord('WHEN')) {
      next();
      const when = or();
      expectWord('THEN');
      whens.push({ when, then: or() });
    }
    if (whens.length === 0) fail('WHEN');
    let otherwise: Expr | undefined;
    if (isWord('ELSE')) {
      next();
      otherwise = or();
    }
    expectWord('END');
    return { type: 'case', operand, whens, otherwise, pos };
  }

  const tree = or();
  if (peek().kind !== 'end') fail('an operator or the end of the expression');
  return tree;
}
