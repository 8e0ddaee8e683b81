/** The syntax tree of a SQL expression; `pos` is the 0-based offset of the node in the source. */
export type CastType = 'DOUBLE' | 'INTEGER' | 'BIGINT' | 'VARCHAR';

export type BinaryOp = '+' | '-' | '*' | '/' | '%' | '||' | '=' | '<>' | '<' | '<=' | '>' | '>=' | 'AND' | 'OR';

export type Expr =
  | { type: 'number'; value: number; integer: boolean; pos: number }
  | { type: 'string'; value: string; pos: number }
  | { type: 'boolean'; value: boolean; pos: number }
  | { type: 'null'; pos: number }
  | { type: 'column'; name: string; pos: number }
  | { type: 'negate'; arg: Expr; pos: number }
  | { type: 'not'; arg: Expr; pos: number }
  | { type: 'binary'; op: BinaryOp; left: Expr; right: Expr; pos: number }
  | { type: 'is_null'; arg: Expr; negated: boolean; pos: number }
  | { type: 'between'; arg: Expr; low: Expr; high: Expr; negated: boolean; pos: number }
  | { type: 'in'; arg: Expr; list: Expr[]; negated: boolean; pos: number }
  | { type: 'case'; operand?: Expr; whens: { when: Expr; then: Expr }[]; otherwise?: Expr; pos: number }
  | { type: 'cast'; arg: Expr; to: CastType; pos: number }
  | { type: 'call'; name: string; args: Expr[]; pos: number };
