import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { z } from '#zod';
import { AtelierError } from '../core/errors.js';
import { parseYamlText, yamlLineOf } from '../core/yaml-lines.js';

/**
 * The pipeline file: the steps of continuous training (import, statistics, validate, train,
 * evaluate, bless, push) with their settings, run in that order. Steps after `import` may be left
 * out but `train`; `push` needs `bless`. Paths are relative to the pipeline file.
 */

const NAME = /^[A-Za-z][A-Za-z0-9_.-]*$/;

/** `statistics:` with nothing after it is YAML null: the step with its default settings. */
const step = <T extends z.ZodType>(schema: T) => z.preprocess((v) => (v === null ? {} : v), schema).optional();

const importStep = z.strictObject({
  source: z.string().min(1).optional().describe('A file, a glob in the last segment (incoming/*.csv) or a folder; `watch --dir` passes each new file instead.'),
  dataset: z.string().regex(NAME, 'a dataset name of letters, digits, _ . - starting with a letter').describe('Dataset the delivery becomes a version of.'),
});

const validateStep = z.strictObject({
  schema: z.string().min(1).optional().describe('Schema YAML; default: the dataset\'s latest schema, inferred from the first delivery when it has none.'),
  label: z.string().min(1).optional().describe('The label, when the schema is inferred (default: the model config\'s label).'),
  fail_on: z.enum(['error', 'warning']).default('error').describe('Stop the run on error anomalies (default), or on warnings too.'),
});

const windowSchema = z
  .strictObject({
    versions: z.number().int().positive().optional().describe('Train on the last N validated versions, merged.'),
    days: z.number().positive().optional().describe('Train on the validated versions imported in the last D days, merged.'),
  })
  .refine((w) => w.versions !== undefined || w.days !== undefined, { message: 'a window needs versions or days' });

const trainStep = z.strictObject({
  config: z.string().min(1).describe('The model config (YAML); its data.dataset is replaced by the pipeline\'s data.'),
  window: windowSchema.optional().describe('A sliding window of deliveries merged into one dataset version.'),
});

const pushStep = z.strictObject({
  policy: z
    .enum(['automatic', 'locked'])
    .default('locked')
    .describe('automatic: a blessed model becomes production; locked: it becomes staging and waits for `atelier models promote`.'),
});

const autoRollback = z.strictObject({
  metric: z.string().min(1).describe('A live metric (rmse, mae, accuracy...) from `atelier monitor outcomes`.'),
  bound: z.number().min(0).describe('Roll back when the new version\'s live metric is worse than its predecessor\'s by more than this fraction (0.1 = 10%).'),
  alias: z.string().default('production'),
});

export const pipelineSchema = z
  .strictObject({
    name: z.string().regex(NAME, 'a name of letters, digits, _ . - starting with a letter'),
    description: z.string().optional(),
    steps: z.strictObject({
      import: importStep,
      statistics: step(z.strictObject({})),
      validate: step(validateStep),
      train: trainStep,
      evaluate: step(z.strictObject({})),
      bless: step(z.strictObject({})),
      push: step(pushStep),
    }),
    auto_rollback: autoRollback.optional(),
  })
  .superRefine((p, ctx) => {
    if (p.steps.push && !p.steps.bless) {
      ctx.addIssue({ code: 'custom', path: ['steps', 'push'], message: 'push needs a bless step: an unblessed model is never pushed' });
    }
  });

export type PipelineConfig = z.infer<typeof pipelineSchema>;
export type PipelineStepName = 'import' | 'statistics' | 'validate' | 'train' | 'evaluate' | 'bless' | 'push';
export const STEP_ORDER: PipelineStepName[] = ['import', 'statistics', 'validate', 'train', 'evaluate', 'bless', 'push'];

/** A pipeline as loaded: the config, its file, and its paths made absolute. */
export interface Pipeline {
  file: string;
  config: PipelineConfig;
  /** Absolute paths of the files the steps name. */
  paths: { source?: string; schema?: string; modelConfig: string };
}

function issueText(issue: z.core.$ZodIssue, raw: unknown): { field: string; path: (string | number)[]; message: string } {
  const path = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
  if (issue.code === 'unrecognized_keys') {
    const full = [...path, issue.keys[0]!];
    return { field: full.join('.'), path: full, message: 'unknown field' };
  }
  let value: unknown = raw;
  for (const key of path) value = value && typeof value === 'object' ? (value as Record<string | number, unknown>)[key] : undefined;
  if (issue.code === 'invalid_type' && value === undefined) return { field: path.join('.'), path, message: `required field is missing (expected ${issue.expected})` };
  return { field: path.join('.') || '(root)', path, message: issue.message };
}

/** Parses pipeline YAML; errors name the file, line and field. */
export function parsePipeline(text: string, file: string): Pipeline {
  const parsedText = parseYamlText(text, file);
  const { doc, counter } = parsedText;
  const raw: unknown = parsedText.raw ?? {};
  const parsed = pipelineSchema.safeParse(raw);
  if (!parsed.success) {
    const { field, path, message } = issueText(parsed.error.issues[0]!, raw);
    const line = yamlLineOf(doc, counter, path);
    throw new AtelierError('CONFIG_INVALID', `${file}${line ? `:${line}` : ''}: ${field}: ${message}`, { file, line, field });
  }
  const config = parsed.data;
  const dir = dirname(resolve(file));
  const at = (p: string | undefined) => (p === undefined ? undefined : resolve(dir, p));
  return { file: resolve(file), config, paths: { source: at(config.steps.import.source), schema: at(config.steps.validate?.schema), modelConfig: at(config.steps.train.config)! } };
}

export function loadPipeline(file: string): Pipeline {
  if (!existsSync(file)) throw new AtelierError('FILE_NOT_FOUND', `${file}: no such file`, { file });
  const pipeline = parsePipeline(readFileSync(file, 'utf8'), file);
  for (const [field, path] of [
    ['steps.train.config', pipeline.paths.modelConfig],
    ['steps.validate.schema', pipeline.paths.schema],
  ] as const) {
    if (path !== undefined && !existsSync(path)) {
      throw new AtelierError('FILE_NOT_FOUND', `${file}: ${field}: ${path}: no such file`, { file, field });
    }
  }
  return pipeline;
}
