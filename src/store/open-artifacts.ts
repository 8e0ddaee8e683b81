import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Workspace } from '../core/workspace.js';
import { byteSizeFrom, DEFAULT_CACHE_BYTES } from './artifact-cache.js';
import type { ArtifactStore } from './artifacts.js';
import { FileArtifactStore } from './artifacts-file.js';
import { AtelierError } from '../core/errors.js';

/** Local state every store uses: temp files (.atelier/tmp) and, for remote stores, the cache (.atelier/cache). */
export function localStateDirs(workspace: Pick<Workspace, 'stateDir'>): { tempDir: string; cacheDir: string } {
  return { tempDir: join(workspace.stateDir, 'tmp'), cacheDir: join(workspace.stateDir, 'cache') };
}

function partBytes(defaultBytes: number, minimum: number): number {
  const bytes = byteSizeFrom('ATELIER_S3_PART_BYTES', defaultBytes);
  if (bytes < minimum) {
    throw new AtelierError('CONFIG_INVALID', `ATELIER_S3_PART_BYTES ${bytes}: S3 needs parts of at least 5 MiB (${minimum} bytes)`, {
      field: 'ATELIER_S3_PART_BYTES',
    });
  }
  return bytes;
}

/** The artifact store a workspace's artifact URL names: file:// (a folder) or s3://bucket/prefix. */
export async function openArtifactStore(workspace: Pick<Workspace, 'stateDir' | 'artifactsUrl'>): Promise<ArtifactStore> {
  const { tempDir, cacheDir } = localStateDirs(workspace);
  const url = workspace.artifactsUrl;
  if (url.startsWith('file:')) return new FileArtifactStore(fileURLToPath(url), tempDir);
  // The AWS SDK loads only for an s3:// store (it costs a second of every command's start otherwise).
  const { S3ArtifactStore, DEFAULT_PART_BYTES, MIN_PART_BYTES } = await import('./artifacts-s3.js');
  const { parseS3Url } = await import('./s3-location.js');
  return new S3ArtifactStore(parseS3Url(url), {
    tempDir,
    cacheDir,
    cacheBytes: byteSizeFrom('ATELIER_CACHE_BYTES', DEFAULT_CACHE_BYTES),
    partBytes: partBytes(DEFAULT_PART_BYTES, MIN_PART_BYTES),
  });
}
