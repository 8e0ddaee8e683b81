import { gather, gatherColumns } from '../data/table.js';
import { DEFAULT_REPEATS, IMPORTANCE_ROWS, permutationImportance, type ImportanceResult } from '../evaluation/importance.js';
import { transformColumns, type FittedTransform, type RawColumn } from '../features/transform.js';
import type { Task, TrainedModel } from '../models/family.js';
import { taskLoss } from '../models/losses.js';

/**
 * Permutation importance of each raw input on (up to 20,000 of) the held-out rows, kept with the
 * version in the registry: the same measure for every family, in the loss's units.
 */
export async function heldOutImportance(
  model: TrainedModel,
  transform: FittedTransform,
  task: Task,
  columns: Map<string, RawColumn>,
  y: Float64Array,
  evalRows: Uint32Array,
  seed: number,
): Promise<ImportanceResult> {
  // Eval rows are assigned by a hash of their content, so the first ones are a fair sample.
  const rows = evalRows.length > IMPORTANCE_ROWS ? evalRows.subarray(0, IMPORTANCE_ROWS) : evalRows;
  const names = transform.inputs.map((i) => i.name);
  const selected = gatherColumns(new Map(names.map((n) => [n, columns.get(n)!])), rows);
  const labels = gather(y, rows);
  return permutationImportance(
    selected,
    names,
    async (shuffled) => taskLoss(task, await model.predict(transformColumns(transform, shuffled, rows.length)), model.outputWidth, labels),
    { repeats: DEFAULT_REPEATS, seed },
  );
}
