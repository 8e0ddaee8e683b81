import { AtelierError } from '../core/errors.js';
import type { AtelierContext } from '../store/context.js';
import type { DatasetVersionRecord } from '../store/types.js';
import { isNumeric } from './column-types.js';
import { sqlIdent, sqlString, withDuckDb } from './duckdb.js';

/** Reads one column as text (NULL stays null), for class labels of any type. */
export async function readTextColumn(ctx: AtelierContext, version: DatasetVersionRecord, name: string): Promise<(string | null)[]> {
  const path = await ctx.artifacts.localPath(version.artifact);
  return withDuckDb(async (con) => {
    const result = await con.runAndReadAll(`SELECT CAST(${sqlIdent(name)} AS VARCHAR) AS v FROM read_parquet(${sqlString(path)})`);
    return result.getColumnsJS()[0]!.map((v) => (v === null || v === undefined ? null : String(v)));
  });
}

/** Sorts class names numerically when they are all numbers, else as text. */
export function sortClasses(values: Iterable<string>): string[] {
  const unique = [...new Set(values)];
  const numeric = unique.every((v) => v.trim() !== '' && Number.isFinite(Number(v)));
  return numeric ? unique.sort((a, b) => Number(a) - Number(b)) : unique.sort();
}

/**
 * Encodes class labels as indices into `classes` (NaN for a missing or unknown class).
 * `select` limits which rows may define the classes when they are fitted here.
 */
export function encodeClasses(values: (string | null)[], classes: string[]): Float64Array {
  const index = new Map(classes.map((c, i) => [c, i]));
  const out = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    const k = v === null || v === undefined ? undefined : index.get(v);
    out[i] = k === undefined ? Number.NaN : k;
  }
  return out;
}

export function checkLabelColumn(version: DatasetVersionRecord, label: string, task: string): void {
  const column = version.columns.find((c) => c.name === label);
  if (!column) {
    throw new AtelierError(
      'COLUMN_NOT_FOUND',
      `data.label: dataset ${version.dataset}@${version.version} has no column "${label}"; it has ${version.columns.map((c) => c.name).join(', ')}`,
      { field: 'data.label', column: label },
    );
  }
  if (task === 'regression' && !isNumeric(column.type)) {
    throw new AtelierError(
      'COLUMN_TYPE',
      `data.label: column "${label}" is ${column.type}; a regression label must be a number (use task: binary or multiclass for classes)`,
      { field: 'data.label', column: label, expected: 'int or float', got: column.type },
    );
  }
}

export interface Labels {
  /** Target values (regression) or class indices (classification); NaN where missing. */
  y: Float64Array;
  /** Class names in index order, for classification. */
  classes?: string[];
}

/**
 * Reads the label column for a task. Classes are fitted on the rows where `fitMask[i] === 1`
 * (the training split) unless given (evaluation reuses the model's own classes).
 */
export async function readLabels(
  ctx: AtelierContext,
  version: DatasetVersionRecord,
  label: string,
  task: 'regression' | 'binary' | 'multiclass',
  options: { classes?: string[]; fitMask?: Uint8Array } = {},
): Promise<Labels> {
  checkLabelColumn(version, label, task);
  if (task === 'regression') {
    const { readNumericColumns } = await import('./datasets.js');
    return { y: (await readNumericColumns(ctx, version, [label])).get(label)! };
  }
  const values = await readTextColumn(ctx, version, label);
  let classes = options.classes;
  if (!classes) {
    const seen: string[] = [];
    values.forEach((v, i) => {
      if (v !== null && (!options.fitMask || options.fitMask[i] === 1)) seen.push(v);
    });
    classes = sortClasses(seen);
    const need = task === 'binary' ? 'exactly 2' : 'at least 2';
    if ((task === 'binary' && classes.length !== 2) || classes.length < 2) {
      throw new AtelierError(
        'COLUMN_TYPE',
        `data.label: task ${task} needs ${need} classes in the training split; column "${label}" has ${classes.length} (${classes.slice(0, 5).join(', ')}${classes.length > 5 ? ', …' : ''})`,
        { field: 'data.label', column: label, expected: `${need} classes`, got: String(classes.length) },
      );
    }
  }
  return { y: encodeClasses(values, classes), classes };
}
