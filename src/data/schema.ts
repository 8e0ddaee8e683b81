import { existsSync, readFileSync } from 'node:fs';
import { Document, isMap, isScalar, isSeq, visit } from '#yaml';
import { z } from '#zod';
import { AtelierError } from '../core/errors.js';
import { DEFAULT_INFINITY_NORM, DEFAULT_JENSEN_SHANNON } from './drift.js';
import type { DatasetStatistics } from './statistics.js';
import { parseYamlText, yamlLineOf } from '../core/yaml-lines.js';
import { writeFileAtomic } from '../core/files.js';

/**
 * The data schema, TFDV's `Schema` for Atelier: what each feature should look like. Inferred
 * from statistics, kept as an editable YAML file, checked with zod when read.
 *
 * ```yaml
 * version: 1
 * environments: [TRAINING, SERVING]
 * label: MEDV
 * features:
 *   CRIM:
 *     type: float
 *     presence: required             # or: optional, or { min_fraction: 0.95 }
 *     domain: { min: 0.00632, max: 88.9762 }
 *     allow_nan: false               # floats: NaN and ±Infinity are anomalies unless true
 *     drift: { jensen_shannon: 0.1 }
 *     skew: { jensen_shannon: 0.1 }
 *   town:
 *     type: string
 *     domain: { values: [a, b, c] }  # strings: the known values
 *     drift: { infinity_norm: 0.1 }
 *   MEDV:
 *     type: float
 *     not_in_environment: [SERVING]  # the label: absent when serving
 * ```
 */

export const SCHEMA_VERSION = 1;
export const ENVIRONMENTS = ['TRAINING', 'SERVING'] as const;

const thresholds = z
  .strictObject({
    jensen_shannon: z.number().gt(0).max(1).optional().describe('Largest Jensen-Shannon divergence allowed (numeric features).'),
    infinity_norm: z.number().gt(0).max(1).optional().describe('Largest L-infinity distance allowed (categorical features).'),
  })
  .describe('Thresholds of a comparison between two statistics.');

const presence = z.union([
  z.literal('required'),
  z.literal('optional'),
  z.strictObject({ min_fraction: z.number().min(0).max(1).describe('Smallest fraction of rows that must have a value.') }),
]);

const domain = z.union([
  z.strictObject({
    min: z.number().optional().describe('Smallest value allowed.'),
    max: z.number().optional().describe('Largest value allowed.'),
  }),
  z.strictObject({ values: z.array(z.string()).min(1).describe('The values allowed (strings).') }),
]);

const featureSchema = z.strictObject({
  type: z.enum(['int', 'float', 'string', 'bool', 'timestamp']),
  description: z.string().optional(),
  presence: presence.default('required'),
  domain: domain.optional(),
  allow_nan: z.boolean().optional(),
  drift: thresholds.optional(),
  skew: thresholds.optional(),
  not_in_environment: z.array(z.string().min(1)).optional(),
});

export const dataSchemaSchema = z
  .strictObject({
    version: z.literal(SCHEMA_VERSION),
    environments: z.array(z.string().min(1)).min(1).default([...ENVIRONMENTS]),
    label: z.string().min(1).optional(),
    features: z.record(z.string(), featureSchema),
  })
  .superRefine((schema, ctx) => {
    if (schema.label !== undefined && !(schema.label in schema.features)) {
      ctx.addIssue({ code: 'custom', path: ['label'], message: `names no feature of this schema ("${schema.label}")` });
    }
    for (const [name, f] of Object.entries(schema.features)) {
      const at = (...rest: string[]) => ['features', name, ...rest];
      if (f.domain) {
        const numeric = f.type === 'int' || f.type === 'float';
        if ('values' in f.domain && f.type !== 'string') {
          ctx.addIssue({ code: 'custom', path: at('domain', 'values'), message: `a value list is for string features; this one is ${f.type}` });
        }
        if (!('values' in f.domain) && !numeric) {
          ctx.addIssue({ code: 'custom', path: at('domain'), message: `min and max are for int and float features; this one is ${f.type}` });
        }
        if (!('values' in f.domain) && f.domain.min !== undefined && f.domain.max !== undefined && f.domain.min > f.domain.max) {
          ctx.addIssue({ code: 'custom', path: at('domain', 'min'), message: `min ${f.domain.min} is above max ${f.domain.max}` });
        }
      }
      if (f.allow_nan !== undefined && f.type !== 'float') {
        ctx.addIssue({ code: 'custom', path: at('allow_nan'), message: `only float features can hold NaN; this one is ${f.type}` });
      }
      (f.not_in_environment ?? []).forEach((env, i) => {
        if (!schema.environments.includes(env)) {
          ctx.addIssue({ code: 'custom', path: at('not_in_environment', String(i)), message: `"${env}" is not one of the environments (${schema.environments.join(', ')})` });
        }
      });
    }
  });

export type DataSchema = z.infer<typeof dataSchemaSchema>;
export type FeatureSchema = z.infer<typeof featureSchema>;
export type DataSchemaInput = z.input<typeof dataSchemaSchema>;

export interface InferSchemaOptions {
  /** Largest number of distinct strings that become a value domain (default 20). */
  maxDomainSize?: number;
  /** The label column: marked not in the SERVING environment, and given no skew threshold. */
  label?: string;
}

/**
 * Infers a schema from statistics, as a starting point to edit:
 * - presence: `required` when no value is missing, `optional` when none is present, otherwise
 *   `{ min_fraction }` with the observed fraction rounded down to two decimals;
 * - domain: the observed min and max for int and float; the observed values for strings with at
 *   most `maxDomainSize` distinct values (when the statistics kept every value's count);
 * - allow_nan: for floats, true only when the data holds NaN or infinities;
 * - drift and skew thresholds: Jensen-Shannon 0.1 for int and float, L-infinity 0.1 for string and bool.
 */
export function inferSchema(stats: DatasetStatistics, options: InferSchemaOptions = {}): DataSchema {
  const maxDomainSize = options.maxDomainSize ?? 20;
  if (!Number.isInteger(maxDomainSize) || maxDomainSize < 0) {
    throw new AtelierError('USAGE', `maxDomainSize must be a whole number, 0 or more; got ${maxDomainSize}`, { field: 'maxDomainSize' });
  }
  const label = options.label;
  if (label !== undefined && !(label in stats.features)) {
    throw new AtelierError('COLUMN_NOT_FOUND', `label "${label}" is not a column of the data; it has ${Object.keys(stats.features).join(', ')}`, {
      field: 'label',
      column: label,
    });
  }
  const features: Record<string, FeatureSchema> = {};
  for (const [name, s] of Object.entries(stats.features)) {
    const f: FeatureSchema = { type: s.type, presence: 'required' };
    if (s.count === 0) f.presence = 'optional';
    else if (s.missing > 0) f.presence = { min_fraction: Math.floor((s.count / stats.rowCount) * 100) / 100 };
    if ((s.type === 'int' || s.type === 'float') && s.min !== null && s.min !== undefined && s.max !== null && s.max !== undefined) {
      f.domain = { min: s.min, max: s.max };
    }
    if (s.type === 'float') f.allow_nan = (s.nanCount ?? 0) + (s.infinityCount ?? 0) > 0;
    if (s.type === 'string' && s.valueCounts && s.valueCounts.length > 0 && s.valueCounts.length <= maxDomainSize) {
      f.domain = { values: s.valueCounts.map((v) => v.value).sort() };
    }
    const comparator =
      s.type === 'int' || s.type === 'float'
        ? { jensen_shannon: DEFAULT_JENSEN_SHANNON }
        : s.type === 'string' || s.type === 'bool'
          ? { infinity_norm: DEFAULT_INFINITY_NORM }
          : undefined;
    if (comparator) {
      f.drift = { ...comparator };
      if (name !== label) f.skew = { ...comparator };
    }
    if (name === label) f.not_in_environment = ['SERVING'];
    features[name] = f;
  }
  return { version: SCHEMA_VERSION, environments: [...ENVIRONMENTS], ...(label !== undefined ? { label } : {}), features };
}


function valueAt(raw: unknown, path: (string | number)[]): unknown {
  let current = raw;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string | number, unknown>)[key];
  }
  return current;
}

function describeIssue(issue: z.core.$ZodIssue, raw: unknown): { field: string; message: string; path: (string | number)[] } {
  const path = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
  if (path.length > 0 && issue.code !== 'unrecognized_keys' && issue.code !== 'custom' && valueAt(raw, path) === undefined) {
    return { field: path.join('.'), path, message: 'required field is missing' };
  }
  if (path.length === 1 && path[0] === 'version' && issue.code === 'invalid_value') {
    return { field: 'version', path, message: `schema version ${JSON.stringify(valueAt(raw, path))} is not supported; expected ${SCHEMA_VERSION}` };
  }
  if (issue.code === 'unrecognized_keys') {
    const fullPath = [...path, issue.keys[0]!];
    return { field: fullPath.join('.'), path: fullPath, message: 'unknown field' };
  }
  if (issue.code === 'invalid_type' && /received undefined/.test(issue.message)) {
    return { field: path.join('.'), path, message: `required field is missing (expected ${issue.expected})` };
  }
  if (issue.code === 'invalid_union') {
    // Report the closest alternative's first problem rather than "invalid input".
    const inner = issue.errors.map((e) => e[0]).filter((e): e is z.core.$ZodIssue => e !== undefined);
    const best = inner.find((e) => e.code !== 'invalid_type' && e.code !== 'invalid_value') ?? inner[0];
    if (best) {
      const nested = describeIssue({ ...best, path: [...issue.path, ...best.path] } as z.core.$ZodIssue, raw);
      if (path[path.length - 1] === 'presence' && typeof valueAt(raw, path) !== 'object') {
        return { field: path.join('.'), path, message: `${JSON.stringify(valueAt(raw, path))} is not allowed; expected required, optional or { min_fraction: 0..1 }` };
      }
      return nested;
    }
  }
  return { field: path.join('.') || '(root)', path, message: issue.message };
}

/** Parses YAML text into a validated schema; errors name the file, line and field. */
export function parseSchema(text: string, file: string): DataSchema {
  const { doc, counter, raw } = parseYamlText(text, file);
  const parsed = dataSchemaSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    const { field, message, path } = describeIssue(parsed.error.issues[0]!, raw ?? {});
    const line = yamlLineOf(doc, counter, path);
    throw new AtelierError('CONFIG_INVALID', `${file}${line ? `:${line}` : ''}: ${field}: ${message}`, { file, line, field });
  }
  return parsed.data;
}

/** Checks a schema object (e.g. built in code) and fills defaults; errors name the field. */
export function checkSchema(schema: unknown, label = 'schema'): DataSchema {
  const parsed = dataSchemaSchema.safeParse(schema);
  if (!parsed.success) {
    const { field, message } = describeIssue(parsed.error.issues[0]!, schema);
    throw new AtelierError('CONFIG_INVALID', `${label}: ${field}: ${message}`, { file: label, field });
  }
  return parsed.data;
}

export function loadSchema(file: string): DataSchema {
  if (!existsSync(file)) throw new AtelierError('FILE_NOT_FOUND', `${file}: no such file`, { file });
  return parseSchema(readFileSync(file, 'utf8'), file);
}

const FLOW_KEYS = new Set(['environments', 'presence', 'domain', 'drift', 'skew', 'not_in_environment']);

/** The schema as YAML text, with a short header; features in their original order. */
export function schemaToYaml(schema: DataSchema): string {
  const header = [
    '# Atelier data schema (TFDV style): edit freely; `atelier` checks it when read.',
    '# presence: required | optional | { min_fraction: F }; domain: { min, max } or { values: [...] };',
    '# drift / skew thresholds: jensen_shannon (numeric), infinity_norm (categorical).',
  ].join('\n');
  const doc = new Document(checkSchema(schema));
  // Small leaf maps and lists on one line: `domain: { min: 5, max: 50 }`.
  visit(doc, {
    Pair(_, pair) {
      const key = isScalar(pair.key) ? String(pair.key.value) : '';
      if (FLOW_KEYS.has(key) && (isMap(pair.value) || isSeq(pair.value))) {
        const small = !isSeq(pair.value) || pair.value.items.length <= 20;
        if (small) pair.value.flow = true;
      }
    },
  });
  return `${header}\n${doc.toString({ lineWidth: 0, flowCollectionPadding: true })}`;
}

export function saveSchema(schema: DataSchema, file: string): void {
  writeFileAtomic(file, schemaToYaml(schema));
}
