import { z } from '#zod';
import { parseModelConfig } from '../../core/config.js';
import { crossValidate, type CrossValidation } from '../../training/cross-validate.js';
import type { JobDefinition } from '../definition.js';
import { carriedFile } from './train.js';

export const crossValidationPayload = z.object({ config: carriedFile, k: z.number().int().min(2) });

/** K-fold cross-validation registers nothing, so running it again is harmless. */
export const crossValidationJob: JobDefinition<z.infer<typeof crossValidationPayload>, CrossValidation> = {
  kind: 'cross-validation',
  payload: crossValidationPayload,
  run(ctx, payload, job) {
    const config = parseModelConfig(payload.config.text, payload.config.file);
    return crossValidate(ctx, config, payload.k, { onFold: (fold, k) => job.progress(`fold ${fold + 1} of ${k}`) });
  },
};
