import type { z } from '#zod';
import type { AtelierContext } from '../store/context.js';
import type { JobKind } from './types.js';

/** What a job's handler knows of the job it runs. */
export interface JobRuntime {
  jobId: string;
  /** 1 for the first attempt, 2 for the first retry... */
  attempt: number;
  /** A line for whoever follows the job (`atelier jobs show`, `train --queue`). */
  progress(line: string): void;
}

/**
 * A kind of job, declared once: its payload (checked with zod on the worker, since it crossed a
 * queue) and its handler, which calls the same library functions as the command. A handler must
 * be idempotent: delivery is at least once, so it may run again for the same job.
 */
export interface JobDefinition<P = any, R = unknown> {
  kind: JobKind;
  payload: z.ZodType<P>;
  run(ctx: AtelierContext, payload: P, job: JobRuntime): Promise<R>;
}
