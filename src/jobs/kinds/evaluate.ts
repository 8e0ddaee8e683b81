import { writeFileSync } from 'node:fs';
import { z } from '#zod';
import { evaluateModel, type EvaluationResult } from '../../evaluation/evaluate.js';
import { evaluationPage } from '../../evaluation/report.js';
import type { JobDefinition } from '../definition.js';

export const evaluatePayload = z.object({
  /** name@version, resolved when the job is submitted. */
  model: z.string().min(1),
  data: z.string().optional(),
  threshold: z.number().optional(),
  slices: z.array(z.string()).default([]),
  importance: z.object({ repeats: z.number().int().min(0).optional(), seed: z.number().optional() }).default({}),
  /** Render the HTML report into the artifact store. */
  report: z.boolean().default(false),
});

export type EvaluateOutcome = Omit<EvaluationResult, 'charts'> & { report?: string };

/** Evaluation writes nothing but its report (content-addressed), so running it again is harmless. */
export const evaluateJob: JobDefinition<z.infer<typeof evaluatePayload>, EvaluateOutcome> = {
  kind: 'evaluate',
  payload: evaluatePayload,
  async run(ctx, payload, job) {
    job.progress(`evaluating ${payload.model}`);
    const { charts, ...result } = await evaluateModel(ctx, payload.model, {
      data: payload.data,
      threshold: payload.threshold,
      slices: payload.slices,
      importance: payload.importance,
      charts: payload.report,
    });
    if (!payload.report) return result;
    const temp = ctx.artifacts.tempPath('.html');
    writeFileSync(temp, evaluationPage(result, charts ?? []));
    const { key } = await ctx.artifacts.putFile(temp, '.html');
    return { ...result, report: key };
  },
};
