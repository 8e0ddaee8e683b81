import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { z } from '#zod';
import { resolveSource } from '../../data/sources.js';
import { loadPipeline, parsePipeline } from '../../pipeline/config.js';
import { runPipeline, type PipelineRunResult } from '../../pipeline/runner.js';
import type { AtelierContext } from '../../store/context.js';
import type { JobDefinition } from '../definition.js';
import { carriedFile } from './train.js';
import { artifactFile, artifactPath, shipFile } from './predict.js';

/** A pipeline and every file it names travel with the job: the worker shares no folder with the submitter. */
export const pipelinePayload = z.object({
  pipeline: carriedFile,
  modelConfig: carriedFile,
  schema: carriedFile.optional(),
  /** The import step's data files, through the artifact store. */
  sources: z.array(artifactFile).default([]),
});
export type PipelinePayload = z.infer<typeof pipelinePayload>;

const carry = (file: string) => ({ file, text: readFileSync(file, 'utf8') });

/** The payload of a queued `pipeline run FILE [--source S]`: its files read, its data shipped. */
export async function pipelinePayloadOf(ctx: AtelierContext, file: string, source?: string): Promise<PipelinePayload> {
  const pipeline = loadPipeline(file);
  const from = source ?? pipeline.paths.source;
  const sources = from ? await Promise.all(resolveSource(from).files.map((f) => shipFile(ctx, f))) : [];
  return {
    pipeline: carry(pipeline.file),
    modelConfig: carry(pipeline.paths.modelConfig),
    ...(pipeline.paths.schema ? { schema: carry(pipeline.paths.schema) } : {}),
    sources,
  };
}

/**
 * Runs the pipeline from a temp folder holding its files. A retried run is cheap: every step that
 * finished before is cached (its cache key matches), so the run resumes after it.
 */
export const pipelineJob: JobDefinition<PipelinePayload, PipelineRunResult> = {
  kind: 'pipeline',
  payload: pipelinePayload,
  async run(ctx, payload, job) {
    const dir = ctx.artifacts.tempPath('-pipeline');
    mkdirSync(join(dir, 'sources'), { recursive: true });
    try {
      const place = (carried: { file: string; text: string }) => {
        const path = join(dir, basename(carried.file));
        writeFileSync(path, carried.text);
        return path;
      };
      for (const s of payload.sources) copyFileSync(await artifactPath(ctx, s.key), join(dir, 'sources', s.name));
      const parsed = parsePipeline(payload.pipeline.text, payload.pipeline.file);
      const only = payload.sources.length === 1 ? join(dir, 'sources', payload.sources[0]!.name) : join(dir, 'sources');
      const pipeline = {
        ...parsed,
        paths: { modelConfig: place(payload.modelConfig), schema: payload.schema ? place(payload.schema) : undefined, source: payload.sources.length ? only : undefined },
      };
      // A failed step is the run's answer (status failed, as `pipeline run` reports it), not a job to retry.
      return await runPipeline(ctx, pipeline, { trigger: `job ${job.jobId}`, note: job.progress });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
