import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { verifyBundle } from '../bundle/format.js';
import { AtelierError } from '../core/errors.js';
import { sha256File } from '../core/hash.js';
import { bundleHashOfKey, bundleKey, checkKey, contentKey, LocalTempStore, moveInto, tempName, type ArtifactStore, type StoredBundle, type StoredFile, type StoredKey } from './artifacts.js';

/** Every file under `dir` with its size and time, as paths relative to `dir` joined by `/`. */
export function* walkFiles(dir: string, prefix = ''): Generator<{ path: string; bytes: number; modifiedAt: Date }> {
  let entries;
  try {
    entries = readdirSync(join(dir, prefix), { withFileTypes: true });
  } catch {
    return; // gone meanwhile (another process evicted or deleted it)
  }
  for (const entry of entries) {
    const path = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) yield* walkFiles(dir, path);
    else if (entry.isFile()) {
      try {
        const stat = statSync(join(dir, path));
        yield { path, bytes: stat.size, modifiedAt: stat.mtime };
      } catch {
        /* gone meanwhile */
      }
    }
  }
}

/**
 * Groups a folder's files into store entries: each `bundles/<hash>/` folder is one entry (its
 * files' total size, the folder's own time), every other file is its own entry.
 */
export function* folderEntries(dir: string, prefix = ''): Generator<StoredKey> {
  const bundles = new Map<string, number>();
  for (const file of walkFiles(dir)) {
    const bundle = /^bundles\/[^/]+/.exec(file.path)?.[0];
    if (bundle) bundles.set(bundle, (bundles.get(bundle) ?? 0) + file.bytes);
    else if (file.path.startsWith(prefix)) yield { key: file.path, bytes: file.bytes, modifiedAt: file.modifiedAt };
  }
  for (const [key, bytes] of bundles) {
    if (!key.startsWith(prefix)) continue;
    try {
      yield { key, bytes, modifiedAt: statSync(join(dir, key)).mtime };
    } catch {
      /* gone meanwhile */
    }
  }
}

/**
 * Content-addressed files in a folder (the embedded default, or a shared mount):
 * `<root>/sha256/<2 hex>/<hash><ext>` and bundle folders `<root>/bundles/<contentHash>/`. Files
 * arrive by rename, so a key never names a partial file, and the same content is stored once.
 */
export class FileArtifactStore extends LocalTempStore implements ArtifactStore {
  readonly url: string;

  constructor(
    readonly root: string,
    tempDir: string,
  ) {
    super(tempDir);
    this.url = pathToFileURL(root).href;
  }

  locationOf(key: string): string {
    return join(this.root, checkKey(key, this.url));
  }

  /** Cross-device moves are staged in the store's own tmp/ folder, so the final rename is atomic. */
  private get stagingDir(): string {
    return join(this.root, 'tmp');
  }

  async putFile(tempFile: string, extension = ''): Promise<StoredFile> {
    const digest = await sha256File(tempFile);
    const key = contentKey(digest, extension);
    const bytes = statSync(tempFile).size;
    const target = this.locationOf(key);
    if (existsSync(target)) rmSync(tempFile, { force: true });
    else moveInto(tempFile, target, this.stagingDir);
    return { key, sha256: digest, bytes };
  }

  async has(key: string): Promise<boolean> {
    const path = this.locationOf(key);
    return existsSync(bundleHashOfKey(key) ? join(path, 'bundle.json') : path);
  }

  async localPath(key: string): Promise<string> {
    const path = this.locationOf(key);
    if (!existsSync(path)) throw new AtelierError('ARTIFACT_NOT_FOUND', `${path}: artifact ${key} is missing from the artifact store ${this.url}`, { file: path, key });
    return path;
  }

  async *listKeys(prefix = ''): AsyncIterable<StoredKey> {
    for (const entry of folderEntries(this.root, prefix)) if (!entry.key.startsWith('tmp/')) yield entry;
  }

  async deleteKey(key: string): Promise<void> {
    const path = this.locationOf(key);
    if (!existsSync(path)) return;
    // A bundle folder is renamed aside first, so no reader sees it half removed.
    const aside = join(this.stagingDir, tempName('-deleted'));
    moveInto(path, aside, this.stagingDir);
    rmSync(aside, { recursive: true, force: true });
  }

  async putBundle(dir: string): Promise<StoredBundle> {
    const { contentHash } = verifyBundle(dir);
    const key = bundleKey(contentHash);
    const target = this.locationOf(key);
    const written = existsSync(target) ? (rmSync(dir, { recursive: true, force: true }), false) : moveInto(dir, target, this.stagingDir);
    return { key, contentHash, dir: target, written };
  }

  /** The folder itself: loading a bundle checks its files (verifyBundle), so nothing is read twice here. */
  async bundleDir(key: string): Promise<string> {
    return this.locationOf(key);
  }
}
