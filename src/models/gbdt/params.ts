import { threadBudget } from '../../core/threads.js';
import type { ObjectiveName } from './objectives.js';

export type Growth = 'depthwise' | 'lossguide';

export interface GbdtParams {
  objective: ObjectiveName;
  num_class: number | undefined;
  learning_rate: number;
  n_estimators: number;
  max_depth: number;
  num_leaves: number;
  growth: Growth;
  min_child_weight: number;
  min_split_gain: number;
  reg_lambda: number;
  reg_alpha: number;
  subsample: number;
  colsample_bytree: number;
  max_bin: number;
  bin_sample_rows: number;
  early_stopping_rounds: number | undefined;
  seed: number;
  threads: number;
  parallel_min_cells: number;
}

interface ParamSpec<T> {
  default: T;
  description: string;
}

/** Every parameter, its default and what it does: the one place defaults live. */
export const GBDT_PARAMS: { [K in keyof GbdtParams]: ParamSpec<GbdtParams[K]> } = {
  objective: { default: 'regression', description: "'regression' (squared error, reports rmse), 'binary' (logistic, labels 0/1, reports logloss) or 'multiclass' (softmax, labels 0..num_class-1, reports mlogloss)" },
  num_class: { default: undefined, description: 'number of classes for multiclass; by default the largest label + 1' },
  learning_rate: { default: 0.1, description: 'shrinkage applied to every leaf value' },
  n_estimators: { default: 100, description: 'boosting iterations (multiclass grows num_class trees per iteration)' },
  max_depth: { default: 6, description: 'deepest level a tree may reach (root = depth 0); 0 = no limit, allowed with lossguide only' },
  num_leaves: { default: 31, description: "most leaves per tree with growth 'lossguide'" },
  growth: { default: 'depthwise', description: "'depthwise' splits level by level (XGBoost); 'lossguide' splits the leaf of best gain first (LightGBM)" },
  min_child_weight: { default: 1, description: 'smallest hessian sum a child may have (row count for squared error)' },
  min_split_gain: { default: 0, description: 'smallest loss reduction for a split: GL²/(HL+λ) + GR²/(HR+λ) − G²/(H+λ), with G soft-thresholded by reg_alpha' },
  reg_lambda: { default: 1, description: 'L2 penalty on leaf values' },
  reg_alpha: { default: 0, description: 'L1 penalty on leaf values' },
  subsample: { default: 1, description: 'fraction of rows drawn (seeded, without replacement, Bernoulli) for each boosting iteration' },
  colsample_bytree: { default: 1, description: 'fraction of features drawn (seeded) for each tree' },
  max_bin: { default: 255, description: 'most value bins per feature (at most 255; missing values get a bin of their own)' },
  bin_sample_rows: { default: 200000, description: 'rows sampled (seeded) to choose bin bounds; all rows when there are fewer' },
  early_stopping_rounds: { default: undefined, description: 'stop when the eval loss has not improved for this many iterations and keep the best iteration; needs an eval set' },
  seed: { default: 0, description: 'seed of every random choice (row and column sampling, bin sample)' },
  threads: { default: threadBudget(), description: 'threads for histogram building (worker_threads; default: the cores, or the job\'s thread budget); results are identical for any value' },
  parallel_min_cells: { default: 2_000_000, description: 'below this many rows × features training stays on one thread (workers cost more than they save)' },
};

/**
 * Defaults that follow the data; a config's own values always win. They apply through the family
 * (family.ts), which knows the rows and whether training holds back a validation slice.
 */
export const ADAPTIVE = {
  /** With a validation slice, n_estimators is a ceiling early stopping comes under. */
  treeCeiling: 2000,
  /** The fraction of training rows held back to pick the number of trees. */
  validation: 0.1,
  /**
   * Below this many rows (fit + validation) the small-data settings apply, and once the slice has
   * chosen the number of trees they are trained again on every row.
   */
  smallRows: 10_000,
  // min_child_weight stays 1: at depth 3 with samples, 3 measured no better (worse on iris, whose
  // softmax hessians p(1-p) are small), see docs/training.md.
  smallData: { max_depth: 3, learning_rate: 0.03, subsample: 0.8, colsample_bytree: 0.8 } satisfies Partial<GbdtParams>,
  /** Patience in trees times the learning rate: a smaller step waits longer (0.03 -> 50, 0.1 -> 20). */
  patienceTimesRate: 1.5,
  minPatience: 20,
};

/**
 * The data-dependent defaults for `rows` rows when a validation slice picks the number of trees
 * (`picksTrees`); none otherwise (a config that fixes n_estimators keeps the plain defaults: a
 * small learning rate would leave its trees short).
 */
export function adaptiveDefaults(rows: number, picksTrees: boolean): Partial<GbdtParams> {
  if (!picksTrees) return {};
  return { n_estimators: ADAPTIVE.treeCeiling, ...(rows < ADAPTIVE.smallRows ? ADAPTIVE.smallData : {}) };
}

/** Early-stopping patience for a learning rate, when the config sets none. */
export function defaultPatience(learningRate: number): number {
  return Math.max(ADAPTIVE.minPatience, Math.round(ADAPTIVE.patienceTimesRate / learningRate));
}

/** Whether, after the validation slice chose the number of trees, they are trained again on every row. */
export function refits(rows: number): boolean {
  return rows < ADAPTIVE.smallRows;
}

export function defaultParams(): GbdtParams {
  const out = {} as Record<string, unknown>;
  for (const [key, spec] of Object.entries(GBDT_PARAMS)) out[key] = spec.default;
  return out as unknown as GbdtParams;
}

/** Defaults filled in, every value checked; throws naming the parameter. */
export function resolveParams(given: Partial<GbdtParams> = {}): GbdtParams {
  for (const key of Object.keys(given)) if (!(key in GBDT_PARAMS)) throw new Error(`unknown gbdt parameter "${key}"`);
  const p = defaultParams();
  for (const [key, value] of Object.entries(given)) if (value !== undefined) (p as unknown as Record<string, unknown>)[key] = value;
  const check = (ok: boolean, key: keyof GbdtParams, rule: string) => {
    if (!ok) throw new Error(`gbdt parameter ${key} ${rule} (got ${String(p[key])})`);
  };
  check(['regression', 'binary', 'multiclass'].includes(p.objective), 'objective', "must be 'regression', 'binary' or 'multiclass'");
  check(p.num_class === undefined || (Number.isInteger(p.num_class) && p.num_class >= 2), 'num_class', 'must be an integer >= 2');
  check(p.learning_rate > 0, 'learning_rate', 'must be > 0');
  check(Number.isInteger(p.n_estimators) && p.n_estimators >= 1, 'n_estimators', 'must be an integer >= 1');
  check(Number.isInteger(p.max_depth) && p.max_depth >= 0 && p.max_depth <= 30, 'max_depth', 'must be an integer 0..30');
  check(p.max_depth > 0 || p.growth === 'lossguide', 'max_depth', "may be 0 (no limit) only with growth 'lossguide'");
  check(Number.isInteger(p.num_leaves) && p.num_leaves >= 2, 'num_leaves', 'must be an integer >= 2');
  check(p.growth === 'depthwise' || p.growth === 'lossguide', 'growth', "must be 'depthwise' or 'lossguide'");
  check(p.min_child_weight >= 0, 'min_child_weight', 'must be >= 0');
  check(p.min_split_gain >= 0, 'min_split_gain', 'must be >= 0');
  check(p.reg_lambda >= 0, 'reg_lambda', 'must be >= 0');
  check(p.reg_alpha >= 0, 'reg_alpha', 'must be >= 0');
  check(p.subsample > 0 && p.subsample <= 1, 'subsample', 'must be in (0, 1]');
  check(p.colsample_bytree > 0 && p.colsample_bytree <= 1, 'colsample_bytree', 'must be in (0, 1]');
  check(Number.isInteger(p.max_bin) && p.max_bin >= 2 && p.max_bin <= 255, 'max_bin', 'must be an integer 2..255');
  check(Number.isInteger(p.bin_sample_rows) && p.bin_sample_rows >= 1, 'bin_sample_rows', 'must be an integer >= 1');
  check(p.early_stopping_rounds === undefined || (Number.isInteger(p.early_stopping_rounds) && p.early_stopping_rounds >= 1), 'early_stopping_rounds', 'must be an integer >= 1');
  check(Number.isInteger(p.seed), 'seed', 'must be an integer');
  check(Number.isInteger(p.threads) && p.threads >= 1, 'threads', 'must be an integer >= 1');
  check(p.parallel_min_cells >= 0, 'parallel_min_cells', 'must be >= 0');
  return p;
}
