import { join } from 'node:path';
import type { ModelConfig } from '../core/config.js';
import { canonicalJson, sha256 } from '../core/hash.js';
import { currentHost, currentUser, newId, nowIso } from '../core/identity.js';
import { writeBundle } from '../bundle/write.js';
import type { BundleManifest } from '../bundle/format.js';
import { numericStats } from '../data/stats.js';
import type { Metrics } from '../evaluation/metrics.js';
import { evaluationCharts } from '../evaluation/charts.js';
import { evaluationFiles } from '../evaluation/stored.js';
import { taskReport } from '../evaluation/task-report.js';
import type { EpochReport } from '../models/family.js';
import type { AtelierContext } from '../store/context.js';
import type { MetadataStore } from '../store/metadata-store.js';
import type { DatasetVersionRecord, MetricPoint, ModelVersionRecord, RunRecord } from '../store/types.js';
import { endRunningRun, interruptible } from '../store/run-lifecycle.js';
import { fitAndEvaluate } from './fit.js';
import { heldOutImportance } from './importance.js';
import { requiredSources } from '../features/transform.js';
import { prepareData } from './prepare.js';
import { AtelierError } from '../core/errors.js';
import { validateVersion } from '../data/profile.js';
import { EventWriter } from './tensorboard/index.js';

export type TrainStage = 'data' | 'fit' | 'evaluate' | 'bundle';

export interface TrainOptions {
  /** A saved model of the same family to start from (see registry's warmStartSource). */
  warmStart?: { ref: string; dir: string };
  /** Train even when the data has error anomalies against its schema (recorded in the run). */
  allowAnomalies?: boolean;
  /** Schema file to validate against instead of the dataset's latest schema version. */
  schemaFile?: string;
  onEpoch?: (report: EpochReport) => void;
  onStage?: (stage: TrainStage, detail: string) => void;
  /**
   * Registers the bundle as a model version inside the transaction that closes the run, so
   * `run.finished` and `model.registered` commit together (see pipeline/register-trained.ts).
   */
  register?: (store: MetadataStore, trained: Omit<TrainResult, 'version'>) => Promise<ModelVersionRecord>;
  /** The run's id; a queued job derives it from its job id so that a retry finds its own run. */
  runId?: string;
}

export interface TrainResult {
  run: RunRecord;
  dataset: DatasetVersionRecord;
  metrics: Metrics;
  /** A local folder holding the bundle (in the artifact folder, or the cache of a remote store). */
  bundleDir: string;
  /** The bundle's key in the artifact store, what a model version records. */
  bundleUri: string;
  manifest: BundleManifest;
  rows: { train: number; validation: number; eval: number; dropped: number };
  epochs: { run: number; best: number; stoppedEarly: boolean };
  /** The version registered with the run (`register` option), else null. */
  version: ModelVersionRecord | null;
}

/** Flush step metrics to the store every this many epochs, so a watcher sees progress. */
const METRIC_FLUSH_EVERY = 10;
/** Write weight histograms to TensorBoard every this many epochs (and at the first). */
const HISTOGRAM_EVERY = 10;

/** The run's own folder: TensorBoard event files and anything else the run writes. */
/** A run's TensorBoard folder, `.atelier/runs/<model>/<run id>`: TensorBoard names the run by its model. */
export function runFolder(ctx: AtelierContext, run: Pick<RunRecord, 'id' | 'model'>): string {
  return join(ctx.workspace.stateDir, 'runs', run.model, run.id);
}

/**
 * Validates the dataset version against its schema (the latest recorded, or a file) before any
 * training: error anomalies refuse the run unless allowed, and the outcome goes into the run.
 */
async function checkTrainingData(ctx: AtelierContext, dataset: DatasetVersionRecord, options: TrainOptions) {
  if (!options.schemaFile && !(await ctx.store.getDataSchema(dataset.dataset))) return undefined;
  const result = await validateVersion(ctx, dataset, { schemaFile: options.schemaFile, environment: 'TRAINING' });
  const errors = result.anomalies.filter((a) => a.severity === 'error');
  if (errors.length > 0 && !options.allowAnomalies) {
    const listed = errors.slice(0, 3).map((a) => `${a.feature ?? 'dataset'}: ${a.message}`).join('; ');
    throw new AtelierError(
      'DATA_ANOMALIES',
      `${dataset.dataset}@${dataset.version} breaks ${result.schema} with ${errors.length} error${errors.length > 1 ? 's' : ''} (${listed}${errors.length > 3 ? '; …' : ''}); see \`atelier data validate ${dataset.dataset}@${dataset.version}\`, or train anyway with --allow-anomalies`,
      { field: 'data.dataset', errors: errors.length },
    );
  }
  return { schema: result.schema, errors: result.errors, warnings: result.warnings, allowedAnomalies: errors.length > 0 };
}

/**
 * Trains a model config into a bundle. The run is recorded from the start (status running, with
 * a heartbeat) and closed as finished, failed or killed; its step metrics are written as training
 * goes. With `register`, the version is registered in the transaction that closes the run.
 */
export async function train(ctx: AtelierContext, config: ModelConfig, options: TrainOptions = {}): Promise<TrainResult> {
  const stage = options.onStage ?? (() => {});
  const data = await prepareData(ctx, config);
  const { dataset, specs, table, labels, trainRows, evalRows, dropped } = data;
  const validation = await checkTrainingData(ctx, dataset, options);
  const warmStart = options.warmStart;
  stage('data', `${dataset.dataset}@${dataset.version}: ${trainRows.length} training and ${evalRows.length} held-out rows`);
  const run: RunRecord = {
    id: options.runId ?? newId('run'),
    model: config.name,
    status: 'running',
    config,
    configHash: sha256(canonicalJson(config)),
    datasetVersionId: dataset.id,
    parentRunId: null,
    experiment: null,
    params: {
      family: config.model.family,
      seed: config.training.seed,
      split: { ...config.data.split, trainRows: trainRows.length, evalRows: evalRows.length, droppedIncomplete: dropped },
      datasetHash: dataset.contentHash,
      ...(validation ? { validation } : {}),
      ...(warmStart ? { warmStart: warmStart.ref } : {}),
    },
    startedAt: nowIso(),
    endedAt: null,
    user: currentUser(),
    host: currentHost(),
    error: null,
    heartbeatAt: nowIso(),
    pid: process.pid,
  };
  await ctx.store.transaction(async (tx) => {
    await tx.insertRun(run);
    await tx.appendEvent({ kind: 'run.started', subject: run.id, details: { model: run.model, dataset: `${dataset.dataset}@${dataset.version}` } });
  });

  // Ctrl-C or SIGTERM from here on marks the run killed; a heartbeat shows it is alive.
  return interruptible(ctx, run.id, run.model, () => trainRun(ctx, config, options, run, data));
}

async function trainRun(
  ctx: AtelierContext,
  config: ModelConfig,
  options: TrainOptions,
  run: RunRecord,
  data: Awaited<ReturnType<typeof prepareData>>,
): Promise<TrainResult> {
  const stage = options.onStage ?? (() => {});
  const { dataset, specs, table, labels, trainRows, evalRows, dropped } = data;
  const warmStart = options.warmStart;
  try {
    // TensorBoard reads the run's folder: `tensorboard --logdir .atelier/runs`.
    const events = await EventWriter.create(runFolder(ctx, run));
    stage('fit', `${config.model.family} on ${trainRows.length} rows, ${specs.length} features`);
    let pending: MetricPoint[] = [];
    let flushing: Promise<void> = Promise.resolve();
    // Writes are chained so they reach the store in order, and awaited before the run closes.
    const flush = () => {
      const points = pending;
      pending = [];
      flushing = flushing.then(() => ctx.store.logMetrics(run.id, points));
      return flushing;
    };
    const onEpoch = (report: EpochReport) => {
      events.scalar(`loss/train_${report.lossName}`, report.trainLoss, report.epoch);
      if (report.evalLoss !== undefined) events.scalar(`loss/validation_${report.lossName}`, report.evalLoss, report.epoch);
      if (report.parameters && (report.epoch === 1 || report.epoch % HISTOGRAM_EVERY === 0)) {
        for (const p of report.parameters()) events.histogram(`weights/${p.name}`, p.values, report.epoch);
      }
      pending.push({ key: `train_${report.lossName}`, step: report.epoch, value: report.trainLoss });
      if (report.evalLoss !== undefined) pending.push({ key: `validation_${report.lossName}`, step: report.epoch, value: report.evalLoss });
      options.onEpoch?.(report);
      if (report.epoch % METRIC_FLUSH_EVERY === 0) void flush().catch(() => {});
    };
    const { model, transform, summary, metrics, rows, evaluated } = await fitAndEvaluate(data, config, trainRows, evalRows, onEpoch, warmStart?.dir);
    await flush();

    stage('evaluate', `held-out split: ${evalRows.length} rows`);
    for (const [key, value] of Object.entries(metrics)) if (key !== 'count') events.scalar(`eval/${key}`, value, summary.epochsRun);
    await events.close();
    // The full held-out report and its charts (with the run's curves) go into the bundle's evaluation/.
    const heldOut = taskReport(config.task, evaluated.outputs, model.outputWidth, evaluated.y, { classes: labels.classes });
    const importance = await heldOutImportance(model, transform, config.task, table.columns, labels.y, evalRows, config.training.seed);
    const charts = await evaluationCharts({
      report: heldOut,
      classes: labels.classes,
      predicted: evaluated.outputs,
      actual: evaluated.y,
      importance,
      training: await ctx.store.getMetrics(run.id),
      bestEpoch: summary.stoppedEarly ? summary.bestEpoch : null,
    });

    stage('bundle', 'writing the model bundle');
    const numericInputs = transform.inputs.filter((i) => i.dtype === 'int' || i.dtype === 'float');
    const stats = Object.fromEntries(numericInputs.map((i) => [i.name, numericStats(table.columns.get(i.name) as Float64Array, trainRows)]));
    if (config.task === 'regression') stats[config.data.label] = numericStats(labels.y, trainRows);
    const staging = ctx.artifacts.tempPath('-bundle');
    const manifest = await writeBundle(
      {
        name: config.name,
        task: config.task,
        family: config.model.family,
        label: config.data.label,
        classes: labels.classes,
        schema: {
          inputs: transform.inputs.map((i) => ({ ...i, presence: requiredSources(transform.features).includes(i.name) ? 'required' : 'optional' })),
          features: specs,
          label: labels.classes ? { name: config.data.label, type: 'string', classes: labels.classes } : { name: config.data.label, type: 'float' },
          dataset: { name: dataset.dataset, version: dataset.version, contentHash: dataset.contentHash },
        },
        transform,
        stats: { split: 'train', rows: trainRows.length, features: stats },
        model,
        evaluation: { split: 'eval', rows: evalRows.length, metrics, training: summary },
        files: evaluationFiles(heldOut, charts, importance),
      },
      staging,
    );
    const stored = await ctx.artifacts.putBundle(staging);
    // The run refers to its bundle (kept by gc even when no version is registered).
    const params = {
      ...run.params,
      tensorboard: runFolder(ctx, run),
      epochsRun: summary.epochsRun,
      bestEpoch: summary.bestEpoch,
      parameters: model.parameterSummary(),
      bundle: stored.key,
    };
    model.dispose();
    const endedAt = nowIso();
    const trained: Omit<TrainResult, 'version'> = {
      run: { ...run, status: 'finished', endedAt, params },
      dataset,
      metrics,
      bundleDir: stored.dir,
      bundleUri: stored.key,
      manifest,
      rows: { train: rows.fit, validation: rows.validation, eval: rows.eval, dropped },
      epochs: { run: summary.epochsRun, best: summary.bestEpoch, stoppedEarly: summary.stoppedEarly },
    };
    const version = await ctx.store.transaction(async (tx) => {
      await tx.logMetrics(run.id, Object.entries(metrics as object as Record<string, number>).map(([key, value]) => ({ key: `final_eval_${key}`, step: summary.epochsRun, value })));
      await tx.updateRun(run.id, { status: 'finished', endedAt, params });
      await tx.appendEvent({ kind: 'run.finished', subject: run.id, details: { model: run.model, metrics, bundleHash: manifest.contentHash } });
      return options.register ? options.register(tx, trained) : null;
    });
    return { ...trained, version };
  } catch (error) {
    // Conditional: a run already killed (Ctrl-C while this unwound) keeps that status. If even this
    // write fails (a full disk), the error that stopped training is the one to report; the run's
    // process will be gone soon and the next command marks the run failed.
    await endRunningRun(ctx.store, run.id, run.model, { status: 'failed', endedAt: nowIso(), error: (error as Error).message }).catch(() => {});
    throw error;
  }
}
