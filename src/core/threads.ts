import { availableParallelism } from 'node:os';

/** The environment variable that carries a job's thread budget into its process. */
export const THREADS_ENV = 'ATELIER_THREADS';

/**
 * Threads this process may use: the cores, unless it runs as one of several concurrent jobs, whose
 * worker gives each a share (ATELIER_THREADS) so that N jobs do not oversubscribe the machine.
 * GBDT histogram threads, the DNN kernel, TF.js, DuckDB and batch prediction all ask here.
 */
export function threadBudget(): number {
  const given = Number(process.env[THREADS_ENV]);
  return Number.isInteger(given) && given >= 1 ? given : availableParallelism();
}

/** Each of `concurrency` jobs gets an equal share of the cores, at least one thread. */
export function shareOfCores(concurrency: number): number {
  return Math.max(1, Math.floor(availableParallelism() / Math.max(1, concurrency)));
}
