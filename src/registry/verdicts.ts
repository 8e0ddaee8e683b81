/**
 * Verdicts of model validation (blessing) as the registry keeps them: `model.validated` events.
 * Written by evaluation/blessing.ts; read here by promotion.
 */
import type { MetricRequirement } from '../core/config.js';
import type { MetadataStore } from '../store/metadata-store.js';

export interface MetricCheck {
  metric: string;
  challenger: number;
  champion: number | null;
  requirement: MetricRequirement;
  passed: boolean;
  /** Each requirement that failed, in words with both numbers. */
  failures: string[];
}

export interface Verdict {
  model: string;
  version: number;
  blessed: boolean;
  /** The alias compared against and its holder at validation time (null: no holder yet). */
  champion: { alias: string; version: number | null };
  data: { dataset: string; split: 'eval'; rows: number } | null;
  checks: MetricCheck[];
  challengerMetrics: Record<string, number>;
  championMetrics: Record<string, number> | null;
  note: string | null;
}

/** The latest recorded verdict of a version, if any. */
export async function latestVerdict(store: MetadataStore, name: string, version: number): Promise<Verdict | undefined> {
  const subject = `${name}@${version}`;
  const events = (await store.listEvents({ kind: 'model.validated' })).filter((e) => e.subject === subject);
  const last = events.sort((a, b) => a.seq - b.seq).at(-1);
  return last ? (last.details as unknown as Verdict) : undefined;
}

