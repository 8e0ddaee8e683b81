import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AtelierError } from '../core/errors.js';
import { sha256File } from '../core/hash.js';
import { formatOf } from '../data/sources.js';
import type { AtelierContext } from '../store/context.js';
import { artifact } from './cache.js';
import type { Pipeline } from './config.js';
import { runPipeline, type PipelineRunResult } from './runner.js';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "500ms", "10s", "5m", "1h", "1d" in milliseconds. */
export function parseDuration(text: string, field = 'duration'): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text.trim());
  if (!m || !(Number(m[1]) > 0)) {
    throw new AtelierError('USAGE', `${field}: "${text}" is not a duration; expected a number and a unit, such as 30s, 5m, 1h or 1d`, { field, got: text });
  }
  return Number(m[1]) * UNITS[m[2]!]!;
}

export interface WatchOptions {
  /** Folder whose new files each start a run (as the import source). */
  dir?: string;
  /** Run on a schedule, every this many milliseconds (the first run at once). */
  everyMs?: number;
  /** How often the folder is looked at (default 2 s). */
  pollMs?: number;
  /** Process what is there now (a folder), or run once (a schedule), then return. */
  once?: boolean;
  /** Return after this many runs. */
  maxRuns?: number;
  signal?: AbortSignal;
  note?: (line: string) => void;
  onRun?: (result: PipelineRunResult) => void;
}

/** The files of a folder a watch takes, in name order: data files, not hidden (write, then rename in). */
export function pendingFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => !f.startsWith('.') && formatOf(f) !== undefined)
    .sort()
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).isFile());
}

/**
 * Continuous training's triggers: new files in a folder (each becomes a dataset version and starts
 * a run; a file is taken once, remembered by the hash of its content, so a renamed or copied file
 * is not taken again), and a schedule. A file is remembered once its run has ended, whatever the
 * outcome: a run killed half-way is resumed by the next watch (the finished steps are cached).
 */
export async function watchPipeline(ctx: AtelierContext, pipeline: Pipeline, options: WatchOptions): Promise<PipelineRunResult[]> {
  if (!options.dir && options.everyMs === undefined) throw new AtelierError('USAGE', 'pipeline watch needs --dir FOLDER or --every DURATION', { field: 'dir' });
  const dir = options.dir ? resolve(options.dir) : undefined;
  if (dir && !(existsSync(dir) && statSync(dir).isDirectory())) throw new AtelierError('FILE_NOT_FOUND', `${options.dir}: no such folder`, { file: options.dir });
  const note = options.note ?? (() => {});
  const results: PipelineRunResult[] = [];
  const pollMs = options.pollMs ?? 2000;
  const done = () => options.signal?.aborted || (options.maxRuns !== undefined && results.length >= options.maxRuns);
  const record = (result: PipelineRunResult) => {
    results.push(result);
    options.onRun?.(result);
    note(`${result.status === 'succeeded' ? '✓' : '✗'} run ${result.run} ${result.status}${result.error ? `: ${result.error.message}` : ''}`);
  };
  let nextScheduled = Date.now();
  for (;;) {
    if (dir) {
      for (const file of pendingFiles(dir)) {
        if (done()) return results;
        const seen = artifact('watched_file', file, `${pipeline.config.name}:${await sha256File(file)}`, { pipeline: pipeline.config.name });
        if (await ctx.store.getArtifact(seen.id)) continue;
        note(`▶ ${basename(file)}: pipeline ${pipeline.config.name}`);
        record(await runPipeline(ctx, pipeline, { source: file, trigger: `watch ${basename(file)}`, note }));
        await ctx.store.putArtifact(seen);
      }
    }
    if (options.everyMs !== undefined && Date.now() >= nextScheduled && !done()) {
      nextScheduled += options.everyMs;
      note(`▶ scheduled run of ${pipeline.config.name}`);
      record(await runPipeline(ctx, pipeline, { trigger: 'schedule', note }));
    }
    if (options.once || done()) return results;
    const wait = options.everyMs !== undefined && !dir ? Math.max(0, nextScheduled - Date.now()) : pollMs;
    try {
      await sleep(wait, undefined, { signal: options.signal });
    } catch {
      return results;
    }
  }
}
