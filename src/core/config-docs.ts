import { modelConfigJsonSchema } from './config.js';

interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  additionalProperties?: JsonSchema | boolean;
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  description?: string;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  minimum?: number;
  exclusiveMinimum?: number;
  maximum?: number;
  exclusiveMaximum?: number;
}

function typeOf(s: JsonSchema): string {
  if (s.const !== undefined) return `\`${JSON.stringify(s.const)}\``;
  if (s.enum) return s.enum.map((v) => `\`${String(v)}\``).join(' \\| ');
  const options = s.anyOf ?? s.oneOf;
  if (options) return options.map(typeOf).join(' or ');
  if (s.type === 'array') return `list of ${s.items ? typeOf(s.items) : 'values'}`;
  let t = Array.isArray(s.type) ? s.type.join(' or ') : (s.type ?? 'any');
  const low = s.exclusiveMinimum !== undefined ? `> ${s.exclusiveMinimum}` : s.minimum !== undefined && s.minimum > -1e15 ? `≥ ${s.minimum}` : '';
  const high = s.exclusiveMaximum !== undefined ? `< ${s.exclusiveMaximum}` : s.maximum !== undefined && s.maximum < 1e15 ? `≤ ${s.maximum}` : '';
  if (low || high) t += ` (${[low, high].filter(Boolean).join(', ')})`;
  return t;
}

/**
 * The config reference table, generated from the one zod declaration (through its JSON Schema)
 * so that docs/model-config.md cannot drift from what validation accepts.
 */
export function modelConfigReference(): string {
  const rows: string[] = ['| field | type | default | description |', '|---|---|---|---|'];
  const walk = (schema: JsonSchema, prefix: string, required: Set<string>) => {
    for (const [key, child] of Object.entries(schema.properties ?? {})) {
      const path = prefix ? `${prefix}.${key}` : key;
      const variants = child.oneOf ?? child.anyOf;
      const objectVariants = variants?.filter((v) => v.properties);
      const def = child.default === undefined ? (required.has(key) ? '*required*' : '') : `\`${JSON.stringify(child.default)}\``;
      if (child.properties) {
        rows.push(`| \`${path}\` | object | ${def} | ${child.description ?? ''} |`);
        walk(child, path, new Set(child.required ?? []));
      } else if (typeof child.additionalProperties === 'object' && child.additionalProperties.properties) {
        // A map (z.record): its entries share one shape, shown under a placeholder key.
        rows.push(`| \`${path}\` | map | ${def} | ${child.description ?? ''} |`);
        walk(child.additionalProperties, `${path}.<name>`, new Set(child.additionalProperties.required ?? []));
      } else if (objectVariants && objectVariants.length > 0 && key === 'model') {
        for (const variant of objectVariants) walk(variant, path, new Set(variant.required ?? []));
      } else {
        rows.push(`| \`${path}\` | ${typeOf(child)} | ${def} | ${child.description ?? ''} |`);
        // A value or an object (early_stopping: false or {patience, ...}): the object's fields too.
        if (objectVariants?.length === 1) walk(objectVariants[0]!, path, new Set(objectVariants[0]!.required ?? []));
      }
    }
  };
  const root = modelConfigJsonSchema() as JsonSchema;
  walk(root, '', new Set(root.required ?? []));
  return rows.join('\n');
}

export const REFERENCE_START = '<!-- generated: model config reference (npm run schema) -->';
export const REFERENCE_END = '<!-- end generated -->';

export function withReference(page: string): string {
  const start = page.indexOf(REFERENCE_START);
  const end = page.indexOf(REFERENCE_END);
  if (start < 0 || end < 0) throw new Error('docs/model-config.md lacks the generated-reference markers');
  return page.slice(0, start + REFERENCE_START.length) + '\n' + modelConfigReference() + '\n' + page.slice(end);
}
