/**
 * Verdicts of model validation (blessing) as the registry keeps them: the verdicts table (and a
 * `model.validated` event for the audit trail). Written by evaluation/blessing.ts and by model
 * import; read here by promotion.
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
  return (await store.getLatestVerdict(name, version))?.details as unknown as Verdict | undefined;
}

/** Records a verdict on `name@version`: its row and its `model.validated` event, in one transaction. */
export async function recordVerdict(store: MetadataStore, name: string, version: number, details: Record<string, unknown> & { blessed: boolean }): Promise<void> {
  await store.transaction(async (tx) => {
    await tx.addVerdict({ model: name, version, blessed: details.blessed, details });
    await tx.appendEvent({ kind: 'model.validated', subject: `${name}@${version}`, details });
  });
}
