/**
 * The artifact store: one contract run on file:// and on s3:// (the real AWS SDK against s3rver),
 * S3 faults and the cache, and the CLI end to end with datasets and bundles in a bucket.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { BUNDLE_FORMAT, bundleContentHash, hashBundleFiles, verifyBundle, type BundleManifest } from '../src/bundle/format.js';
import { AtelierError } from '../src/core/errors.js';
import { tempFilePid, type ArtifactStore, type StoredKey } from '../src/store/artifacts.js';
import { FileArtifactStore } from '../src/store/artifacts-file.js';
import { S3ArtifactStore } from '../src/store/artifacts-s3.js';
import { parseS3Url } from '../src/store/s3-location.js';
import { cli, freePort, HOUSING, ROOT, startCli, tempDir } from './helpers.js';
import { startS3, type TestS3 } from './services/s3.js';

const MiB = 1024 * 1024;

/** A store and a way to open the same store as another machine would: its own temp and cache folders. */
interface StoreUnderTest {
  store: ArtifactStore;
  elsewhere(options?: { cacheBytes?: number }): ArtifactStore;
}

const sha = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

function tempFile(store: ArtifactStore, data: Buffer | string, suffix = ''): string {
  const path = store.tempPath(suffix);
  writeFileSync(path, data);
  return path;
}

async function keys(store: ArtifactStore, prefix?: string): Promise<StoredKey[]> {
  const out: StoredKey[] = [];
  for await (const entry of store.listKeys(prefix)) out.push(entry);
  return out;
}

/** A small valid bundle folder (bundle.json lists every file's hash). */
function bundleFolder(store: ArtifactStore, seed: string): { dir: string; manifest: BundleManifest } {
  const dir = store.tempPath('-bundle');
  mkdirSync(join(dir, 'model'), { recursive: true });
  writeFileSync(join(dir, 'transform.json'), JSON.stringify({ seed }));
  writeFileSync(join(dir, 'model', 'weights.bin'), randomBytes(2048));
  const fields: Omit<BundleManifest, 'contentHash'> = {
    format: BUNDLE_FORMAT,
    name: 'm',
    task: 'regression',
    family: 'linear',
    label: 'y',
    signature: { inputs: [], outputs: [] },
    files: hashBundleFiles(dir),
  };
  const manifest: BundleManifest = { ...fields, contentHash: bundleContentHash(fields) };
  writeFileSync(join(dir, 'bundle.json'), JSON.stringify(manifest));
  return { dir, manifest };
}

function rejectsWith(code: string, pattern: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof AtelierError, `expected an AtelierError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    assert.match(error.message, pattern);
    assert.ok(!error.message.includes('\n'), 'one line');
    return true;
  };
}

/** The contract every artifact store keeps, whatever holds the files. */
function describeArtifactStore(name: string, make: () => Promise<StoreUnderTest>) {
  describe(`artifact store contract: ${name}`, () => {
    let s: StoreUnderTest;
    before(async () => {
      s = await make();
    });

    test('put, has, localPath, listKeys, deleteKey', { timeout: 60_000 }, async () => {
      const data = `hello ${name} ${randomBytes(8).toString('hex')}\n`;
      const temp = tempFile(s.store, data, '.txt');
      const stored = await s.store.putFile(temp, '.txt');
      assert.equal(stored.sha256, sha(data));
      assert.equal(stored.key, `sha256/${stored.sha256.slice(0, 2)}/${stored.sha256}.txt`);
      assert.equal(stored.bytes, Buffer.byteLength(data));
      assert.equal(existsSync(temp), false, 'putFile consumes the temp file');
      assert.equal(await s.store.has(stored.key), true);
      assert.equal(readFileSync(await s.store.localPath(stored.key), 'utf8'), data);
      const listed = (await keys(s.store, 'sha256/')).filter((k) => k.key === stored.key);
      assert.equal(listed.length, 1);
      assert.equal(listed[0]!.bytes, stored.bytes);
      assert.ok(listed[0]!.modifiedAt instanceof Date);
      await s.store.deleteKey(stored.key);
      assert.equal(await s.store.has(stored.key), false);
      assert.deepEqual((await keys(s.store)).filter((k) => k.key === stored.key), []);
    });

    test('content addressing: the same content twice is one object', { timeout: 60_000 }, async () => {
      const data = randomBytes(4096);
      const source = join(tempDir(), 'source.bin');
      writeFileSync(source, data);
      const first = await s.store.importFile(source, '.bin');
      const second = await s.store.putFile(tempFile(s.store, data, '.bin'), '.bin');
      assert.equal(second.key, first.key);
      assert.ok(existsSync(source), 'importFile leaves its source');
      assert.equal((await keys(s.store, 'sha256/')).filter((k) => k.key === first.key).length, 1);
    });

    test('another machine reads a stored file with only the store URL', { timeout: 60_000 }, async () => {
      const data = randomBytes(10_000);
      const { key } = await s.store.putFile(tempFile(s.store, data, '.parquet'), '.parquet');
      const other = s.elsewhere();
      assert.deepEqual(readFileSync(await other.localPath(key)), data);
    });

    test('bundle folder round trip', { timeout: 60_000 }, async () => {
      const { dir, manifest } = bundleFolder(s.store, name);
      const stored = await s.store.putBundle(dir);
      assert.equal(stored.key, `bundles/${manifest.contentHash}`);
      assert.equal(stored.written, true);
      assert.equal(existsSync(dir), false, 'putBundle consumes the folder');
      assert.equal(verifyBundle(stored.dir).contentHash, manifest.contentHash);

      const again = await s.store.putBundle(bundleFolder(s.store, name).dir);
      assert.equal(again.key === stored.key, false, 'different weights, another bundle');
      const copy = s.store.tempPath('-copy');
      mkdirSync(copy);
      for (const f of ['bundle.json', 'transform.json']) writeFileSync(join(copy, f), readFileSync(join(stored.dir, f)));
      mkdirSync(join(copy, 'model'));
      writeFileSync(join(copy, 'model', 'weights.bin'), readFileSync(join(stored.dir, 'model', 'weights.bin')));
      assert.equal((await s.store.putBundle(copy)).written, false, 'the same bundle is stored once');

      const fetched = await s.elsewhere().bundleDir(stored.key);
      assert.equal(verifyBundle(fetched).contentHash, manifest.contentHash);
      assert.deepEqual(readFileSync(join(fetched, 'model', 'weights.bin')), readFileSync(join(stored.dir, 'model', 'weights.bin')));
      assert.equal(await s.store.has(stored.key), true);
      const listed = (await keys(s.store, 'bundles/')).filter((k) => k.key === stored.key);
      assert.equal(listed.length, 1, 'a bundle is one entry of listKeys');
      assert.ok(listed[0]!.bytes > 2048);

      await s.store.deleteKey(stored.key);
      assert.equal(await s.store.has(stored.key), false);
    });

    test('a missing artifact is ARTIFACT_NOT_FOUND naming where', { timeout: 60_000 }, async () => {
      const key = `sha256/00/${'0'.repeat(64)}.parquet`;
      assert.equal(await s.store.has(key), false);
      await assert.rejects(s.elsewhere().localPath(key), rejectsWith('ARTIFACT_NOT_FOUND', new RegExp(`${'0'.repeat(64)}\\.parquet`)));
    });

    test('temp paths are local and carry the process id', { timeout: 10_000 }, () => {
      const path = s.store.tempPath('.parquet');
      assert.equal(tempFilePid(path), process.pid);
      assert.ok(path.endsWith('.parquet'));
      assert.ok(!path.startsWith('s3:'));
    });
  });
}

let s3: TestS3;
const savedEnv = { ...process.env };

function s3Client(): S3Client {
  return new S3Client({
    region: 'us-east-1',
    endpoint: s3.endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** An S3 store as a process in `state` (its own .atelier/tmp and .atelier/cache) would open it. */
function s3Store(url: string, state = tempDir(), options: { cacheBytes?: number; cacheGraceMs?: number; partBytes?: number; client?: S3Client } = {}): S3ArtifactStore {
  return new S3ArtifactStore(parseS3Url(url), {
    tempDir: join(state, 'tmp'),
    cacheDir: join(state, 'cache'),
    cacheBytes: options.cacheBytes ?? 64 * MiB,
    cacheGraceMs: options.cacheGraceMs,
    partBytes: options.partBytes,
    client: options.client,
  });
}

before(async () => {
  s3 = await startS3(['atelier', 'other']);
  Object.assign(process.env, s3.env);
});

after(async () => {
  process.env = savedEnv;
  await s3?.stop();
});

describeArtifactStore('file://', async () => {
  const root = join(tempDir(), 'artifacts');
  const store = new FileArtifactStore(root, join(tempDir(), 'tmp'));
  return { store, elsewhere: () => new FileArtifactStore(root, join(tempDir(), 'tmp')) };
});

// A shared mount is another filesystem: temp files (local) reach it by copy, then rename.
const otherFs = existsSync('/dev/shm') && statSync('/dev/shm').dev !== statSync(tmpdir()).dev ? mkdtempSync('/dev/shm/atelier-artifacts-') : undefined;
after(() => {
  if (otherFs) rmSync(otherFs, { recursive: true, force: true });
});
if (otherFs) {
  describeArtifactStore('file:// on another filesystem', async () => {
    const store = new FileArtifactStore(otherFs, join(tempDir(), 'tmp'));
    return { store, elsewhere: () => new FileArtifactStore(otherFs, join(tempDir(), 'tmp')) };
  });
} else {
  test('file:// on another filesystem', { skip: 'no /dev/shm on a filesystem other than the temp folder' }, () => {});
}

describeArtifactStore('s3://', async () => {
  const url = `s3://atelier/contract-${randomBytes(3).toString('hex')}`;
  return { store: s3Store(url), elsewhere: (o) => s3Store(url, tempDir(), o) };
});

describe('s3:// settings, faults and cache', () => {
  test('the URL carries endpoint, region and path style; the environment fills the rest', { timeout: 10_000 }, () => {
    const full = parseS3Url('s3://bucket-a/team/ml/?endpoint=http://minio:9000&region=eu-west-1&path_style=true', {});
    assert.deepEqual(full, { url: 's3://bucket-a/team/ml', bucket: 'bucket-a', prefix: 'team/ml', endpoint: 'http://minio:9000', region: 'eu-west-1', forcePathStyle: true });
    const fromEnv = parseS3Url('s3://bucket-b', { ATELIER_S3_ENDPOINT: 'http://ceph:7480', AWS_REGION: 'us-west-2', ATELIER_S3_FORCE_PATH_STYLE: 'false' });
    assert.deepEqual(fromEnv, { url: 's3://bucket-b', bucket: 'bucket-b', prefix: '', endpoint: 'http://ceph:7480', region: 'us-west-2', forcePathStyle: false });
    assert.equal(parseS3Url('s3://bucket-c/p', {}).region, 'us-east-1');
    assert.throws(() => parseS3Url('s3://Bad_Bucket/p', {}), rejectsWith('CONFIG_INVALID', /bucket "Bad_Bucket" is not a bucket name/));
    assert.throws(() => parseS3Url('s3://bucket-d/p?endpoint=minio:9000', {}), rejectsWith('CONFIG_INVALID', /endpoint "minio:9000": expected http/));
    assert.throws(() => parseS3Url('s3://bucket-d/p?sse=on', {}), rejectsWith('CONFIG_INVALID', /unknown setting "sse"; allowed: endpoint, region, path_style/));
  });

  test('a large file goes up as a multipart upload and comes back whole', { timeout: 120_000 }, async () => {
    const url = 's3://atelier/large';
    // The real client, with a note of each command it sends.
    const client = s3Client();
    const sent: string[] = [];
    client.middlewareStack.add((next, context) => (args) => (sent.push(String(context.commandName)), next(args)), { step: 'initialize' });
    const store = s3Store(url, tempDir(), { partBytes: 5 * MiB, client });
    const data = randomBytes(12 * MiB);
    const { key, bytes } = await store.putFile(tempFile(store, data, '.parquet'), '.parquet');
    assert.equal(bytes, data.length);
    assert.equal(sent.filter((c) => c === 'UploadPartCommand').length, 3, `three parts, 5 + 5 + 2 MiB: ${sent.join(', ')}`);
    assert.ok(sent.includes('CompleteMultipartUploadCommand'));
    const head = await s3Client().send(new HeadObjectCommand({ Bucket: 'atelier', Key: `large/${key}` }));
    assert.equal(head.ContentLength, data.length);
    const read = readFileSync(await s3Store(url).localPath(key));
    assert.equal(sha(read), sha(data));
  });

  test('a multipart upload that fails midway is aborted and leaves no object', { timeout: 120_000 }, async () => {
    // The real client; its second part fails as a dropped connection would.
    const client = s3Client();
    const sent: string[] = [];
    client.middlewareStack.add(
      (next, context) => (args) => {
        sent.push(String(context.commandName));
        if (sent.filter((c) => c === 'UploadPartCommand').length === 2 && context.commandName === 'UploadPartCommand') {
          throw Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
        }
        return next(args);
      },
      { step: 'initialize' },
    );
    const store = s3Store('s3://atelier/broken', tempDir(), { partBytes: 5 * MiB, client });
    const data = randomBytes(12 * MiB);
    const temp = tempFile(store, data, '.parquet');
    await assert.rejects(store.putFile(temp, '.parquet'), rejectsWith('ARTIFACT_STORE_UNREACHABLE', /^s3:\/\/atelier\/broken\/sha256\/.*ECONNRESET/));
    assert.ok(sent.includes('AbortMultipartUploadCommand'), sent.join(', '));
    assert.ok(!sent.includes('CompleteMultipartUploadCommand'));
    assert.equal(await s3Store('s3://atelier/broken').has(`sha256/${sha(data).slice(0, 2)}/${sha(data)}.parquet`), false);
    assert.equal(existsSync(temp), false);
  });

  test('an object altered in the bucket is refused on download, and nothing is cached', { timeout: 60_000 }, async () => {
    const url = 's3://atelier/tamper';
    const writer = s3Store(url);
    const { key, sha256: expected } = await writer.putFile(tempFile(writer, 'the real content\n', '.json'), '.json');
    await s3Client().send(new PutObjectCommand({ Bucket: 'atelier', Key: `tamper/${key}`, Body: 'altered content\n' }));
    const state = tempDir();
    const reader = s3Store(url, state);
    await assert.rejects(reader.localPath(key), rejectsWith('ARTIFACT_CORRUPT', new RegExp(`^s3://atelier/tamper/${key}: sha256 .* expected ${expected}`)));
    assert.equal(reader.cache.lookup(key), undefined);
    assert.deepEqual(readdirSync(join(state, 'tmp')), [], 'no download left behind');

    const { dir } = bundleFolder(writer, 'tamper');
    const bundle = await writer.putBundle(dir);
    await s3Client().send(new PutObjectCommand({ Bucket: 'atelier', Key: `tamper/${bundle.key}.tar`, Body: randomBytes(3000) }));
    await assert.rejects(s3Store(url).bundleDir(bundle.key), rejectsWith('ARTIFACT_CORRUPT', new RegExp(`^s3://atelier/tamper/${bundle.key}\\.tar: `)));
  });

  test('the cache keeps under its cap by evicting the least recently used', { timeout: 60_000 }, async () => {
    const url = 's3://atelier/cache';
    const writer = s3Store(url);
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((n) => writer.putFile(tempFile(writer, n.repeat(1000), '.txt'), '.txt')));
    const reader = s3Store(url, tempDir(), { cacheBytes: 2500, cacheGraceMs: 0 });
    const pause = () => new Promise((r) => setTimeout(r, 30)); // distinct access times
    await reader.localPath(a!.key);
    await pause();
    await reader.localPath(b!.key);
    await pause();
    await reader.localPath(a!.key); // a is now more recent than b
    await pause();
    await reader.localPath(c!.key);
    assert.ok(reader.cache.lookup(a!.key), 'a stays');
    assert.ok(reader.cache.lookup(c!.key), 'c, just used, stays');
    assert.equal(reader.cache.lookup(b!.key), undefined, 'b, least recently used, is evicted');
    assert.ok(reader.cache.bytes() <= 2500);
    assert.equal(readFileSync(await reader.localPath(b!.key), 'utf8'), 'b'.repeat(1000), 'an evicted file is fetched again');

    // With the default grace, nothing used in the last minute goes: another process may be about to read it.
    const busy = s3Store(url, tempDir(), { cacheBytes: 2500 });
    for (const { key } of [a!, b!, c!]) await busy.localPath(key);
    assert.equal(busy.cache.bytes(), 3000, 'over the cap for a moment rather than pulling a file from under a reader');
  });

  test('a bucket that does not exist is named, and nothing is written', { timeout: 60_000 }, async () => {
    const store = s3Store('s3://no-such-bucket/p');
    const temp = tempFile(store, 'x');
    await assert.rejects(store.putFile(temp), rejectsWith('ARTIFACT_BUCKET_NOT_FOUND', /^s3:\/\/no-such-bucket\/p: bucket "no-such-bucket" does not exist at http:\/\/127\.0\.0\.1:\d+/));
    assert.equal(existsSync(temp), false);
    await assert.rejects(store.has(`sha256/00/${'0'.repeat(64)}`), rejectsWith('ARTIFACT_BUCKET_NOT_FOUND', /no-such-bucket/));
  });

  test('wrong credentials are named with the access key, never the secret', { timeout: 60_000 }, async () => {
    process.env.AWS_ACCESS_KEY_ID = 'WRONGKEY';
    process.env.AWS_SECRET_ACCESS_KEY = 'wrong-secret';
    try {
      const store = s3Store('s3://atelier/creds');
      await assert.rejects(store.putFile(tempFile(store, 'x')), (error: unknown) => {
        rejectsWith('ARTIFACT_ACCESS_DENIED', /access denied at http:\/\/127\.0\.0\.1:\d+ with access key WRONGKEY while .*check the credentials/)(error);
        assert.ok(!(error as Error).message.includes('wrong-secret'));
        return true;
      });
    } finally {
      Object.assign(process.env, s3.env);
    }
  });

  test('an unreachable endpoint is named', { timeout: 60_000 }, async () => {
    const port = await freePort();
    const store = s3Store(`s3://atelier/p?endpoint=http://127.0.0.1:${port}`);
    await assert.rejects(store.has(`sha256/00/${'0'.repeat(64)}`), rejectsWith('ARTIFACT_STORE_UNREACHABLE', new RegExp(`cannot reach the artifact store at http://127\\.0\\.0\\.1:${port}`)));
  });
});

describe('the CLI with datasets and bundles in a bucket', () => {
  const url = 's3://atelier/team';
  let ws: string;
  const filesOutsideState = (dir: string) =>
    (readdirSync(dir, { recursive: true, withFileTypes: true }) as import('node:fs').Dirent[])
      .filter((e) => e.isFile())
      .map((e) => relative(dir, join(e.parentPath, e.name)))
      .filter((f) => !f.startsWith('.atelier/') && f !== 'atelier.yaml');

  before(async () => {
    ws = join(tempDir(), 'ws');
    const init = await cli(['--artifacts', url, 'init', ws], { cwd: ROOT });
    assert.equal(init.code, 0, init.stderr);
  });

  test('import, train, predict and serve with nothing but state in the workspace', { timeout: 240_000 }, async () => {
    assert.match(readFileSync(join(ws, 'atelier.yaml'), 'utf8'), /url: s3:\/\/atelier\/team/);
    const imported = await cli(['data', 'import', HOUSING, '--name', 'housing', '--json'], { cwd: ws });
    assert.equal(imported.code, 0, imported.stderr);
    const trained = await cli(['train', join(ROOT, 'examples', 'housing', 'linear.yaml'), '--json'], { cwd: ws });
    assert.equal(trained.code, 0, trained.stderr);
    assert.match(trained.json.bundleUrl, /^s3:\/\/atelier\/team\/bundles\/[0-9a-f]{64}\.tar$/);

    const objects = (await s3Client().send(new ListObjectsV2Command({ Bucket: 'atelier', Prefix: 'team/' }))).Contents ?? [];
    const names = objects.map((o) => o.Key!);
    assert.ok(names.some((k) => /^team\/sha256\/..\/[0-9a-f]{64}\.parquet$/.test(k)), names.join(', '));
    assert.ok(names.includes(`team/bundles/${trained.json.bundleHash}.tar`), names.join(', '));
    assert.deepEqual(filesOutsideState(ws), []);
    assert.equal(existsSync(join(ws, '.atelier', 'artifacts')), false, 'no local artifact folder');

    // Another machine: no atelier.yaml, only the store URL and the artifact URL.
    const worker = tempDir();
    const out = join(tempDir(), 'predictions.csv');
    const env = { ATELIER_STORE_URL: `sqlite:${join(ws, '.atelier', 'metadata.db')}`, ATELIER_ARTIFACTS_URL: url };
    const predicted = await cli(['predict', 'housing-linear', HOUSING, '--output', out, '--json'], { cwd: worker, env });
    assert.equal(predicted.code, 0, predicted.stderr);
    assert.equal(readFileSync(out, 'utf8').trim().split('\n').length, readFileSync(HOUSING, 'utf8').trim().split('\n').length);
    assert.ok(existsSync(join(worker, '.atelier', 'cache', 'bundles', trained.json.bundleHash, 'bundle.json')), 'the bundle came through the cache');
    const stats = await cli(['data', 'stats', 'housing', '--json'], { cwd: worker, env });
    assert.equal(stats.code, 0, stats.stderr);

    const port = await freePort();
    const server = await startCli(['serve', '--port', String(port), '--json'], { cwd: ws });
    try {
      const [header, ...rows] = readFileSync(HOUSING, 'utf8').trim().split('\n').slice(0, 4);
      const names = header!.split(',').map((n) => n.replaceAll('"', ''));
      const instances = rows.map((r) => Object.fromEntries(r.split(',').map((v, i) => [names[i], Number(v)]).filter(([n]) => n !== 'MEDV')));
      const body = JSON.stringify({ instances });
      let answer: { status: number; json: any } = { status: 0, json: null };
      for (let i = 0; i < 100 && answer.status !== 200; i++) {
        const response = await fetch(`http://127.0.0.1:${port}/v1/models/housing-linear:predict`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
        answer = { status: response.status, json: await response.json() };
        if (answer.status !== 200) await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(answer.status, 200, JSON.stringify(answer.json));
      assert.equal(answer.json.predictions.length, JSON.parse(body).instances.length);
    } finally {
      server.child.kill('SIGINT');
      await server.stopped;
    }
    assert.deepEqual(filesOutsideState(ws), []);
  });

  test('models export and import go through the bucket', { timeout: 120_000 }, async () => {
    const archive = join(tempDir(), 'housing.tgz');
    const exported = await cli(['models', 'export', 'housing-linear@1', archive, '--json'], { cwd: ws });
    assert.equal(exported.code, 0, exported.stderr);
    const other = join(tempDir(), 'other');
    // This workspace's URL carries its own settings: nothing from ATELIER_S3_*.
    const env = { ATELIER_S3_ENDPOINT: '', ATELIER_S3_FORCE_PATH_STYLE: '', AWS_REGION: '' };
    assert.equal((await cli(['--artifacts', `s3://other/imports?endpoint=${s3.endpoint}&region=us-east-1&path_style=true`, 'init', other], { cwd: ROOT, env })).code, 0);
    const imported = await cli(['models', 'import', archive, '--name', 'copy', '--json'], { cwd: other, env });
    assert.equal(imported.code, 0, imported.stderr);
    const head = await s3Client().send(new HeadObjectCommand({ Bucket: 'other', Key: `imports/bundles/${imported.json.bundleHash}.tar` }));
    assert.ok((head.ContentLength ?? 0) > 0);
    const shown = await cli(['models', 'show', 'copy', '--json'], { cwd: other, env });
    assert.equal(shown.code, 0, shown.stderr);
    assert.equal(shown.json.bundleUrl, `s3://other/imports/bundles/${imported.json.bundleHash}.tar`);
    assert.equal(verifyBundle(shown.json.bundle).contentHash, imported.json.bundleHash);
    assert.deepEqual(filesOutsideState(other), []);
  });
});
