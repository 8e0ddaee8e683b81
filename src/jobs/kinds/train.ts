import { z } from '#zod';
import { parseModelConfig, type ModelConfig } from '../../core/config.js';
import type { Verdict } from '../../evaluation/blessing.js';
import { validateModelVersion } from '../../evaluation/blessing.js';
import { registration } from '../../pipeline/register-trained.js';
import { warmStartSource } from '../../registry/models.js';
import { latestVerdict } from '../../registry/verdicts.js';
import type { AtelierContext } from '../../store/context.js';
import { allItems } from '../../store/pages.js';
import type { ModelVersionRecord, RunRecord } from '../../store/types.js';
import { train, type TrainOptions, type TrainResult } from '../../training/train.js';
import { finalMetrics, priorAttempt } from '../attempts.js';
import type { JobDefinition } from '../definition.js';
import { withTempFile } from '../files.js';

/** A file carried in a payload: workers share no filesystem with the submitter. */
export const carriedFile = z.object({ file: z.string(), text: z.string() });

export const trainPayload = z.object({
  config: carriedFile,
  register: z.boolean().default(true),
  schema: carriedFile.optional(),
  warmStart: z.string().optional(),
  allowAnomalies: z.boolean().optional(),
});
export type TrainPayload = z.infer<typeof trainPayload>;

/** What `atelier train` reports, queued or not. */
export interface TrainOutcome {
  run: string;
  model: string;
  version: number | null;
  dataset: string;
  metrics: Record<string, number>;
  validation: Verdict | null;
  rows: TrainResult['rows'] | null;
  epochs: TrainResult['epochs'] | null;
  bundle: string | null;
  /** Where the bundle is kept: its path, or its s3:// URL. */
  bundleUrl: string | null;
  bundleHash: string | null;
  /** The run's TensorBoard folder (on the machine that trained it). */
  tensorboard: string | null;
  seconds: number;
  /** True when a retried job found the work done by an earlier attempt. */
  recovered?: boolean;
}

export function trainOutcome(
  config: ModelConfig,
  result: TrainResult,
  registered: { version: ModelVersionRecord; verdict: Verdict } | undefined,
  seconds: number,
  bundleUrl: string,
): TrainOutcome {
  return {
    run: result.run.id,
    model: config.name,
    version: registered?.version.version ?? null,
    dataset: `${result.dataset.dataset}@${result.dataset.version}`,
    metrics: { ...result.metrics } as Record<string, number>,
    validation: registered?.verdict ?? null,
    rows: result.rows,
    epochs: result.epochs,
    bundle: result.bundleDir,
    bundleUrl,
    bundleHash: result.manifest.contentHash,
    tensorboard: typeof result.run.params.tensorboard === 'string' ? result.run.params.tensorboard : null,
    seconds,
  };
}

/** The outcome of a run an earlier attempt finished (and registered, when asked). */
async function recoveredOutcome(ctx: AtelierContext, run: RunRecord, register: boolean): Promise<TrainOutcome | undefined> {
  const version = register ? (await allItems((page) => ctx.store.listModelVersions({ model: run.model }, page))).find((v) => v.runId === run.id) : undefined;
  // Finished but never registered: that attempt died in between; this one trains again.
  if (register && !version) return undefined;
  const dataset = await ctx.store.getDatasetVersionById(run.datasetVersionId);
  const split = run.params.split as { trainRows?: number; evalRows?: number; droppedIncomplete?: number } | undefined;
  return {
    run: run.id,
    model: run.model,
    version: version?.version ?? null,
    dataset: dataset ? `${dataset.dataset}@${dataset.version}` : run.datasetVersionId,
    metrics: version?.metrics ?? (await finalMetrics(ctx, run.id)),
    validation: version ? ((await latestVerdict(ctx.store, version.model, version.version)) ?? null) : null,
    rows: split ? { train: split.trainRows ?? 0, validation: 0, eval: split.evalRows ?? 0, dropped: split.droppedIncomplete ?? 0 } : null,
    epochs: null,
    bundle: version?.bundleUri ?? null,
    bundleUrl: version ? ctx.artifacts.locationOf(version.bundleUri) : null,
    bundleHash: version?.bundleHash ?? null,
    tensorboard: typeof run.params.tensorboard === 'string' ? run.params.tensorboard : null,
    seconds: 0,
    recovered: true,
  };
}

/** Trains (and registers) a config: the body of `atelier train`, here or on a worker. */
export async function trainAndRegister(
  ctx: AtelierContext,
  config: ModelConfig,
  payload: Omit<TrainPayload, 'config' | 'schema'> & { schemaFile?: string },
  hooks: Pick<TrainOptions, 'onEpoch' | 'onStage' | 'runId'> = {},
): Promise<TrainOutcome> {
  const started = performance.now();
  const warmStart = payload.warmStart ? await warmStartSource(ctx, payload.warmStart, config.model.family) : undefined;
  // The version is registered in the transaction that closes the run (run.finished and model.registered together).
  const result = await train(ctx, config, {
    warmStart,
    allowAnomalies: payload.allowAnomalies,
    schemaFile: payload.schemaFile,
    register: payload.register ? registration(ctx, config) : undefined,
    ...hooks,
  });
  const version = result.version ?? undefined;
  const registered = version ? { version, verdict: await validateModelVersion(ctx, version.model, version.version, config.validation) } : undefined;
  return trainOutcome(config, result, registered, (performance.now() - started) / 1000, ctx.artifacts.locationOf(result.bundleUri));
}

export const trainJob: JobDefinition<TrainPayload, TrainOutcome> = {
  kind: 'train',
  payload: trainPayload,
  async run(ctx, payload, job) {
    const config = parseModelConfig(payload.config.text, payload.config.file);
    const prior = await priorAttempt(ctx, job);
    if (prior.finished) {
      const recovered = await recoveredOutcome(ctx, prior.finished, payload.register);
      if (recovered) return recovered;
    }
    const onStage = (_stage: string, detail: string) => job.progress(detail);
    return withTempFile(ctx, payload.schema, (schemaFile) => trainAndRegister(ctx, config, { ...payload, schemaFile }, { onStage, runId: prior.runId }));
  },
};
