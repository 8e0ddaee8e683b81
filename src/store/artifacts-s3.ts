import { createReadStream, createWriteStream, mkdirSync, rmSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AbortMultipartUploadCommand, DeleteObjectCommand, GetObjectCommand, HeadBucketCommand, HeadObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import * as tar from 'tar';
import { verifyBundle } from '../bundle/format.js';
import { AtelierError, isAtelierError } from '../core/errors.js';
import { sha256File } from '../core/hash.js';
import { ArtifactCache } from './artifact-cache.js';
import { bundleHashOfKey, bundleKey, checkKey, contentKey, digestOfKey, LocalTempStore, type ArtifactStore, type StoredBundle, type StoredFile, type StoredKey } from './artifacts.js';
import { s3ClientFor, s3Failure, type S3Location } from './s3-location.js';

/** Smallest part S3 accepts; files above one part go up as a multipart upload. */
export const MIN_PART_BYTES = 5 * 1024 * 1024;
export const DEFAULT_PART_BYTES = 16 * 1024 * 1024;

export interface S3StoreOptions {
  /** Local temp folder (.atelier/tmp). */
  tempDir: string;
  /** Local read-through cache folder (.atelier/cache) and its cap in bytes. */
  cacheDir: string;
  cacheBytes: number;
  /** Cache entries used this recently are not evicted (default a minute). */
  cacheGraceMs?: number;
  /** Multipart part size (at least 5 MiB). */
  partBytes?: number;
  client?: S3Client;
}

const BUNDLE_SUFFIX = '.tar';

/**
 * Artifacts in an S3-compatible bucket. Files are stored under `<prefix>/<key>`, a bundle as one
 * uncompressed tar `<prefix>/bundles/<contentHash>.tar` (one object: it appears whole or not at
 * all). Uploads go straight to the final content key: S3 makes an object visible only once its
 * PUT, or its multipart upload, completes, and a failed multipart upload is aborted. Reads go
 * through a local cache and are checked against the key's sha256 (bundles: against bundle.json's
 * hashes and the content hash in the key) before use. Nothing relies on a shared filesystem.
 */
export class S3ArtifactStore extends LocalTempStore implements ArtifactStore {
  readonly url: string;
  readonly cache: ArtifactCache;
  private readonly client: S3Client;
  private readonly partBytes: number;
  private bucketChecked = false;

  constructor(
    readonly location: S3Location,
    options: S3StoreOptions,
  ) {
    super(options.tempDir);
    this.url = location.url;
    this.client = options.client ?? s3ClientFor(location);
    this.partBytes = Math.max(MIN_PART_BYTES, options.partBytes ?? DEFAULT_PART_BYTES);
    this.cache = new ArtifactCache(options.cacheDir, options.cacheBytes, options.tempDir, options.cacheGraceMs);
  }

  /** The object key of an artifact key (a bundle is its tar). */
  private objectKey(key: string): string {
    checkKey(key, this.url);
    const name = bundleHashOfKey(key) ? key + BUNDLE_SUFFIX : key;
    return this.location.prefix ? `${this.location.prefix}/${name}` : name;
  }

  locationOf(key: string): string {
    return `s3://${this.location.bucket}/${this.objectKey(key)}`;
  }

  private fail(error: unknown, key: string | undefined, action: string): AtelierError {
    return s3Failure(error, this.location, key === undefined ? this.url : this.locationOf(key), action);
  }

  /** A HEAD's 404 cannot tell a missing object from a missing bucket: ask about the bucket once. */
  private async checkBucket(): Promise<void> {
    if (this.bucketChecked) return;
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.location.bucket }));
      this.bucketChecked = true;
    } catch (error) {
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      throw this.fail(status === 404 ? Object.assign(new Error('NoSuchBucket'), { name: 'NoSuchBucket' }) : error, undefined, 'reading the bucket');
    }
  }

  private async exists(key: string): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.location.bucket, Key: this.objectKey(key) }));
      return true;
    } catch (error) {
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status !== 404) throw this.fail(error, key, 'looking up the object');
      await this.checkBucket();
      return false;
    }
  }

  /**
   * Uploads a local file to the key's final object. A multipart upload that fails is aborted here
   * rather than by lib-storage, so the error reported is the upload's own, not the abort's (a
   * store that cannot abort leaves its parts to the bucket's incomplete-upload lifecycle rule).
   */
  private async upload(file: string, key: string, sha256: string): Promise<void> {
    const Bucket = this.location.bucket;
    const Key = this.objectKey(key);
    const upload = new Upload({
      client: this.client,
      params: { Bucket, Key, Body: createReadStream(file), Metadata: { sha256 } },
      partSize: this.partBytes,
      queueSize: 2,
      leavePartsOnError: true,
    });
    try {
      await upload.done();
    } catch (error) {
      if (upload.uploadId) await this.client.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId: upload.uploadId })).catch(() => undefined);
      throw this.fail(error, key, 'uploading');
    }
  }

  /** Downloads the object to `file`, returning its sha256. */
  private async download(key: string, file: string): Promise<string> {
    const hash = createHash('sha256');
    try {
      const answer = await this.client.send(new GetObjectCommand({ Bucket: this.location.bucket, Key: this.objectKey(key) }));
      const hashing = new Transform({
        transform(chunk: Buffer, _encoding, done) {
          hash.update(chunk);
          done(null, chunk);
        },
      });
      await pipeline(answer.Body as Readable, hashing, createWriteStream(file));
    } catch (error) {
      rmSync(file, { force: true });
      const name = (error as { name?: string }).name;
      if (name === 'NoSuchKey') {
        throw new AtelierError('ARTIFACT_NOT_FOUND', `${this.locationOf(key)}: no such object in the artifact store (artifact ${key})`, {
          url: this.locationOf(key),
          key,
          bucket: this.location.bucket,
        });
      }
      throw this.fail(error, key, 'downloading');
    }
    return hash.digest('hex');
  }

  private corrupt(key: string, message: string, facts: Record<string, unknown> = {}): AtelierError {
    return new AtelierError('ARTIFACT_CORRUPT', `${this.locationOf(key)}: ${message}`, { url: this.locationOf(key), key, bucket: this.location.bucket, ...facts });
  }

  async putFile(tempFile: string, extension = ''): Promise<StoredFile> {
    const digest = await sha256File(tempFile);
    const key = contentKey(digest, extension);
    const bytes = statSync(tempFile).size;
    try {
      if (!(await this.exists(key))) await this.upload(tempFile, key, digest);
    } catch (error) {
      rmSync(tempFile, { force: true });
      throw error;
    }
    // The writer usually reads what it wrote next (statistics after an import): keep it cached.
    this.cache.adopt(tempFile, key);
    return { key, sha256: digest, bytes };
  }

  async has(key: string): Promise<boolean> {
    return this.exists(key);
  }

  async localPath(key: string): Promise<string> {
    const cached = this.cache.lookup(key);
    if (cached) return cached;
    const expected = digestOfKey(key);
    const temp = this.tempPath('-download');
    const actual = await this.download(key, temp);
    if (expected && actual !== expected) {
      rmSync(temp, { force: true });
      throw this.corrupt(key, `sha256 of the downloaded object is ${actual}, expected ${expected} (the key's hash); the object was altered in the store`, {
        expected,
        got: actual,
      });
    }
    return this.cache.adopt(temp, key);
  }

  async *listKeys(prefix = ''): AsyncIterable<StoredKey> {
    const base = this.location.prefix ? `${this.location.prefix}/` : '';
    let token: string | undefined;
    do {
      let page;
      try {
        page = await this.client.send(new ListObjectsV2Command({ Bucket: this.location.bucket, Prefix: base + prefix, ContinuationToken: token }));
      } catch (error) {
        throw this.fail(error, undefined, 'listing objects');
      }
      for (const object of page.Contents ?? []) {
        const name = object.Key!.slice(base.length);
        const bundle = /^(bundles\/[0-9a-f]{64})\.tar$/.exec(name)?.[1];
        yield { key: bundle ?? name, bytes: object.Size ?? 0, modifiedAt: object.LastModified ?? new Date(0) };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async deleteKey(key: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.location.bucket, Key: this.objectKey(key) }));
    } catch (error) {
      throw this.fail(error, key, 'deleting');
    }
    this.cache.remove(key);
  }

  async putBundle(dir: string): Promise<StoredBundle> {
    const { contentHash } = verifyBundle(dir);
    const key = bundleKey(contentHash);
    let written = false;
    if (!(await this.exists(key))) {
      const archive = this.tempPath(BUNDLE_SUFFIX);
      try {
        await tar.create({ cwd: dir, file: archive, portable: true, noMtime: true }, ['.']);
        await this.upload(archive, key, await sha256File(archive));
        written = true;
      } finally {
        rmSync(archive, { force: true });
      }
    }
    return { key, contentHash, dir: this.cache.adopt(dir, key), written };
  }

  async bundleDir(key: string): Promise<string> {
    const cached = this.cache.lookup(key);
    if (cached) return cached;
    const expected = bundleHashOfKey(key);
    if (!expected) throw new AtelierError('ARTIFACT_NOT_FOUND', `${this.url}: "${key}" is not a bundle key (expected bundles/<contentHash>)`, { key });
    const archive = this.tempPath(BUNDLE_SUFFIX);
    const folder = this.tempPath('-bundle');
    try {
      await this.download(key, archive);
      mkdirSync(folder, { recursive: true });
      try {
        await tar.extract({ cwd: folder, file: archive, strict: true });
      } catch (error) {
        throw this.corrupt(key, `not a readable bundle archive (${(error as Error).message})`);
      }
      let contentHash: string;
      try {
        contentHash = verifyBundle(folder).contentHash;
      } catch (error) {
        if (!isAtelierError(error)) throw error;
        throw this.corrupt(key, error.message.split(folder).join('bundle'), { expected: error.facts.expected, got: error.facts.got });
      }
      if (contentHash !== expected) throw this.corrupt(key, `holds bundle ${contentHash}, expected ${expected} (the key's content hash)`, { expected, got: contentHash });
      return this.cache.adopt(folder, key);
    } finally {
      rmSync(archive, { force: true });
      rmSync(folder, { recursive: true, force: true });
    }
  }
}
