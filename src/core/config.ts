import { readFileSync, existsSync } from 'node:fs';
import { parseDocument } from '#yaml';
import { z } from '#zod';
import { AtelierError } from './errors.js';
import { parseYamlText, yamlLineOf } from './yaml-lines.js';

/**
 * The model config: one YAML file that says what to train on what. Its fields, their types and
 * descriptions are declared here, and validation, the exported JSON Schema
 * (schemas/model-config.json) and the docs table come from this declaration. The defaults and
 * bounds of the families' hyper-parameters are not all here: they live with each family
 * (src/models/<family>/params.ts) until each family owns one declaration (the tuning issue).
 */

const dnnModel = z.strictObject({
  family: z.literal('dnn').describe('Dense neural network on TensorFlow.js (wasm backend).'),
  hidden_units: z
    .array(z.number().int().positive())
    .min(1)
    .default([64, 32])
    .describe('Units of each hidden layer, input side first.'),
  activation: z.enum(['relu', 'elu', 'tanh', 'sigmoid', 'selu']).default('relu').describe('Activation of the hidden layers.'),
  dropout: z.number().min(0).max(0.9).default(0).describe('Dropout rate after each hidden layer.'),
  l2: z.number().min(0).default(0).describe('L2 penalty on the hidden layers\' kernels.'),
  batch_norm: z.boolean().default(false).describe('Batch normalization after each hidden layer.'),
  threads: z
    .number()
    .int()
    .min(1)
    .max(2)
    .optional()
    .describe('Threads for the wasm dense kernel (plain relu nets with Adam): 2 computes the two halves of each batch of 256 rows or more on two threads (default: 2 from 100,000 training rows on a machine with 2 or more cores, else 1); the model is the same for 1 or 2.'),
});

// Defaults of the linear family live with its solver (src/models/linear/params.ts, LINEAR_PARAMS),
// where they depend on the task; here only the shape is checked.
const linearModel = z.strictObject({
  family: z.literal('linear').describe('Linear regression, or logistic regression (binary, softmax), with L1/L2; exact or quasi-Newton solvers.'),
  l1: z.number().min(0).optional().describe('L1 (lasso) penalty per sample (default 0).'),
  l2: z.number().min(0).optional().describe('L2 (ridge) penalty per sample (default 0 for regression, 1/n for classification as LogisticRegression C=1).'),
  max_iterations: z.number().int().positive().optional().describe('Most solver iterations (default 1000).'),
  tolerance: z.number().positive().optional().describe('Convergence tolerance (default 1e-8).'),
  fit_intercept: z.boolean().optional().describe('Learn an unpenalised intercept (default true).'),
});

// Defaults live with the family (src/models/wide_deep/params.ts, WIDE_DEEP_PARAMS).
const wideDeepModel = z.strictObject({
  family: z
    .literal('wide_deep')
    .describe('Wide & deep: a linear part over one-hot and categorical columns plus a deep part over numbers and embeddings (categorical features with output: index), joined at the output.'),
  hidden_units: z.array(z.number().int().positive()).min(1).optional().describe('Hidden layers of the deep part (default [64, 32]).'),
  activation: z.enum(['relu', 'elu', 'tanh', 'sigmoid', 'selu']).optional().describe('Activation of the hidden layers (default relu).'),
  dropout: z.number().min(0).max(0.9).optional().describe('Dropout after each hidden layer (default 0).'),
  batch_norm: z.boolean().optional().describe('Batch normalization after each hidden layer (default false).'),
  embedding_dim: z.number().int().positive().optional().describe('Embedding width of each index column (default min(size, 16, ceil(6·size^0.25))).'),
  l2: z.number().min(0).optional().describe('L2 penalty on the deep part (default 0).'),
  wide_l2: z.number().min(0).optional().describe('L2 penalty on the wide part (default 0).'),
});

// Defaults live with the booster (src/models/gbdt/params.ts, GBDT_PARAMS).
const gbdtModel = z.strictObject({
  family: z.literal('gbdt').describe('Histogram gradient-boosted trees (the XGBoost/LightGBM hist design), written here, on worker threads.'),
  n_estimators: z.number().int().positive().optional().describe('Boosting iterations. Not given: a validation slice picks them by early stopping, up to 2,000 (see docs/training.md, GBDT defaults); given: exactly that many on every training row, unless training.early_stopping is set (default 100 then).'),
  learning_rate: z.number().positive().optional().describe('Shrinkage of every leaf value (default 0.1; 0.03 when the slice picks the trees on under 10,000 rows).'),
  max_depth: z.number().int().min(0).optional().describe('Deepest level of a tree; 0 = no limit, lossguide only (default 6; 3 when the slice picks the trees on under 10,000 rows).'),
  num_leaves: z.number().int().min(2).optional().describe('Most leaves per tree with growth lossguide (default 31).'),
  growth: z.enum(['depthwise', 'lossguide']).optional().describe('depthwise (XGBoost) or lossguide: best leaf first (LightGBM) (default depthwise).'),
  min_child_weight: z.number().min(0).optional().describe('Smallest hessian sum of a child (default 1).'),
  min_split_gain: z.number().min(0).optional().describe('Smallest loss reduction of a split (default 0).'),
  reg_lambda: z.number().min(0).optional().describe('L2 penalty on leaf values (default 1).'),
  reg_alpha: z.number().min(0).optional().describe('L1 penalty on leaf values (default 0).'),
  subsample: z.number().gt(0).max(1).optional().describe('Fraction of rows drawn for each iteration (default 1; 0.8 when the slice picks the trees on under 10,000 rows).'),
  colsample_bytree: z.number().gt(0).max(1).optional().describe('Fraction of features drawn for each tree (default 1; 0.8 when the slice picks the trees on under 10,000 rows).'),
  max_bin: z.number().int().min(2).max(255).optional().describe('Most value bins per feature (default 255).'),
  threads: z.number().int().positive().optional().describe('Worker threads for histograms (default: the cores); results are identical for any value.'),
});

export const modelSection = z.discriminatedUnion('family', [dnnModel, linearModel, wideDeepModel, gbdtModel]);

const splitSection = z.strictObject({
  eval: z.number().gt(0).lt(1).default(0.2).describe('Fraction of rows held out for evaluation.'),
  seed: z.number().int().default(42).describe('Seed of the hash that assigns rows to splits.'),
});

const dataSection = z.strictObject({
  dataset: z.string().min(1).describe('Dataset name, optionally with @version (default: latest).'),
  label: z.string().min(1).describe('Column to predict.'),
  split: splitSection.default({ eval: 0.2, seed: 42 }).describe('How rows are divided between training and held-out evaluation.'),
});

const missingPolicy = z
  .strictObject({
    strategy: z.enum(['mean', 'median', 'constant']).default('mean').describe('What a missing number becomes: the training mean or median, or `value`.'),
    value: z.number().optional().describe('The constant for strategy: constant.'),
    indicator: z.boolean().default(false).describe('Add a 0/1 input that says the value was missing.'),
  })
  .describe('Missing values of this feature are filled (training and serving alike) instead of dropping the row.');

const numericTransforms = ['standardize', 'min_max', 'log1p', 'clip', 'bucketize', 'none'] as const;

const featureObject = z.strictObject({
  name: z.string().min(1).describe('Column to read (and the feature\'s name); with `sql`, the name of the derived column.'),
  sql: z
    .string()
    .min(1)
    .optional()
    .describe(
      'A derived column: a SQL expression (DuckDB syntax) over the dataset\'s columns, such as `RM / (AGE + 1)` or `CASE WHEN AGE > 80 THEN \'old\' ELSE \'new\' END`. Frozen into the model; requests send the raw columns it reads.',
    ),
  transform: z
    .union([z.enum([...numericTransforms, 'vocabulary', 'hash']), z.array(z.enum(numericTransforms)).min(1)])
    .optional()
    .describe(
      'Numbers: standardize (default), min_max, log1p, clip, bucketize (quantile buckets), none, or a list applied in order such as [log1p, standardize]. Categories: vocabulary (default for text) or hash.',
    ),
  low: z.number().optional().describe('clip: lower bound.'),
  high: z.number().optional().describe('clip: upper bound.'),
  buckets: z.number().int().min(2).optional().describe('bucketize: number of quantile buckets (default 10); hash: number of hash buckets (default 100).'),
  top_k: z.number().int().positive().optional().describe('vocabulary: keep at most this many most frequent values.'),
  min_frequency: z.number().int().positive().default(1).describe('vocabulary: keep values seen at least this often in training.'),
  oov_buckets: z.number().int().min(1).default(1).describe('vocabulary: buckets for values outside the vocabulary (hashed).'),
  output: z.enum(['one_hot', 'index']).default('one_hot').describe('Categories: one 0/1 input per value (one_hot) or the value\'s index as one number.'),
  missing: missingPolicy.optional(),
});

const crossObject = z.strictObject({
  cross: z.array(z.string().min(1)).min(2).describe('Columns whose values are combined into one categorical feature.'),
  name: z.string().min(1).optional().describe('Name of the crossed feature (default: the columns joined by _x_).'),
  buckets: z.number().int().min(2).default(1000).describe('Hash buckets of the cross.'),
  output: z.enum(['one_hot', 'index']).default('one_hot'),
});

const featureEntry = z.union([z.string().min(1), featureObject, crossObject]);
export type FeatureEntry = z.infer<typeof featureEntry>;

const trainingSection = z.strictObject({
  epochs: z.number().int().positive().default(200).describe('Passes over the training split.'),
  batch_size: z
    .number()
    .int()
    .positive()
    .optional()
    .describe('Rows per gradient step (default: 32 up to 3,200 training rows, then about 1% of the rows as a power of two, at most 1,024: about 100 steps an epoch).'),
  optimizer: z
    .enum(['adam', 'adamw', 'sgd', 'momentum', 'rmsprop', 'adamax'])
    .default('adam')
    .describe('Gradient method (nets). adamw is Adam with decoupled weight decay; momentum is SGD with Nesterov-free momentum 0.9.'),
  learning_rate: z.number().positive().default(0.003).describe('Step size of the optimizer.'),
  weight_decay: z.number().min(0).default(0.01).describe('adamw: decoupled weight decay per step, times the learning rate.'),
  schedule: z
    .enum(['constant', 'exponential', 'cosine'])
    .default('constant')
    .describe('Learning rate over epochs: constant; exponential (times decay_rate each epoch); cosine (from the rate down to 0 at the last epoch).'),
  decay_rate: z.number().gt(0).lte(1).default(0.98).describe('exponential schedule: factor per epoch.'),
  early_stopping: z
    .union([
      z.literal(false),
      z.strictObject({
        patience: z.number().int().positive().default(20).describe('Epochs without improvement of the validation loss before stopping.'),
        validation: z
          .number()
          .gt(0)
          .lt(0.5)
          .default(0.2)
          .describe('Fraction of the training split held back to watch; the eval split stays untouched for the final metrics.'),
      }),
    ])
    .optional()
    .describe(
      'Stop when the validation loss stops improving and keep the best epoch. Left out, a family that opts in does it with its own default (networks: patience 20, validation 0.2); false turns it off.',
    ),
  seed: z.number().int().default(42).describe('Seed for weight initialisation and batch order.'),
});

const metricRequirement = z.strictObject({
  at_most: z.number().optional().describe('The challenger\'s value must be at most this (metrics where lower is better, e.g. rmse).'),
  at_least: z.number().optional().describe('The challenger\'s value must be at least this (e.g. accuracy, auc, r2).'),
  better_by: z
    .number()
    .min(0)
    .optional()
    .describe('Relative improvement required over the champion: 0.01 = 1% better (lower for rmse, higher for accuracy); 0 = not worse.'),
  better_by_absolute: z.number().min(0).optional().describe('Absolute improvement required over the champion, in the metric\'s units.'),
});

const validationSection = z.strictObject({
  champion: z
    .string()
    .default('production')
    .describe('Alias whose current holder is the champion; both models are evaluated on this run\'s held-out split.'),
  metrics: z
    .record(z.string(), metricRequirement)
    .describe('Requirements per metric (rmse, mae, r2, accuracy, logloss, auc, ...): absolute bounds and a change against the champion.'),
});

export type ValidationConfig = z.infer<typeof validationSection>;
export type MetricRequirement = z.infer<typeof metricRequirement>;

/** What a model (or dataset) name may be: the config checks it, and the server refuses paths that break it. */
export const NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_.-]*$/;
export const NAME_RULE = 'a name of letters, digits, _ . - starting with a letter';

export const modelConfigSchema = z.strictObject({
  name: z
    .string()
    .regex(NAME_PATTERN, NAME_RULE)
    .describe('Registered model name.'),
  description: z.string().optional().describe('Free text, kept with the run.'),
  task: z
    .enum(['regression', 'binary', 'multiclass'])
    .describe('regression: a number; binary: one of two classes; multiclass: one of several classes (the label may be text).'),
  data: dataSection.describe('Where the rows come from and what to predict.'),
  features: z
    .array(featureEntry)
    .min(1)
    .optional()
    .describe('Input features: a column name, an object with a transform, or a cross. Default: every column but the label, numbers standardized and text through a vocabulary.'),
  model: modelSection,
  training: trainingSection.default(trainingSection.parse({})).describe('How the model is fitted.'),
  validation: validationSection
    .optional()
    .describe('Blessing: what a new version must reach, alone and against the champion, before it may be promoted. Without it every version is blessed.'),
});

export type ModelConfig = z.infer<typeof modelConfigSchema>;
export type DnnModelConfig = z.infer<typeof dnnModel>;
export type TrainingSettings = z.infer<typeof trainingSection>;


function describeIssue(issue: z.core.$ZodIssue): { field: string; message: string; path: (string | number)[] } {
  const path = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0]!;
    const fullPath = [...path, key];
    return { field: fullPath.join('.'), path: fullPath, message: 'unknown field' };
  }
  if (issue.code === 'invalid_union' && 'discriminator' in issue && issue.discriminator && path[path.length - 1] !== issue.discriminator) {
    return { field: [...path, issue.discriminator].join('.'), path, message: issue.message };
  }
  if (issue.code === 'invalid_type' && /received undefined/.test(issue.message)) {
    return { field: path.join('.'), path, message: `required field is missing (expected ${issue.expected})` };
  }
  return { field: path.join('.') || '(root)', path, message: issue.message };
}

/**
 * Lists the fields that an object schema at `path` allows, for "allowed: ..." hints. At a
 * discriminated union (the model section), the option the config's own discriminator picks (its
 * family); all options' fields only when it names none.
 */
function allowedKeysAt(path: (string | number)[], raw: unknown): string[] | undefined {
  let schema: z.ZodType = modelConfigSchema;
  let value: unknown = raw;
  for (const key of path) {
    const unwrapped = unwrap(schema);
    if (!(unwrapped instanceof z.ZodObject)) return undefined;
    const next = (unwrapped.shape as Record<string, z.ZodType>)[String(key)];
    if (!next) return undefined;
    schema = next;
    value = value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[String(key)] : undefined;
  }
  const last = unwrap(schema);
  if (last instanceof z.ZodObject) return Object.keys(last.shape);
  if (last instanceof z.ZodDiscriminatedUnion) {
    const options = last.options.filter((o): o is z.ZodObject => o instanceof z.ZodObject);
    const discriminator = (last as unknown as { _zod: { def: { discriminator: string } } })._zod.def.discriminator;
    const chosen = value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[discriminator] : undefined;
    const match = options.find((o) => {
      const field = unwrap((o.shape as Record<string, z.ZodType>)[discriminator]!);
      return field instanceof z.ZodLiteral && field.values.has(chosen as never);
    });
    const keys = new Set<string>();
    for (const option of match ? [match] : options) Object.keys(option.shape).forEach((k) => keys.add(k));
    return [...keys];
  }
  return undefined;
}

function unwrap(schema: z.ZodType): z.ZodType {
  let current: z.ZodType = schema;
  for (;;) {
    if (current instanceof z.ZodDefault || current instanceof z.ZodOptional) current = current.unwrap() as z.ZodType;
    else return current;
  }
}

/**
 * Parses YAML text into a validated config. Every error in the file is reported at once, each
 * naming its line and field; an unknown field lists the fields allowed there (for \`model:\`, the
 * chosen family's own) and the nearest one.
 */
export function parseModelConfig(text: string, file: string): ModelConfig {
  const { doc, counter, raw } = parseYamlText(text, file);
  const parsed = modelConfigSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    // An unknown-keys issue names every unknown key of one object: report each on its own.
    const issues = parsed.error.issues.flatMap((issue): z.core.$ZodIssue[] => (issue.code === 'unrecognized_keys' ? issue.keys.map((key) => ({ ...issue, keys: [key] })) : [issue]));
    const found = issues.map((issue) => {
      const { field, message, path } = describeIssue(issue);
      const line = yamlLineOf(doc, counter, path);
      let hint = '';
      if (issue.code === 'unrecognized_keys') {
        const at = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
        const allowed = allowedKeysAt(at, raw);
        const nearest = allowed && nearestName(issue.keys[0]!, allowed);
        if (nearest) hint += ` (did you mean ${nearest}?)`;
        if (allowed) hint += `; allowed here: ${allowed.join(', ')}`;
      }
      return { line, field, text: `${field}: ${message}${hint}` };
    });
    const first = found[0]!;
    const message =
      found.length === 1
        ? `${file}${first.line ? `:${first.line}` : ''}: ${first.text}`
        : `${file}: ${found.length} errors: ${found.map((f) => `${f.line ? `line ${f.line}: ` : ''}${f.text}`).join('; ')}`;
    throw new AtelierError('CONFIG_INVALID', message, { file, line: first.line, field: first.field, errors: found.length });
  }
  return parsed.data;
}

/** The allowed name closest to a misspelt one (edit distance at most a third of its length, and 3), if any. */
export function nearestName(name: string, allowed: string[]): string | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const candidate of allowed) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (!best || distance < best.distance) best = { name: candidate, distance };
  }
  return best && best.distance <= Math.min(3, Math.max(1, Math.floor(name.length / 3))) ? best.name : undefined;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_v, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/** The config with its training data replaced (`train --data NAME[@V]`). */
export function withDataset(config: ModelConfig, dataset: string | undefined): ModelConfig {
  return dataset === undefined ? config : { ...config, data: { ...config.data, dataset } };
}

/** The same override on a config's YAML text (comments and layout kept), for a job that carries the text. */
export function withDatasetText(text: string, dataset: string): string {
  const doc = parseDocument(text);
  doc.setIn(['data', 'dataset'], dataset);
  return doc.toString();
}

export function loadModelConfig(file: string): ModelConfig {
  if (!existsSync(file)) throw new AtelierError('FILE_NOT_FOUND', `${file}: no such file`, { file });
  return parseModelConfig(readFileSync(file, 'utf8'), file);
}

/** Splits "name@version" (or "name@alias") into its parts. */
export function parseRef(ref: string): { name: string; selector?: string } {
  const at = ref.lastIndexOf('@');
  if (at <= 0) return { name: ref };
  return { name: ref.slice(0, at), selector: ref.slice(at + 1) };
}

export function modelConfigJsonSchema(): unknown {
  return z.toJSONSchema(modelConfigSchema, { io: 'input', unrepresentable: 'any' });
}
