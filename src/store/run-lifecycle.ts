import { currentHost, nowIso } from '../core/identity.js';
import { onInterrupt, type InterruptSignal } from '../core/interrupt.js';
import type { AtelierContext } from './context.js';
import type { MetadataStore } from './metadata-store.js';
import { removeOwnTempFiles, processAlive, tempFolderOf } from './temp-files.js';
import { allItems } from './pages.js';
import type { ExecutionRecord, RunEnd, RunRecord } from './types.js';

/**
 * A run's life: `running` from its start, with a heartbeat written every HEARTBEAT_EVERY_MS; it
 * ends `finished`, `failed` (an error), `killed` (Ctrl-C or SIGTERM) or, when its process
 * vanished (kill -9, a crash, a lost machine), `failed` by the next command that looks.
 */
export const HEARTBEAT_EVERY_MS = 5_000;
/**
 * A run on another machine whose heartbeat is older than this has vanished. Generous on purpose:
 * a long synchronous stretch of training (one epoch of a large DNN) delays heartbeats.
 */
export const HEARTBEAT_LAPSE_MS = 120_000;

/** Writes the run's heartbeat until stopped; the timer never keeps the process alive. */
export function startHeartbeat(store: MetadataStore, runId: string): () => void {
  const timer = setInterval(() => void store.heartbeatRun(runId, nowIso()).catch(() => {}), HEARTBEAT_EVERY_MS);
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * While `work` runs, Ctrl-C and SIGTERM first `close` what it has open (mark a run or a pipeline
 * step as ended) and remove this process's temp files, then the process exits (130 or 143).
 */
export async function closedOnInterrupt<T>(ctx: AtelierContext, close: (signal: InterruptSignal) => Promise<unknown>, work: () => Promise<T>): Promise<T> {
  const release = onInterrupt(async (signal) => {
    await close(signal);
    await removeOwnTempFiles(tempFolderOf(ctx.artifacts));
  });
  try {
    return await work();
  } finally {
    release();
  }
}

/** While `work` runs, the run heartbeats, and Ctrl-C or SIGTERM mark it `killed` (with its `run.killed` event). */
export async function interruptible<T>(ctx: AtelierContext, runId: string, model: string, work: () => Promise<T>): Promise<T> {
  const stopHeartbeat = startHeartbeat(ctx.store, runId);
  const kill = (signal: InterruptSignal) => {
    stopHeartbeat();
    return endRunningRun(ctx.store, runId, model, { status: 'killed', endedAt: nowIso(), error: `killed by ${signal}` });
  };
  try {
    return await closedOnInterrupt(ctx, kill, work);
  } finally {
    stopHeartbeat();
  }
}

/** Ends a run still running, with its event (`run.killed` or `run.failed`), in one transaction; false if it had already ended. */
export async function endRunningRun(store: MetadataStore, runId: string, model: string, end: RunEnd): Promise<boolean> {
  return store.transaction(async (tx) => {
    const ended = await tx.endRun(runId, end);
    if (ended) await tx.appendEvent({ kind: `run.${end.status}`, subject: runId, details: { model, error: end.error } });
    return ended;
  });
}

/**
 * Why a running run's process is gone, or undefined while it lives: on this machine its pid is
 * not alive; elsewhere its heartbeat (or, before the first one, its start) is older than the lapse.
 */
export function vanishedBecause(run: RunRecord, now = Date.now(), host = currentHost()): string | undefined {
  if (run.host === host && run.pid !== null) {
    return processAlive(run.pid) ? undefined : `process vanished (pid ${run.pid} on ${host} is gone)`;
  }
  const last = run.heartbeatAt ?? run.startedAt;
  if (now - Date.parse(last) <= HEARTBEAT_LAPSE_MS) return undefined;
  return `process vanished (no heartbeat from ${run.host} since ${last}, over ${HEARTBEAT_LAPSE_MS / 1000} s)`;
}

/**
 * Marks `failed` every running run whose process vanished; returns them (as they were found).
 * Cheap (one indexed query), so every command runs it before its own work; `dryRun` only lists.
 */
export async function sweepVanishedRuns(store: MetadataStore, options: { dryRun?: boolean } = {}): Promise<(RunRecord & { reason: string })[]> {
  const vanished: (RunRecord & { reason: string })[] = [];
  for (const run of await store.listRunningRuns()) {
    const reason = vanishedBecause(run);
    if (reason === undefined) continue;
    if (options.dryRun || (await endRunningRun(store, run.id, run.model, { status: 'failed', endedAt: nowIso(), error: reason }))) {
      vanished.push({ ...run, reason });
    }
  }
  return vanished;
}

/**
 * Marks `failed` every running pipeline step whose process, on this machine, is gone (steps record
 * their pid and host; they have no heartbeat, so a step on another machine is left to its job's
 * lease). Returns them as they were found; `dryRun` only lists.
 */
export async function sweepVanishedSteps(store: MetadataStore, options: { dryRun?: boolean } = {}): Promise<(ExecutionRecord & { reason: string })[]> {
  const host = currentHost();
  const vanished: (ExecutionRecord & { reason: string })[] = [];
  for (const step of await allItems((page) => store.listExecutions({ state: 'running' }, page))) {
    const { pid, host: stepHost } = step.properties as { pid?: unknown; host?: unknown };
    if (stepHost !== host || typeof pid !== 'number' || processAlive(pid)) continue;
    const reason = `process vanished (pid ${pid} on ${host} is gone)`;
    if (!options.dryRun) await store.updateExecution(step.id, { state: 'failed', endedAt: nowIso(), error: reason });
    vanished.push({ ...step, reason });
  }
  return vanished;
}
