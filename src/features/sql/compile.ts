import type { BinaryOp, Expr } from './ast.js';
import { SqlError, SqlUnknownColumn } from './errors.js';
import { SQL_FUNCTIONS, type ArgKind } from './functions.js';
import { castToDouble, castToInteger, compareValues, isNumericType, parseDouble, toText, type SqlType, type Value } from './values.js';

/** A column an expression may read, with its SQL type. */
export interface ColumnType {
  name: string;
  type: SqlType;
}

/**
 * A checked expression, ready to evaluate: `inputs` are the columns it reads (as the table spells
 * them), and `evaluate` maps one row's values of those columns, in that order, to the result.
 */
export interface CompiledExpression {
  type: SqlType;
  inputs: string[];
  evaluate(values: readonly Value[]): Value;
}

type Run = (values: readonly Value[]) => Value;

interface Node {
  type: SqlType;
  run: Run;
  pos: number;
  /** The text of a string literal: it may stand for a number where one is expected, as in DuckDB. */
  literal?: string;
}

const describeType = (type: SqlType) => (type === 'INTEGER' || type === 'DOUBLE' ? `a number (${type})` : type === 'VARCHAR' ? 'text (VARCHAR)' : type);

/** Gives `node` the type `to`: NULLs and INTEGERs widen; a string literal becomes a number. */
function coerce(node: Node, to: SqlType, context: string): Node {
  if (node.type === to || node.type === 'NULL' || to === 'NULL') return { ...node, type: to };
  if (to === 'DOUBLE' && node.type === 'INTEGER') return { ...node, type: to };
  if (isNumericType(to) && node.literal !== undefined) {
    let value: number;
    try {
      value = parseDouble(node.literal);
    } catch {
      throw new SqlError(node.pos, `${context}: '${node.literal}' is not a number`);
    }
    return { type: to, run: () => value, pos: node.pos };
  }
  throw new SqlError(node.pos, `${context}: expected ${describeType(to)}, got ${describeType(node.type)}; CAST one side`);
}

/** The one type a set of values takes (CASE branches, IN lists, comparisons, coalesce...). */
function unify(nodes: Node[], context: string): { type: SqlType; nodes: Node[] } {
  const typed = nodes.filter((n) => n.type !== 'NULL' && n.literal === undefined).map((n) => n.type);
  const literals = nodes.some((n) => n.literal !== undefined);
  let type: SqlType;
  if (typed.length === 0) type = literals ? 'VARCHAR' : 'NULL';
  else if (typed.every(isNumericType)) type = typed.includes('DOUBLE') ? 'DOUBLE' : 'INTEGER';
  else type = typed[0]!;
  return { type, nodes: nodes.map((n) => coerce(n, type, context)) };
}

/** Three-valued logic values for AND and OR. */
function truth(value: Value): boolean | null {
  return value === null ? null : (value as boolean);
}

function arithmetic(op: '+' | '-' | '*' | '/' | '%', integer: boolean): (a: number, b: number) => Value {
  switch (op) {
    case '+':
      return (a, b) => a + b;
    case '-':
      return (a, b) => a - b;
    case '*':
      return (a, b) => a * b;
    case '/':
      return (a, b) => a / b;
    case '%':
      // DuckDB: an INTEGER modulo zero is NULL, a DOUBLE one NaN (fmod).
      return integer ? (a, b) => (b === 0 ? null : a % b) : (a, b) => a % b;
  }
}

const COMPARE: Record<string, (order: number) => boolean> = {
  '=': (o) => o === 0,
  '<>': (o) => o !== 0,
  '<': (o) => o < 0,
  '<=': (o) => o <= 0,
  '>': (o) => o > 0,
  '>=': (o) => o >= 0,
};

function comparable(left: Node, right: Node, context: string): [Node, Node] {
  const { nodes } = unify([left, right], context);
  return [nodes[0]!, nodes[1]!];
}

function compareRun(op: string, left: Run, right: Run): Run {
  const test = COMPARE[op]!;
  return (v) => {
    const a = left(v);
    if (a === null) return null;
    const b = right(v);
    return b === null ? null : test(compareValues(a, b));
  };
}

function expectBoolean(node: Node, context: string): Node {
  if (node.type !== 'BOOLEAN' && node.type !== 'NULL') throw new SqlError(node.pos, `${context} needs a condition (BOOLEAN), got ${describeType(node.type)}`);
  return node;
}

function expectNumber(node: Node, context: string): Node {
  if (!isNumericType(node.type) && node.type !== 'NULL') throw new SqlError(node.pos, `${context} needs a number, got ${describeType(node.type)}`);
  return node.type === 'NULL' ? { ...node, type: 'INTEGER' } : node;
}

function argMatches(kind: ArgKind, type: SqlType): boolean {
  if (type === 'NULL' || kind === 'any') return true;
  if (kind === 'number') return isNumericType(type);
  if (kind === 'integer') return type === 'INTEGER';
  return type === 'VARCHAR';
}

const KIND_NAMES: Record<ArgKind, string> = { number: 'a number', integer: 'an integer', text: 'text', any: 'a value' };

/**
 * Type-checks a parsed expression against the columns it may read and turns it into nested
 * closures. Column names resolve as in DuckDB: exactly, or else case-insensitively when that is
 * unambiguous. Unknown columns throw SqlUnknownColumn; type errors SqlError at the offending node.
 */
export function compileExpression(tree: Expr, columns: ColumnType[]): CompiledExpression {
  const inputs: string[] = [];
  const slotOf = new Map<string, number>();

  function resolve(name: string, pos: number): ColumnType {
    const exact = columns.find((c) => c.name === name);
    if (exact) return exact;
    const folded = columns.filter((c) => c.name.toLowerCase() === name.toLowerCase());
    if (folded.length === 1) return folded[0]!;
    throw new SqlUnknownColumn(pos, name);
  }

  function node(expr: Expr): Node {
    const pos = expr.pos;
    switch (expr.type) {
      case 'number': {
        const value = expr.value;
        return { type: expr.integer && Number.isSafeInteger(value) ? 'INTEGER' : 'DOUBLE', run: () => value, pos };
      }
      case 'string': {
        const value = expr.value;
        return { type: 'VARCHAR', run: () => value, pos, literal: value };
      }
      case 'boolean': {
        const value = expr.value;
        return { type: 'BOOLEAN', run: () => value, pos };
      }
      case 'null':
        return { type: 'NULL', run: () => null, pos };
      case 'column': {
        const column = resolve(expr.name, pos);
        let slot = slotOf.get(column.name);
        if (slot === undefined) {
          slot = inputs.length;
          inputs.push(column.name);
          slotOf.set(column.name, slot);
        }
        const at = slot;
        return { type: column.type, run: (v) => v[at]!, pos };
      }
      case 'negate': {
        const arg = expectNumber(node(expr.arg), 'unary -');
        return { type: arg.type, run: (v) => (arg.run(v) === null ? null : -(arg.run(v) as number)), pos };
      }
      case 'not': {
        const arg = expectBoolean(node(expr.arg), 'NOT').run;
        return { type: 'BOOLEAN', run: (v) => (arg(v) === null ? null : !arg(v)), pos };
      }
      case 'binary':
        return binary(expr.op, node(expr.left), node(expr.right), pos);
      case 'is_null': {
        const arg = node(expr.arg).run;
        const negated = expr.negated;
        return { type: 'BOOLEAN', run: (v) => (arg(v) === null) !== negated, pos };
      }
      case 'between': {
        const { nodes } = unify([node(expr.arg), node(expr.low), node(expr.high)], 'BETWEEN');
        const low = compareRun('>=', nodes[0]!.run, nodes[1]!.run);
        const high = compareRun('<=', nodes[0]!.run, nodes[2]!.run);
        const both = and(low, high);
        const negated = expr.negated;
        return { type: 'BOOLEAN', run: negated ? (v) => (both(v) === null ? null : !both(v)) : both, pos };
      }
      case 'in': {
        const { nodes } = unify([node(expr.arg), ...expr.list.map(node)], 'IN');
        const [arg, ...list] = nodes.map((n) => n.run) as [Run, ...Run[]];
        const negated = expr.negated;
        return {
          type: 'BOOLEAN',
          run(v) {
            const a = arg(v);
            if (a === null) return null;
            let sawNull = false;
            for (const item of list) {
              const b = item(v);
              if (b === null) sawNull = true;
              else if (compareValues(a, b) === 0) return !negated;
            }
            return sawNull ? null : negated;
          },
          pos,
        };
      }
      case 'case': {
        const operand = expr.operand ? node(expr.operand) : undefined;
        const conditions = expr.whens.map(({ when }) => {
          const w = node(when);
          if (!operand) return expectBoolean(w, 'CASE WHEN').run;
          const [a, b] = comparable(operand, w, 'CASE ... WHEN');
          return compareRun('=', a.run, b.run);
        });
        const branches = [...expr.whens.map(({ then }) => node(then)), ...(expr.otherwise ? [node(expr.otherwise)] : [])];
        const { type, nodes } = unify(branches, 'CASE branches');
        const results = nodes.map((n) => n.run);
        const otherwise = expr.otherwise ? results[results.length - 1]! : () => null;
        return {
          type,
          run(v) {
            for (let k = 0; k < conditions.length; k++) if (conditions[k]!(v) === true) return results[k]!(v);
            return otherwise(v);
          },
          pos,
        };
      }
      case 'cast': {
        const arg = node(expr.arg);
        if (arg.type === 'NULL') return { type: expr.to === 'VARCHAR' ? 'VARCHAR' : expr.to === 'DOUBLE' ? 'DOUBLE' : 'INTEGER', run: () => null, pos };
        const from = arg.type;
        const run = arg.run;
        if (expr.to === 'VARCHAR') return { type: 'VARCHAR', run: (v) => toText(run(v), from), pos };
        if (expr.to === 'DOUBLE') return { type: 'DOUBLE', run: (v) => castToDouble(run(v)), pos };
        const to = expr.to;
        return { type: 'INTEGER', run: (v) => castToInteger(run(v), from, to), pos };
      }
      case 'call':
        return call(expr.name, expr.args.map(node), pos);
    }
  }

  function and(left: Run, right: Run): Run {
    return (v) => {
      const a = truth(left(v));
      if (a === false) return false;
      const b = truth(right(v));
      if (b === false) return false;
      return a === null || b === null ? null : true;
    };
  }

  function binary(op: BinaryOp, left: Node, right: Node, pos: number): Node {
    if (op === 'AND' || op === 'OR') {
      const l = expectBoolean(left, op).run;
      const r = expectBoolean(right, op).run;
      if (op === 'AND') return { type: 'BOOLEAN', run: and(l, r), pos };
      return {
        type: 'BOOLEAN',
        run(v) {
          const a = truth(l(v));
          if (a === true) return true;
          const b = truth(r(v));
          if (b === true) return true;
          return a === null || b === null ? null : false;
        },
        pos,
      };
    }
    if (op === '||') {
      const [l, r, lt, rt] = [left.run, right.run, left.type, right.type];
      return {
        type: 'VARCHAR',
        run(v) {
          const a = toText(l(v), lt);
          if (a === null) return null;
          const b = toText(r(v), rt);
          return b === null ? null : a + b;
        },
        pos,
      };
    }
    if (op in COMPARE) {
      const [l, r] = comparable(left, right, `"${op}"`);
      return { type: 'BOOLEAN', run: compareRun(op, l.run, r.run), pos };
    }
    const l = expectNumber(left, `"${op}"`);
    const r = expectNumber(right, `"${op}"`);
    const integer = l.type === 'INTEGER' && r.type === 'INTEGER';
    const apply = arithmetic(op as '+' | '-' | '*' | '/' | '%', integer);
    const [lr, rr] = [l.run, r.run];
    return {
      type: op === '/' ? 'DOUBLE' : integer ? 'INTEGER' : 'DOUBLE',
      run(v) {
        const a = lr(v);
        if (a === null) return null;
        const b = rr(v);
        return b === null ? null : apply(a as number, b as number);
      },
      pos,
    };
  }

  function call(name: string, given: Node[], pos: number): Node {
    const fn = SQL_FUNCTIONS[name];
    if (!fn) throw new SqlError(pos, `unknown function ${name}(); known: ${Object.keys(SQL_FUNCTIONS).sort().join(', ')}`);
    const most = fn.rest ? Number.POSITIVE_INFINITY : fn.args.length;
    if (given.length < fn.required || given.length > most) {
      const count = fn.rest ? `at least ${fn.required}` : fn.required === most ? `${most}` : `${fn.required} or ${most}`;
      throw new SqlError(pos, `${name}() takes ${count} argument${count === '1' ? '' : 's'}, got ${given.length}`);
    }
    let args = given;
    if (fn.unify) args = unify(given, `${name}()`).nodes;
    args.forEach((arg, i) => {
      const kind = fn.args[Math.min(i, fn.args.length - 1)]!;
      if (!argMatches(kind, arg.type)) throw new SqlError(arg.pos, `${name}() argument ${i + 1} must be ${KIND_NAMES[kind]}, got ${describeType(arg.type)}`);
    });
    const types = args.map((a) => (a.type === 'NULL' && fn.args[0] === 'number' ? 'INTEGER' : a.type));
    const type = typeof fn.returns === 'function' ? fn.returns(types) : fn.returns;
    const runs = args.map((a) => a.run);
    const apply = fn.apply;
    const values: Value[] = new Array(runs.length);
    return {
      type,
      run(v) {
        for (let k = 0; k < runs.length; k++) {
          values[k] = runs[k]!(v);
          if (values[k] === null && !fn.acceptsNull) return null;
        }
        return apply(values, types);
      },
      pos,
    };
  }

  const root = node(tree);
  const run = root.run;
  return {
    type: root.type,
    inputs,
    evaluate: (values) => run(values),
  };
}
