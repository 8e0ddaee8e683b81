import type { ModelConfig } from '../core/config.js';
import { checkValidationMetrics, validateModelVersion, type Verdict } from '../evaluation/blessing.js';
import { registerModelVersion } from '../registry/models.js';
import type { ModelVersionRecord } from '../store/types.js';
import type { AtelierContext } from '../store/context.js';
import { train, type TrainOptions, type TrainResult } from '../training/train.js';

/**
 * train's `register` option for a config: the bundle of the finished run becomes the next version
 * of the config's model, in the transaction that closes the run (run.finished and
 * model.registered commit together). A `validation` section naming a metric the model does not
 * report is refused first, so no version is left without the verdict it was meant to get.
 */
export function registration(ctx: AtelierContext, config: ModelConfig): NonNullable<TrainOptions['register']> {
  return (store, trained) => {
    checkValidationMetrics(config.validation, config.task, trained.metrics as unknown as Record<string, number>);
    return registerModelVersion(
      { ...ctx, store },
      { model: config.name, runId: trained.run.id, bundleUri: trained.bundleUri, bundleHash: trained.manifest.contentHash, metrics: { ...trained.metrics } },
    );
  };
}

/**
 * What a training run for the registry is: train, register the bundle with the run's end, and
 * validate the version against its champion (the config's `validation` section), so it carries a
 * verdict before anyone tries to promote it.
 */
export async function trainAndRegister(
  ctx: AtelierContext,
  config: ModelConfig,
  options: Omit<TrainOptions, 'register'> = {},
): Promise<TrainResult & { version: ModelVersionRecord; verdict: Verdict }> {
  const result = await train(ctx, config, { ...options, register: registration(ctx, config) });
  const version = result.version!;
  const verdict = await validateModelVersion(ctx, version.model, version.version, config.validation);
  return { ...result, version, verdict };
}
