import { nowIso } from '../core/identity.js';
import type { AtelierContext } from '../store/context.js';
import type { RunRecord } from '../store/types.js';
import type { JobRuntime } from './definition.js';
import { jobRunId } from './types.js';

/**
 * Where a (re)delivered training job stands. Each attempt trains under a run id derived from the
 * job id and the attempt, so attempt N looks at the runs of attempts 1..N-1: a finished one is the
 * job's answer (the attempt died after the work was done); one still `running` belongs to a dead
 * attempt and is marked failed, and this attempt starts over under its own run id.
 */
export async function priorAttempt(ctx: AtelierContext, job: JobRuntime): Promise<{ finished?: RunRecord; runId: string }> {
  let finished: RunRecord | undefined;
  for (let attempt = 1; attempt < job.attempt; attempt++) {
    const run = await ctx.store.getRun(jobRunId(job.jobId, attempt));
    if (!run) continue;
    if (run.status === 'finished') finished ??= run;
    else if (run.status === 'running') {
      const error = `attempt ${attempt} of job ${job.jobId} did not finish; attempt ${job.attempt} starts over`;
      await ctx.store.transaction(async (tx) => {
        await tx.updateRun(run.id, { status: 'failed', endedAt: nowIso(), error });
        await tx.appendEvent({ kind: 'run.failed', subject: run.id, details: { model: run.model, error } });
      });
    }
  }
  return { finished, runId: jobRunId(job.jobId, job.attempt) };
}

/** The final held-out metrics a finished run logged (`final_eval_*`). */
export async function finalMetrics(ctx: AtelierContext, runId: string): Promise<Record<string, number>> {
  const points = await ctx.store.getMetrics(runId);
  return Object.fromEntries(points.filter((p) => p.key.startsWith('final_eval_')).map((p) => [p.key.slice('final_eval_'.length), p.value]));
}
