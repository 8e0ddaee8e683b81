import type { AtelierContext } from './context.js';
import { sweepVanishedRuns, sweepVanishedSteps } from './run-lifecycle.js';
import { deadTempEntries, removeTempEntries, tempFolderOf } from './temp-files.js';

/** Unreferenced artifacts younger than this are kept: a write in flight is stored before it is recorded. */
export const DEFAULT_GRACE_MS = 60 * 60 * 1000;

export interface GcReport {
  dryRun: boolean;
  graceSeconds: number;
  /** Runs found running whose process vanished, now failed. */
  runs: { id: string; model: string; reason: string }[];
  /** Pipeline steps found running whose process vanished, now failed. */
  steps: { id: string; pipeline: string; step: string; reason: string }[];
  temp: { files: number; bytes: number; paths: string[] };
  artifacts: { files: number; bytes: number; keys: string[]; kept: number };
}

/**
 * The cheap part of gc, run at the start of every command: runs and pipeline steps whose process
 * vanished are marked failed, temp files of dead processes removed. Two queries and one folder listing.
 */
export async function sweep(ctx: AtelierContext): Promise<void> {
  await sweepVanishedRuns(ctx.store);
  await sweepVanishedSteps(ctx.store);
  await removeTempEntries(await deadTempEntries(tempFolderOf(ctx.artifacts), DEFAULT_GRACE_MS));
}

/** Whether `key` is referenced, itself or through a folder holding it (a bundle folder's files). */
function referenced(key: string, keys: Set<string>): boolean {
  if (keys.has(key)) return true;
  for (let cut = key.lastIndexOf('/'); cut > 0; cut = key.lastIndexOf('/', cut - 1)) if (keys.has(key.slice(0, cut))) return true;
  return false;
}

/**
 * `atelier gc`: closes runs and pipeline steps whose process vanished, removes temp files of dead processes, and
 * removes stored artifacts nothing in the metadata store refers to, unless younger than `graceMs`.
 * `dryRun` lists what would go and changes nothing.
 */
export async function collectGarbage(ctx: AtelierContext, options: { dryRun?: boolean; graceMs?: number } = {}): Promise<GcReport> {
  const dryRun = options.dryRun ?? false;
  const graceMs = options.graceMs ?? DEFAULT_GRACE_MS;
  const runs = await sweepVanishedRuns(ctx.store, { dryRun });
  const steps = await sweepVanishedSteps(ctx.store, { dryRun });

  const temp = await deadTempEntries(tempFolderOf(ctx.artifacts), graceMs);
  if (!dryRun) await removeTempEntries(temp);

  // Keys are read before the listing: an artifact recorded after this is young, so the grace keeps it.
  const keep = new Set(await ctx.store.referencedArtifactKeys());
  const now = Date.now();
  const doomed: { key: string; bytes: number }[] = [];
  let kept = 0;
  for await (const item of ctx.artifacts.listKeys()) {
    if (referenced(item.key, keep) || now - item.modifiedAt.getTime() <= graceMs) kept++;
    else doomed.push(item);
  }
  if (!dryRun) for (const item of doomed) await ctx.artifacts.deleteKey(item.key);

  return {
    dryRun,
    graceSeconds: graceMs / 1000,
    runs: runs.map((r) => ({ id: r.id, model: r.model, reason: r.reason })),
    steps: steps.map((s) => ({ id: s.id, pipeline: s.pipeline, step: s.step, reason: s.reason })),
    temp: { files: temp.length, bytes: temp.reduce((a, e) => a + e.bytes, 0), paths: temp.map((e) => e.path) },
    artifacts: { files: doomed.length, bytes: doomed.reduce((a, e) => a + e.bytes, 0), keys: doomed.map((e) => e.key), kept },
  };
}
