import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { before, describe, test } from 'node:test';
import { Header, type HeaderData } from 'tar';
import { ARCHIVE_MAX_BYTES, ARCHIVE_MAX_ENTRIES, ArchiveRefused, extractArchive } from '../src/registry/archive.js';
import { cli, listFiles, tempDir } from './helpers.js';

const MiB = 1024 * 1024;

/** One 512-byte tar header. */
function header(path: string, size = 0, more: Partial<HeaderData> = {}): Buffer {
  const block = Buffer.alloc(512);
  new Header({ path, size, type: 'File', mode: 0o644, uid: 0, gid: 0, mtime: new Date(0), ...more }).encode(block, 0);
  return block;
}

const padding = (size: number) => Buffer.alloc((512 - (size % 512)) % 512);
const END = Buffer.alloc(1024);

/** A small tar of regular files. */
function tarOf(entries: [string, Buffer][]): Buffer {
  return Buffer.concat([...entries.flatMap(([path, data]) => [header(path, data.length), data, padding(data.length)]), END]);
}

/**
 * A gzip bomb: `head` (whole tar blocks), then `zeros` bytes of zeros, as concatenated gzip members
 * (gunzip reads them as one stream), so gigabytes of zeros take a few MB and no time to make.
 */
function bomb(head: Buffer, zeros: number): Buffer {
  const chunk = 16 * MiB;
  const member = gzipSync(Buffer.alloc(chunk), { level: 9 });
  const parts = [gzipSync(head)];
  for (let left = zeros; left > 0; left -= chunk) parts.push(left >= chunk ? member : gzipSync(Buffer.alloc(left)));
  return Buffer.concat(parts);
}

/**
 * Runs `atelier models import FILE` in a child and reports its peak resident memory (from
 * process.resourceUsage at exit, written to a file by a preloaded module).
 */
async function importMeasured(ws: string, archive: string): Promise<{ code: number; stderr: string; peakMiB: number }> {
  const report = join(tempDir('atelier-rss-'), 'rss');
  const preload = join(tempDir('atelier-rss-'), 'rss.mjs');
  writeFileSync(preload, `import { writeFileSync } from 'node:fs';\nprocess.on('exit', () => writeFileSync(${JSON.stringify(report)}, String(process.resourceUsage().maxRSS)));\n`);
  const result = await cli(['models', 'import', archive], { cwd: ws, env: { NODE_OPTIONS: `--import ${preload}` } });
  return { code: result.code, stderr: result.stderr, peakMiB: Number(readFileSync(report, 'utf8')) / 1024 };
}

describe('model archives are read as streams, capped, each entry checked as it arrives', () => {
  let home: string;
  let ws: string;
  let baselineMiB: number;

  before(async () => {
    home = tempDir('atelier-archive-');
    assert.equal((await cli(['init', 'ws'], { cwd: home })).code, 0);
    ws = join(home, 'ws');
    // The same command on a tiny archive: what the process takes anyway.
    writeFileSync(join(home, 'tiny.tgz'), gzipSync(tarOf([['bundle/model/weights.bin', Buffer.alloc(1024)]])));
    const tiny = await importMeasured(ws, join(home, 'tiny.tgz'));
    assert.equal(tiny.code, 1, tiny.stderr);
    baselineMiB = tiny.peakMiB;
  });

  test('a gzip bomb (one entry of 2 GiB + 1 byte of zeros, 2 MB on disk) is refused at its header; nothing is written', { timeout: 120_000 }, async () => {
    const size = ARCHIVE_MAX_BYTES + 1;
    const file = join(home, 'bomb.tgz');
    writeFileSync(file, bomb(header('bundle/model/weights.bin', size), size + padding(size).length + END.length));
    const before = listFiles(join(ws, '.atelier'));
    const result = await importMeasured(ws, file);
    assert.equal(result.code, 1);
    assert.match(result.stderr.trim(), /^atelier: \S*bomb\.tgz: entry "bundle\/model\/weights\.bin" is 2,147,483,649 bytes, more than the 2 GiB an archive may unpack to$/);
    assert.ok(result.peakMiB < baselineMiB + 128, `peak ${result.peakMiB.toFixed(0)} MiB against ${baselineMiB.toFixed(0)} MiB for a tiny archive`);
    assert.deepEqual(listFiles(join(ws, '.atelier')), before, 'no file left behind (the temp folder included)');
  });

  test('a 256 MiB entry under the cap streams through in bounded memory, and the refused bundle leaves nothing', { timeout: 120_000 }, async () => {
    const size = 256 * MiB;
    const file = join(home, 'large.tgz');
    writeFileSync(file, bomb(header('bundle/model/weights.bin', size), size + END.length));
    const before = listFiles(join(ws, '.atelier'));
    const result = await importMeasured(ws, file);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /large\.tgz: not a model archive \(no atelier-export\.json/);
    assert.ok(result.peakMiB < baselineMiB + 128, `peak ${result.peakMiB.toFixed(0)} MiB against ${baselineMiB.toFixed(0)} MiB for a tiny archive`);
    assert.deepEqual(listFiles(join(ws, '.atelier')), before, 'no file left behind');
  });

  test(`more than ${ARCHIVE_MAX_ENTRIES} entries are refused`, { timeout: 120_000 }, async () => {
    const folders = Array.from({ length: ARCHIVE_MAX_ENTRIES + 1 }, (_v, i) => header(`bundle/d${i}/`, 0, { type: 'Directory', mode: 0o755 }));
    const file = join(home, 'many.tgz');
    writeFileSync(file, gzipSync(Buffer.concat([...folders, END])));
    const result = await cli(['models', 'import', file], { cwd: ws });
    assert.equal(result.code, 1);
    assert.match(result.stderr, new RegExp(`many\\.tgz: holds more than ${ARCHIVE_MAX_ENTRIES} entries, the most an archive may hold`));
  });

  test('the total is capped across entries, and past the last one; a refusal removes the folder', { timeout: 60_000 }, async () => {
    const limits = { maxBytes: 4 * MiB };
    const three = join(home, 'three.tgz');
    writeFileSync(three, gzipSync(tarOf([1, 2, 3].map((i) => [`f${i}`, Buffer.alloc(1.5 * MiB, i)]))));
    const dest = join(tempDir(), 'out');
    await assert.rejects(extractArchive(three, dest, { limits }), (e: unknown) => e instanceof ArchiveRefused && /entry "f3" is 1,572,864 bytes; with the 3,145,728 bytes before it, that is more than the 4 MiB an archive may unpack to/.test(e.message));
    assert.equal(existsSync(dest), false);

    // Zeros after the end of the archive still count: the unpacked stream is capped too.
    const trailing = join(home, 'trailing.tgz');
    writeFileSync(trailing, bomb(tarOf([['f1', Buffer.from('one')]]), 8 * MiB));
    await assert.rejects(extractArchive(trailing, dest, { limits }), (e: unknown) => e instanceof ArchiveRefused && /unpacks to more than 4 MiB/.test(e.message));
    assert.equal(existsSync(dest), false);

    const fine = await extractArchive(three, dest, { limits: { maxBytes: 5 * MiB } });
    assert.deepEqual([fine.files, fine.bytes], [['f1', 'f2', 'f3'], 4.5 * MiB]);
    assert.deepEqual(readFileSync(join(dest, 'f2')), Buffer.alloc(1.5 * MiB, 2));

    // An uncompressed tar (a bundle as an object store keeps it) reads the same way, with the same caps.
    const plain = join(home, 'three.tar');
    writeFileSync(plain, tarOf([1, 2, 3].map((i) => [`f${i}`, Buffer.alloc(1.5 * MiB, i)])));
    const other = join(tempDir(), 'out');
    await assert.rejects(extractArchive(plain, other, { limits }), (e: unknown) => e instanceof ArchiveRefused && /entry "f3"/.test(e.message));
    assert.equal(existsSync(other), false);
    assert.deepEqual((await extractArchive(plain, other)).files, ['f1', 'f2', 'f3']);
  });

  test('only files and folders, with plain relative paths, each once; a gzip inside the gzip is refused', { timeout: 60_000 }, async () => {
    const data = Buffer.from('x');
    const cases: [string, Buffer, RegExp][] = [
      ['symlink', header('bundle/a', 0, { type: 'SymbolicLink', linkpath: '/etc/hostname' }), /entry "bundle\/a" is a SymbolicLink; a model archive holds files and folders only/],
      ['hardlink', header('bundle/a', 0, { type: 'Link', linkpath: 'bundle/b' }), /is a Link/],
      ['device', header('bundle/a', 0, { type: 'CharacterDevice' }), /is a CharacterDevice/],
      ['fifo', header('bundle/a', 0, { type: 'FIFO' }), /is a FIFO/],
      ['climb', Buffer.concat([header('bundle/../../escape', 1), data, padding(1)]), /entry "bundle\/\.\.\/\.\.\/escape": its path climbs out with "\.\."/],
      ['absolute', Buffer.concat([header('/tmp/escape', 1), data, padding(1)]), /entry "\/tmp\/escape": its path is absolute/],
      ['backslash', Buffer.concat([header('bundle\\..\\escape', 1), data, padding(1)]), /holds a backslash/],
      ['twice', Buffer.concat([header('bundle/a', 1), data, padding(1), header('bundle/a', 1), data, padding(1)]), /entry "bundle\/a" appears twice/],
      ['file-then-folder', Buffer.concat([header('bundle/a', 1), data, padding(1), header('bundle/a/b', 1), data, padding(1)]), /entry "bundle\/a(\/b)?" cannot be written/],
    ];
    for (const [name, body, pattern] of cases) {
      const file = join(home, `${name}.tgz`);
      writeFileSync(file, gzipSync(Buffer.concat([body, END])));
      const dest = join(tempDir(), 'out');
      await assert.rejects(extractArchive(file, dest), (e: unknown) => e instanceof ArchiveRefused && pattern.test(e.message), name);
      assert.equal(existsSync(dest), false, `${name}: nothing left`);
    }
    const nested = join(home, 'nested.tgz');
    writeFileSync(nested, gzipSync(gzipSync(tarOf([['bundle/a', data]]))));
    const result = await cli(['models', 'import', nested], { cwd: ws });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /nested\.tgz: not a model archive \(a compressed file inside the gzip; expected a tar\)/);
  });
});
