/** Summary statistics of one numeric column (NaN counts as missing). */
export interface NumericStats {
  count: number;
  missing: number;
  /** How many of the missing were ±Infinity (serving refuses infinities where training saw none). */
  infinite: number;
  mean: number;
  std: number;
  min: number;
  max: number;
}

export function numericStats(values: Float64Array, select?: Uint32Array): NumericStats {
  let count = 0;
  let missing = 0;
  let infinite = 0;
  let sum = 0;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  const n = select ? select.length : values.length;
  const at = (i: number) => values[select ? select[i]! : i]!;
  for (let i = 0; i < n; i++) {
    const v = at(i);
    if (!Number.isFinite(v)) {
      missing++;
      if (!Number.isNaN(v)) infinite++;
      continue;
    }
    count++;
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const mean = count > 0 ? sum / count : Number.NaN;
  let squares = 0;
  for (let i = 0; i < n; i++) {
    const v = at(i);
    if (Number.isFinite(v)) squares += (v - mean) ** 2;
  }
  return { count, missing, infinite, mean, std: count > 1 ? Math.sqrt(squares / (count - 1)) : 0, min, max };
}
