import { extname } from 'node:path';
import { statSync } from 'node:fs';
import { z } from '#zod';
import { loadBundle } from '../../bundle/load.js';
import { bundleDir } from '../../registry/models.js';
import { predictFile } from '../../serving/batch.js';
import type { AtelierContext } from '../../store/context.js';
import { AtelierError } from '../../core/errors.js';
import type { JobDefinition } from '../definition.js';

/** An input shipped through the artifact store (the worker shares no files with the submitter). */
export const artifactFile = z.object({ key: z.string().min(1), name: z.string().min(1) });

export const predictPayload = z.object({
  model: z.string().min(1),
  /** Resolved when the job is submitted, so a retry after an alias move predicts with the same version. */
  version: z.number().int().min(1),
  input: artifactFile,
  format: z.enum(['csv', 'parquet']),
  chunkRows: z.number().int().min(1).default(10_000),
});

export interface PredictOutcome {
  model: string;
  version: number;
  rows: number;
  /** Artifact key of the predictions: content-addressed, written whole or not at all. */
  output: string;
  bytes: number;
}

/** Copies a file into the artifact store under its content hash, keeping its extension (readers go by it). */
export function shipFile(ctx: AtelierContext, path: string): Promise<{ key: string; name: string }> {
  return ctx.artifacts.importFile(path, extname(path).toLowerCase()).then(({ key }) => ({ key, name: path.split(/[\\/]/).pop()! }));
}

/** The local path of an artifact (file:// stores: the file itself; s3://: a hash-checked cached copy). */
export async function artifactPath(ctx: AtelierContext, key: string): Promise<string> {
  if (!(await ctx.artifacts.has(key))) throw new AtelierError('FILE_NOT_FOUND', `artifact ${key} is not in the artifact store ${ctx.workspace.artifactsUrl}`, { file: key });
  return ctx.artifacts.localPath(key);
}

export const predictJob: JobDefinition<z.infer<typeof predictPayload>, PredictOutcome> = {
  kind: 'predict',
  payload: predictPayload,
  async run(ctx, payload, job) {
    const version = await ctx.store.getModelVersion(payload.model, payload.version);
    if (!version) throw new AtelierError('VERSION_NOT_FOUND', `model ${payload.model} has no version ${payload.version}`, { field: 'version' });
    const bundle = await loadBundle(await bundleDir(ctx, version));
    const temp = ctx.artifacts.tempPath(`.${payload.format}`);
    try {
      let shown = 0;
      const { rows } = await predictFile(bundle, await artifactPath(ctx, payload.input.key), temp, {
        chunkRows: payload.chunkRows,
        onProgress: (done, total) => {
          if (done === total || done - shown >= total / 10) {
            shown = done;
            job.progress(`${done}/${total} rows`);
          }
        },
      });
      const bytes = statSync(temp).size;
      const { key } = await ctx.artifacts.putFile(temp, `.${payload.format}`);
      return { model: payload.model, version: payload.version, rows, output: key, bytes };
    } finally {
      bundle.dispose();
    }
  },
};
