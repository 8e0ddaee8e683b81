import { createReadStream, createWriteStream, existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { readdir, rm, rmdir, stat } from 'node:fs/promises';
import { createHash, randomBytes } from 'node:crypto';
import { dirname, join, relative, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';

/**
 * Content-addressed files: a file's key is `sha256/<first two hex>/<hash>`. Writes go to a temp
 * path in the same folder tree and are renamed into place, so a crash never leaves a partial
 * file under a valid key, and writing the same content twice is a no-op.
 */
export class ArtifactStore {
  constructor(readonly root: string) {
    mkdirSync(join(root, 'tmp'), { recursive: true });
  }

  /** A fresh temp path on the same filesystem, for writers that produce a file first. */
  tempPath(suffix = ''): string {
    return join(this.root, 'tmp', `${process.pid}-${Date.now()}-${randomBytes(6).toString('hex')}${suffix}`);
  }

  pathOf(key: string): string {
    return join(this.root, key);
  }

  has(key: string): boolean {
    return existsSync(this.pathOf(key));
  }

  /** Moves a finished temp file into the store under its content hash; returns the key. */
  async putFile(tempFile: string, extension = ''): Promise<{ key: string; sha256: string; bytes: number }> {
    const hash = createHash('sha256');
    await pipeline(createReadStream(tempFile), hash);
    const digest = hash.digest('hex');
    const key = `sha256/${digest.slice(0, 2)}/${digest}${extension}`;
    const target = this.pathOf(key);
    const bytes = statSync(tempFile).size;
    if (existsSync(target)) {
      rmSync(tempFile, { force: true });
    } else {
      mkdirSync(join(this.root, 'sha256', digest.slice(0, 2)), { recursive: true });
      renameSync(tempFile, target);
    }
    return { key, sha256: digest, bytes };
  }

  /** Every stored file (keys with `/`), under `prefix` when given; the temp folder is not listed. */
  async *listKeys(prefix?: string): AsyncIterable<{ key: string; bytes: number; modifiedAt: Date }> {
    const walk = async function* (root: string, dir: string): AsyncGenerator<{ key: string; bytes: number; modifiedAt: Date }> {
      const names = await readdir(dir).catch(() => [] as string[]);
      for (const name of names.sort()) {
        const path = join(dir, name);
        const info = await stat(path).catch(() => undefined);
        if (!info) continue;
        const key = relative(root, path).split(sep).join('/');
        if (info.isDirectory()) {
          if (key !== 'tmp') yield* walk(root, path);
        } else if (prefix === undefined || key.startsWith(prefix)) {
          yield { key, bytes: info.size, modifiedAt: info.mtime };
        }
      }
    };
    yield* walk(this.root, this.root);
  }

  /** Removes a stored file, and the folders it leaves empty. */
  async deleteKey(key: string): Promise<void> {
    const path = this.pathOf(key);
    await rm(path, { force: true });
    for (let dir = dirname(path); dir !== this.root && dir.startsWith(this.root + sep); dir = dirname(dir)) {
      if (await rmdir(dir).then(() => false, () => true)) break; // not empty
    }
  }

  /** Copies a file in (the source stays). */
  async importFile(source: string, extension = ''): Promise<{ key: string; sha256: string; bytes: number }> {
    const temp = this.tempPath(extension);
    await pipeline(createReadStream(source), createWriteStream(temp));
    return this.putFile(temp, extension);
  }
}
