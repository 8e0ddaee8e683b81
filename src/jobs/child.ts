/**
 * A job's own process: the worker (or the local pool) forks one per job, so a job's threads,
 * memory and native libraries (TF.js, DuckDB) go away with it, a crash takes only the job down,
 * and a thread budget (ATELIER_THREADS) holds for everything inside. It opens the workspace by the
 * URLs it is given, runs the job's handler, and reports progress and the outcome over IPC.
 */
import { AtelierError, isAtelierError } from '../core/errors.js';
import { findWorkspace } from '../core/workspace.js';
import { openContext } from '../store/context.js';
import { JOBS } from './kinds/index.js';
import type { ChildMessage, ChildStart } from './run-in-child.js';

const send = (message: ChildMessage) => new Promise<void>((resolve) => process.send!(message, undefined, {}, () => resolve()));

// The parent died (kill -9 of the worker): stop at once, so the job's retry elsewhere is the only attempt running.
process.on('disconnect', () => process.exit(70));

process.once('message', async (start: ChildStart) => {
  let code = 0;
  try {
    const definition = JOBS[start.job.kind];
    const parsed = definition.payload.safeParse(start.job.payload);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new AtelierError('USAGE', `${start.job.kind} job ${start.job.id}: payload field ${issue.path.join('.') || '(root)'}: ${issue.message}`, { field: issue.path.join('.') });
    }
    const payload = parsed.data;
    const workspace = findWorkspace({ from: start.workspace.root, store: start.workspace.store, artifacts: start.workspace.artifacts });
    const ctx = await openContext(workspace);
    try {
      const result = await definition.run(ctx, payload, {
        jobId: start.job.id,
        attempt: start.job.attempt,
        progress: (line) => void send({ type: 'progress', line }),
      });
      await send({ type: 'done', result: result ?? null });
    } finally {
      await ctx.store.close();
    }
  } catch (error) {
    code = 1;
    const known = isAtelierError(error);
    await send({
      type: 'failed',
      error: known ? { code: error.code, message: error.message, facts: error.facts } : { code: 'INTERNAL', message: (error as Error)?.message ?? String(error) },
    });
  }
  // TF.js and DuckDB may hold the event loop open.
  process.exit(code);
});
