import { seededRandom } from '../core/random.js';
import type { RawColumn } from '../features/transform.js';

export interface ImportanceOptions {
  /** Shuffles per feature; the figure is their mean. */
  repeats: number;
  seed: number;
}

export interface FeatureImportance {
  feature: string;
  /** Mean of the metric over the shuffles of this feature. */
  permuted: number;
  /** permuted − baseline: how much worse the model gets without this feature's information. */
  degradation: number;
  /** Standard deviation of the degradation over the shuffles. */
  std: number;
}

export interface ImportanceResult {
  /** The loss measured: rmse (regression) or logloss (classifiers); lower is better. */
  metric: string;
  baseline: number;
  repeats: number;
  seed: number;
  /** Most important first. */
  features: FeatureImportance[];
}

/**
 * Training (the importance kept with a version) and `atelier evaluate` measure importance the same
 * way, so the two agree for the same version and split: 5 shuffles per feature, on at most the
 * first 20,000 rows (held-out rows are a seeded hash sample already), seeded by the training seed.
 */
export const DEFAULT_REPEATS = 5;
export const IMPORTANCE_ROWS = 20_000;

/** The column with its values in a random order (Fisher-Yates), leaving `column` as it is. */
function shuffled(column: RawColumn, random: () => number): RawColumn {
  const out = column instanceof Float64Array ? Float64Array.from(column) : [...column];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = out[i]!;
    out[i] = out[j]!;
    out[j] = t;
  }
  return out;
}

/**
 * Permutation feature importance (Breiman): shuffle one raw input column at a time, re-predict,
 * and measure how much the loss grows. `loss` scores a set of columns (lower is better).
 * Features are shuffled in the order given, from one seeded generator: the same seed, the same figures.
 */
export async function permutationImportance(
  columns: Map<string, RawColumn>,
  features: string[],
  loss: (columns: Map<string, RawColumn>) => Promise<{ name: string; value: number }>,
  options: ImportanceOptions,
): Promise<ImportanceResult> {
  const baseline = await loss(columns);
  const random = seededRandom(options.seed);
  const results: FeatureImportance[] = [];
  for (const feature of features) {
    const degradations: number[] = [];
    for (let r = 0; r < options.repeats; r++) {
      const permuted = new Map(columns);
      permuted.set(feature, shuffled(columns.get(feature)!, random));
      degradations.push((await loss(permuted)).value - baseline.value);
    }
    const mean = degradations.reduce((a, b) => a + b, 0) / degradations.length;
    const variance = degradations.reduce((a, b) => a + (b - mean) ** 2, 0) / degradations.length;
    results.push({ feature, permuted: baseline.value + mean, degradation: mean, std: Math.sqrt(variance) });
  }
  results.sort((a, b) => b.degradation - a.degradation || (a.feature < b.feature ? -1 : 1));
  return { metric: baseline.name, baseline: baseline.value, repeats: options.repeats, seed: options.seed, features: results };
}
