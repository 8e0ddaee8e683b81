import { z } from '#zod';
import { parseModelConfig } from '../../core/config.js';
import { train } from '../../training/train.js';
import { finalMetrics, priorAttempt } from '../attempts.js';
import type { JobDefinition } from '../definition.js';
import { carriedFile } from './train.js';

/**
 * One trial of a hyperparameter search: the study has already put the trial's parameters into
 * the config; the trial trains it on its held-out split and registers nothing. Declared here so
 * that workers know the kind; the tuning issue adds the study that submits trials and reads them.
 */
export const tuningTrialPayload = z.object({
  study: z.string().min(1),
  trial: z.number().int().min(0),
  config: carriedFile,
});

export interface TrialOutcome {
  study: string;
  trial: number;
  run: string;
  metrics: Record<string, number>;
}

export const tuningTrialJob: JobDefinition<z.infer<typeof tuningTrialPayload>, TrialOutcome> = {
  kind: 'tuning-trial',
  payload: tuningTrialPayload,
  async run(ctx, payload, job) {
    const prior = await priorAttempt(ctx, job);
    if (prior.finished) return { study: payload.study, trial: payload.trial, run: prior.finished.id, metrics: await finalMetrics(ctx, prior.finished.id) };
    const config = parseModelConfig(payload.config.text, payload.config.file);
    const result = await train(ctx, config, { runId: prior.runId, onStage: (_s, detail) => job.progress(detail) });
    return { study: payload.study, trial: payload.trial, run: result.run.id, metrics: { ...result.metrics } as Record<string, number> };
  },
};
