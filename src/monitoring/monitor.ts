import { writeFileSync } from 'node:fs';
import { parseRef } from '../core/config.js';
import { newId, nowIso } from '../core/identity.js';
import { compareStatistics, featureDistance, type FeatureDistance, type StatisticsComparison } from '../data/drift.js';
import { datasetStatistics } from '../data/profile.js';
import { checkStatistics, histogramBoundaries, type DatasetStatistics } from '../data/statistics.js';
import { resolveModelVersion } from '../registry/models.js';
import { readArtifactText } from '../store/artifacts.js';
import type { AtelierContext } from '../store/context.js';
import { allItems } from '../store/pages.js';
import type { ModelConfig } from '../core/config.js';
import { artifact } from '../pipeline/cache.js';
import { logFiles, logWindowStatistics } from './log-window.js';

/**
 * Monitoring of served traffic, as TFDV's skew and drift detection does it over the prediction
 * log: the statistics of the instances a version answered in a window are compared with the
 * statistics of the data it was trained on (skew) and with the previous window (drift), feature by
 * feature with the data layer's comparators (Jensen-Shannon for numbers, L-infinity for
 * categories), and so is the distribution of its predictions (against the training label, and the
 * previous window). Each check is a monitor execution in the metadata store whose output is the
 * window's statistics: the next check's previous window.
 */

export interface MonitorOptions {
  log: string;
  /** Look at instances after this time (ISO); default: after the end of the previous window. */
  since?: string;
  /** One threshold for every comparison instead of the defaults (0.1). */
  threshold?: number;
}

export interface MonitorReport {
  model: string;
  version: number;
  window: { rows: number; from: string | null; to: string | null };
  previousWindow: { to: string; rows: number } | null;
  trainingData: string | null;
  /** The label of the training data, whose distribution the predictions are compared with. */
  label: string | null;
  skew: StatisticsComparison | null;
  drift: StatisticsComparison | null;
  prediction: { skew: FeatureDistance | null; drift: FeatureDistance | null };
  /** `skew:RM`, `drift:prediction`...: every comparison above its threshold. */
  crossed: string[];
  statistics: { training: DatasetStatistics | null; window: DatasetStatistics | null };
}

/** The same comparison with one threshold for every feature. */
function withThreshold(c: StatisticsComparison, threshold: number | undefined): StatisticsComparison {
  if (threshold === undefined) return c;
  const features = Object.fromEntries(
    Object.entries(c.features).map(([name, f]) => [name, { ...f, threshold: f.metric ? threshold : null, crossed: f.metric !== null && f.distance !== null && f.distance > threshold }]),
  );
  return { ...c, features, crossed: Object.keys(features).filter((n) => features[n]!.crossed) };
}

function judged(d: Omit<FeatureDistance, 'threshold' | 'crossed'>, threshold: number): FeatureDistance {
  return { ...d, threshold, crossed: d.distance !== null && d.distance > threshold };
}

const monitorPipeline = (model: string) => `monitor:${model}`;

async function trainingStatistics(ctx: AtelierContext, runId: string | null): Promise<{ ref: string; stats: DatasetStatistics; label: string } | null> {
  const run = runId ? await ctx.store.getRun(runId) : undefined;
  const dataset = run ? await ctx.store.getDatasetVersionById(run.datasetVersionId) : undefined;
  if (!run || !dataset) return null;
  return { ref: `${dataset.dataset}@${dataset.version}`, stats: await datasetStatistics(ctx, dataset), label: (run.config as ModelConfig).data.label };
}

/** The window the previous check of this model looked at, with its statistics. */
async function previousWindow(ctx: AtelierContext, model: string, version: number) {
  const checks = (await allItems((page) => ctx.store.listExecutions({ pipeline: monitorPipeline(model), step: 'monitor' }, page))).filter(
    (e) => e.state === 'complete' && e.properties.version === version,
  );
  const last = checks.at(-1);
  if (!last) return null;
  const output = (await allItems((page) => ctx.store.listExecutionEvents({ executionId: last.id }, page))).find((e) => e.kind === 'output');
  const stored = output && (await ctx.store.getArtifact(output.artifactId));
  if (!stored || !(await ctx.artifacts.has(stored.uri))) return null;
  return { to: String(last.properties.to), rows: Number(last.properties.rows), stats: checkStatistics(JSON.parse(await readArtifactText(ctx.artifacts, stored.uri))) };
}

export async function monitorModel(ctx: AtelierContext, modelRef: string, options: MonitorOptions): Promise<MonitorReport> {
  const { name, selector } = parseRef(modelRef);
  const version = await resolveModelVersion(ctx, name, selector);
  const training = await trainingStatistics(ctx, version.runId);
  const previous = await previousWindow(ctx, name, version.version);
  const since = options.since ?? previous?.to ?? null;
  // Served values are counted on the training statistics' buckets (the label's for predictions),
  // else on the previous window's, so that an unchanged sample comes out near zero.
  const trainingBounds = training ? histogramBoundaries(training.stats) : undefined;
  const boundaries = trainingBounds
    ? { ...trainingBounds, ...(trainingBounds[training!.label] ? { prediction: trainingBounds[training!.label]! } : {}) }
    : previous
      ? histogramBoundaries(previous.stats)
      : undefined;
  const window = await logWindowStatistics(ctx, logFiles(options.log, name), name, version.version, since, boundaries);
  const threshold = options.threshold ?? 0.1;
  const report: MonitorReport = {
    model: name,
    version: version.version,
    window: { rows: window.rows, from: window.from, to: window.to },
    previousWindow: previous ? { to: previous.to, rows: previous.rows } : null,
    trainingData: training?.ref ?? null,
    label: training?.label ?? null,
    skew: null,
    drift: null,
    prediction: { skew: null, drift: null },
    crossed: [],
    statistics: { training: training?.stats ?? null, window: window.statistics },
  };
  if (!window.statistics) return report;
  const stats = window.statistics;
  if (training) {
    report.skew = withThreshold(compareStatistics(training.stats, stats, undefined, { kind: 'skew' }), options.threshold);
    const label = training.stats.features[training.label];
    if (label && stats.features.prediction) report.prediction.skew = judged(featureDistance(label, stats.features.prediction), threshold);
  }
  if (previous) {
    report.drift = withThreshold(compareStatistics(previous.stats, stats, undefined, { kind: 'drift' }), options.threshold);
    const before = previous.stats.features.prediction;
    if (before && stats.features.prediction) report.prediction.drift = report.drift.features.prediction ?? judged(featureDistance(before, stats.features.prediction), threshold);
  }
  report.crossed = [
    ...(report.skew?.crossed ?? []).map((f) => `skew:${f}`),
    ...(report.prediction.skew?.crossed ? ['skew:prediction'] : []),
    ...(report.drift?.crossed ?? []).map((f) => `drift:${f}`),
  ];

  // The window's statistics become the next check's previous window.
  const temp = ctx.artifacts.tempPath('.json');
  writeFileSync(temp, JSON.stringify(stats));
  const { key } = await ctx.artifacts.putFile(temp, '.json');
  const output = artifact('statistics', key, key, { served: `${name}@${version.version}` });
  const id = newId('ex');
  await ctx.store.transaction(async (tx) => {
    await tx.putArtifact(output);
    await tx.insertExecution({
      id,
      pipeline: monitorPipeline(name),
      pipelineRun: id,
      step: 'monitor',
      state: 'complete',
      cacheKey: key,
      properties: { version: version.version, from: window.from, to: window.to, rows: window.rows, crossed: report.crossed },
      startedAt: nowIso(),
      endedAt: nowIso(),
      error: null,
    });
    await tx.insertExecutionEvents([{ executionId: id, artifactId: output.id, kind: 'output', name: 'statistics' }]);
    await tx.appendEvent({ kind: 'monitor.checked', subject: `${name}@${version.version}`, details: { rows: window.rows, from: window.from, to: window.to, crossed: report.crossed } });
  });
  return report;
}
