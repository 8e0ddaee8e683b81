import type { ModelConfig } from '../core/config.js';
import { checkValidationMetrics, validateModelVersion, type Verdict } from '../evaluation/blessing.js';
import { registerModelVersion } from '../registry/models.js';
import type { ModelVersionRecord } from '../store/types.js';
import type { AtelierContext } from '../store/context.js';
import type { TrainResult } from '../training/train.js';

/**
 * The bundle of a finished training run becomes the next version of the config's model; a
 * `validation` section naming a metric the model does not report is refused first, so no version
 * is left without the verdict it was meant to get.
 */
export async function registerRun(ctx: AtelierContext, config: ModelConfig, result: TrainResult): Promise<ModelVersionRecord> {
  checkValidationMetrics(config.validation, config.task, result.metrics as unknown as Record<string, number>);
  return registerModelVersion(ctx, {
    model: config.name,
    runId: result.run.id,
    bundleUri: result.bundleUri,
    bundleHash: result.manifest.contentHash,
    metrics: { ...result.metrics },
  });
}

/**
 * What follows a training run: the bundle becomes a new version, and the version is validated
 * against its champion (the config's `validation` section), so it carries a verdict before anyone
 * tries to promote it.
 */
export async function registerTrained(ctx: AtelierContext, config: ModelConfig, result: TrainResult): Promise<{ version: ModelVersionRecord; verdict: Verdict }> {
  const version = await registerRun(ctx, config, result);
  const verdict = await validateModelVersion(ctx, version.model, version.version, config.validation);
  return { version, verdict };
}
