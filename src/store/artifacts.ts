import { copyFileSync, cpSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { AtelierError } from '../core/errors.js';

/** A file stored under its content: `key` is `sha256/<2 hex>/<sha256><extension>`. */
export interface StoredFile {
  key: string;
  sha256: string;
  bytes: number;
}

/** One entry of `listKeys`: a stored file, or a whole bundle (`bundles/<contentHash>`). */
export interface StoredKey {
  key: string;
  bytes: number;
  modifiedAt: Date;
}

/** A bundle in the store: its key, and a local folder holding it (checked against its hashes). */
export interface StoredBundle {
  key: string;
  contentHash: string;
  dir: string;
  /** False when the store already held this bundle (same content hash). */
  written: boolean;
}

/**
 * Where datasets (Parquet), statistics, schemas and model bundles live, by key. Keys are the same
 * on every implementation, so a workspace's records work whichever store holds its files:
 * `file://` (a folder, maybe a shared mount) or `s3://bucket/prefix` (any S3-compatible store,
 * read through a local cache). Temp paths are always local.
 */
export interface ArtifactStore {
  /** The store's URL, safe to print. */
  readonly url: string;
  /** A fresh local temp path under .atelier/tmp; its name starts with this process's id (`atelier gc` clears dead ones). */
  tempPath(suffix?: string): string;
  /** Stores a finished temp file under its content hash and removes the temp file. */
  putFile(tempFile: string, extension?: string): Promise<StoredFile>;
  /** Stores a copy of `source` (the source stays). */
  importFile(source: string, extension?: string): Promise<StoredFile>;
  has(key: string): Promise<boolean>;
  /** A local file with the key's content: the file itself (file://) or a hash-checked cached copy (s3://). */
  localPath(key: string): Promise<string>;
  /** Every stored file and bundle under `prefix` (a bundle is one entry, `bundles/<contentHash>`). */
  listKeys(prefix?: string): AsyncIterable<StoredKey>;
  deleteKey(key: string): Promise<void>;
  /** Where a key lives, for people: a path (file://) or an s3:// URL. */
  locationOf(key: string): string;
  /** Stores a finished bundle folder (with bundle.json, checked first) under `bundles/<contentHash>`; the folder is consumed. */
  putBundle(dir: string): Promise<StoredBundle>;
  /** A local folder holding the bundle `key` (file://: the folder itself; s3://: fetched, checked, cached). */
  bundleDir(key: string): Promise<string>;
}

const CONTENT_KEY = /^sha256\/[0-9a-f]{2}\/([0-9a-f]{64})(\.[A-Za-z0-9.]+)?$/;
const BUNDLE_KEY = /^bundles\/([0-9a-f]{64})$/;

export function contentKey(digest: string, extension = ''): string {
  return `sha256/${digest.slice(0, 2)}/${digest}${extension}`;
}

export function bundleKey(contentHash: string): string {
  return `bundles/${contentHash}`;
}

/** The sha256 a content key names (undefined for other keys). */
export function digestOfKey(key: string): string | undefined {
  return CONTENT_KEY.exec(key)?.[1];
}

/** The content hash a bundle key names (undefined for other keys). */
export function bundleHashOfKey(key: string): string | undefined {
  return BUNDLE_KEY.exec(key)?.[1];
}

/** Refuses keys that could leave the store (absolute, `..`, empty segments). */
export function checkKey(key: string, store: string): string {
  const parts = key.split('/');
  if (key === '' || key.startsWith('/') || key.includes('\\') || parts.some((p) => p === '' || p === '.' || p === '..')) {
    throw new AtelierError('ARTIFACT_NOT_FOUND', `${store}: "${key}" is not an artifact key (expected sha256/xx/<hash>.ext or bundles/<hash>)`, { key });
  }
  return key;
}

/** `<pid>-<time>-<random><suffix>`: the process id first, so a sweep can tell whose temp file it is. */
export function tempName(suffix = ''): string {
  return `${process.pid}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}${suffix}`;
}

/** The process that made a temp file or folder (named by `tempName`), or undefined for other names. */
export function tempFilePid(name: string): number | undefined {
  const match = /^(\d+)-[0-9a-z]+-[0-9a-f]+/.exec(basename(name));
  return match ? Number(match[1]) : undefined;
}

/**
 * Moves a file or folder to `target`, atomically when both are on one filesystem. Across
 * filesystems (a shared mount), the copy goes to `stagingDir` beside the target first, then is
 * renamed. Returns false, and removes `source`, when the target is already there.
 */
export function moveInto(source: string, target: string, stagingDir: string): boolean {
  mkdirSync(dirname(target), { recursive: true });
  try {
    renameSync(source, target);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOTEMPTY' || code === 'EEXIST') {
      rmSync(source, { recursive: true, force: true });
      return false;
    }
    if (code !== 'EXDEV') throw error;
  }
  mkdirSync(stagingDir, { recursive: true });
  const staged = join(stagingDir, tempName());
  try {
    cpSync(source, staged, { recursive: true });
    return moveInto(staged, target, stagingDir);
  } finally {
    rmSync(staged, { recursive: true, force: true });
    rmSync(source, { recursive: true, force: true });
  }
}

/** What both stores share: local temp paths, and importing by copying to one first. */
export abstract class LocalTempStore {
  constructor(protected readonly tempDir: string) {}

  tempPath(suffix = ''): string {
    mkdirSync(this.tempDir, { recursive: true });
    return join(this.tempDir, tempName(suffix));
  }

  abstract putFile(tempFile: string, extension?: string): Promise<StoredFile>;

  async importFile(source: string, extension = ''): Promise<StoredFile> {
    const temp = this.tempPath(extension);
    try {
      copyFileSync(source, temp);
    } catch (error) {
      rmSync(temp, { force: true });
      throw error;
    }
    return this.putFile(temp, extension);
  }
}

/** A small stored text (statistics JSON, a schema's YAML). */
export async function readArtifactText(store: ArtifactStore, key: string): Promise<string> {
  return readFileSync(await store.localPath(key), 'utf8');
}
