import { rmSync, writeFileSync } from 'node:fs';
import type { AtelierContext } from '../store/context.js';

/**
 * Runs `work` with a carried file (a schema, a config) written to a local temp path, removed
 * after; `undefined` when there is none.
 */
export async function withTempFile<T>(ctx: AtelierContext, carried: { file: string; text: string } | undefined, work: (path: string | undefined) => Promise<T>): Promise<T> {
  if (!carried) return work(undefined);
  const path = ctx.artifacts.tempPath(`-${carried.file.split(/[\\/]/).pop()}`);
  writeFileSync(path, carried.text);
  try {
    return await work(path);
  } finally {
    rmSync(path, { force: true });
  }
}
