import { canonicalJson } from '../core/hash.js';
import type { AtelierContext } from '../store/context.js';
import type { ModelVersionRecord } from '../store/types.js';
import { provenance, type DatasetSummary } from './lineage.js';

export interface ConfigChange {
  path: string;
  /** Absent from the JSON when the field is absent on that side. */
  a?: unknown;
  b?: unknown;
}

export interface MetricChange {
  name: string;
  a: number | null;
  b: number | null;
  /** b - a, when both exist. */
  change: number | null;
  /** (b - a) / |a|, when both exist and a is not 0. */
  relative: number | null;
}

export interface VersionDiff {
  a: { ref: string; runId: string | null; configHash: string | null };
  b: { ref: string; runId: string | null; configHash: string | null };
  config: { compared: boolean; same: boolean; changes: ConfigChange[]; note?: string };
  metrics: MetricChange[];
  /**
   * Where the metrics were measured: on the same rows for both (`sameRows`: the dataset split they
   * were evaluated on), or each version's recorded held-out metrics (`sameRows: false`, with why),
   * which come from different rows whenever the data or the split differ.
   */
  metricsOn: { sameRows: true; dataset: string; split: 'eval'; rows: number } | { sameRows: false; note: string };
  dataset: { same: boolean; a: DatasetSummary | null; b: DatasetSummary | null };
  bundle: { same: boolean; a: string; b: string };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The `name` of each element when every element has a distinct one (features, crosses). */
function elementNames(list: unknown[]): string[] | undefined {
  const names = list.map((v) => (isPlainObject(v) && typeof v.name === 'string' ? v.name : typeof v === 'string' ? v : undefined));
  return names.every((n) => n !== undefined) && new Set(names).size === names.length ? (names as string[]) : undefined;
}

function same(x: unknown, y: unknown): boolean {
  return canonicalJson(x) === canonicalJson(y);
}

/**
 * The differences of two configs as flattened paths: `model.family`, `data.split.seed`. Lists
 * whose elements all have a distinct `name` are matched by it (`features[RM].transform`), so
 * inserting a feature does not shift every later one; other lists by index. A subtree present on
 * one side only is reported once, at its root, with the whole value.
 */
export function diffConfigs(a: unknown, b: unknown, path = '', out: ConfigChange[] = []): ConfigChange[] {
  if (same(a, b)) return out;
  if (isPlainObject(a) && isPlainObject(b)) {
    for (const key of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
      const child = path ? `${path}.${key}` : key;
      if (!(key in b)) out.push({ path: child, a: a[key] });
      else if (!(key in a)) out.push({ path: child, b: b[key] });
      else diffConfigs(a[key], b[key], child, out);
    }
    return out;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    const na = elementNames(a);
    const nb = elementNames(b);
    if (na && nb) {
      const before = out.length;
      const ia = new Map(na.map((n, i) => [n, a[i]]));
      const ib = new Map(nb.map((n, i) => [n, b[i]]));
      for (const n of [...new Set([...na, ...nb])]) {
        const child = `${path}[${n}]`;
        if (!ib.has(n)) out.push({ path: child, a: ia.get(n) });
        else if (!ia.has(n)) out.push({ path: child, b: ib.get(n) });
        else diffConfigs(ia.get(n), ib.get(n), child, out);
      }
      // Same elements, only reordered: say so rather than nothing.
      if (out.length === before) out.push({ path: `${path} (order)`, a: na, b: nb });
      return out;
    }
    if (a.length === b.length) {
      a.forEach((v, i) => diffConfigs(v, b[i], `${path}[${i}]`, out));
      return out;
    }
  }
  out.push({ path: path || '(config)', a, b });
  return out;
}

/** Each metric of either side with both values, the change (b - a) and the relative change. */
export function metricChanges(ma: Record<string, number>, mb: Record<string, number>): MetricChange[] {
  const names = [...new Set([...Object.keys(ma), ...Object.keys(mb)])].filter((n) => n !== 'count').sort();
  return names.map((name): MetricChange => {
    const a = typeof ma[name] === 'number' ? ma[name]! : null;
    const b = typeof mb[name] === 'number' ? mb[name]! : null;
    const change = a !== null && b !== null ? b - a : null;
    const relative = change !== null && a !== null && a !== 0 ? change / Math.abs(a) : null;
    return { name, a, b, change, relative };
  });
}

/**
 * Config, metric, dataset and bundle differences between two versions (of one model or two). The
 * metrics here are the recorded ones; `models diff` measures both on the same rows when it can
 * (evaluation/same-rows.ts) and replaces them.
 */
export async function diffModelVersions(ctx: AtelierContext, va: ModelVersionRecord, vb: ModelVersionRecord): Promise<VersionDiff> {
  const pa = await provenance(ctx, va);
  const pb = await provenance(ctx, vb);
  const ref = (v: ModelVersionRecord) => `${v.model}@${v.version}`;

  let config: VersionDiff['config'];
  if (pa.run && pb.run && pa.run.config !== undefined && pb.run.config !== undefined) {
    const changes = diffConfigs(pa.run.config, pb.run.config);
    config = { compared: true, same: changes.length === 0, changes };
  } else {
    const missing = [!pa.run && ref(va), !pb.run && ref(vb)].filter(Boolean).join(' and ');
    config = { compared: false, same: false, changes: [], note: `no run config recorded for ${missing}` };
  }

  const metrics = metricChanges(va.metrics, vb.metrics);

  const da = pa.run?.dataset ?? null;
  const db = pb.run?.dataset ?? null;
  return {
    a: { ref: ref(va), runId: pa.run?.id ?? null, configHash: pa.run?.configHash ?? null },
    b: { ref: ref(vb), runId: pb.run?.id ?? null, configHash: pb.run?.configHash ?? null },
    config,
    metrics,
    metricsOn: { sameRows: false, note: 'recorded held-out metrics: each version was measured on its own held-out split' },
    dataset: { same: da !== null && db !== null && da.contentHash === db.contentHash, a: da, b: db },
    bundle: { same: va.bundleHash === vb.bundleHash, a: va.bundleHash, b: vb.bundleHash },
  };
}
