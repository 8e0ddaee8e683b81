/** A run parameter as the run_params table keeps it: numbers as numbers, the rest as text. */
export interface TypedParam {
  key: string;
  num: number | null;
  text: string | null;
}

/**
 * The scalar leaves of a run's parameters, nested objects flattened to dotted keys
 * (`split.seed`). Numbers stay numbers (range queries); strings and booleans are text; arrays
 * and nulls are not indexed (they stay in the JSON).
 */
export function typedParams(params: Record<string, unknown>, prefix = ''): TypedParam[] {
  const out: TypedParam[] = [];
  for (const [name, value] of Object.entries(params)) {
    const key = prefix + name;
    if (typeof value === 'number' && Number.isFinite(value)) out.push({ key, num: value, text: null });
    else if (typeof value === 'string' || typeof value === 'boolean') out.push({ key, num: null, text: String(value) });
    else if (value !== null && typeof value === 'object' && !Array.isArray(value)) out.push(...typedParams(value as Record<string, unknown>, `${key}.`));
  }
  return out;
}
