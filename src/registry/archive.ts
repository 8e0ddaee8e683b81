/**
 * Model archives (.tgz): a minimal tar (ustar) writer, and a guarded reader.
 *
 * The writer builds a tar of regular files in memory (a bundle, which we wrote ourselves): a
 * sequence of 512-byte headers, each followed by its file's bytes padded to a multiple of 512,
 * ending with two zero blocks. The reader takes archives from anywhere, so it streams them
 * (gunzip, then the `tar` package's parser, which also reads the pax and GNU long names other tar
 * programs write) and checks each entry as it arrives: its type, its path, its size against what
 * is left of the budget. A refused archive leaves nothing behind.
 */

import { closeSync, createReadStream, createWriteStream, mkdirSync, openSync, readSync, rmSync, type WriteStream } from 'node:fs';
import { dirname, join } from 'node:path';
import { Transform } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { ReadEntry } from 'tar';
import { relativePathProblem } from '../core/safe-paths.js';

const BLOCK = 512;

export interface TarEntry {
  name: string;
  data: Buffer;
}

/** Why an archive is refused (not a gzip tar, an entry breaks a rule, over a cap); callers name the archive. */
export class ArchiveRefused extends Error {}

function writeString(header: Buffer, offset: number, length: number, value: string): void {
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length > length) throw new ArchiveRefused(`"${value}" does not fit a ${length}-byte tar field`);
  bytes.copy(header, offset);
}

function writeOctal(header: Buffer, offset: number, length: number, value: number): void {
  // length-1 octal digits then a NUL, as ustar expects.
  writeString(header, offset, length, value.toString(8).padStart(length - 1, '0') + '\0');
}

function splitName(name: string): { prefix: string; name: string } {
  if (Buffer.byteLength(name) <= 100) return { prefix: '', name };
  // ustar: a path up to 255 bytes, cut at a slash into prefix (155) and name (100).
  for (let i = name.indexOf('/'); i >= 0; i = name.indexOf('/', i + 1)) {
    const prefix = name.slice(0, i);
    const rest = name.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(rest) <= 100) return { prefix, name: rest };
  }
  throw new ArchiveRefused(`path too long for a tar archive: ${name}`);
}

function header(name: string, size: number, mtime: number): Buffer {
  const h = Buffer.alloc(BLOCK);
  const parts = splitName(name);
  writeString(h, 0, 100, parts.name);
  writeOctal(h, 100, 8, 0o644);
  writeOctal(h, 108, 8, 0);
  writeOctal(h, 116, 8, 0);
  writeOctal(h, 124, 12, size);
  writeOctal(h, 136, 12, mtime);
  h.fill(0x20, 148, 156); // the checksum is computed with its own field as spaces
  h[156] = 0x30; // '0': a regular file
  writeString(h, 257, 6, 'ustar\0');
  writeString(h, 263, 2, '00');
  writeString(h, 345, 155, parts.prefix);
  let sum = 0;
  for (const byte of h) sum += byte;
  writeString(h, 148, 8, sum.toString(8).padStart(6, '0') + '\0 ');
  return h;
}

/** Builds a tar archive of regular files, in the order given. */
export function writeTar(entries: TarEntry[], mtime = Math.floor(Date.now() / 1000)): Buffer {
  const chunks: Buffer[] = [];
  for (const entry of entries) {
    chunks.push(header(entry.name, entry.data.length, mtime), entry.data);
    const pad = (BLOCK - (entry.data.length % BLOCK)) % BLOCK;
    if (pad) chunks.push(Buffer.alloc(pad));
  }
  chunks.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(chunks);
}

/**
 * The caps on what reading one archive may unpack. A model bundle is a few files: the largest we
 * make (a GBDT of thousands of deep trees, JSON) is tens of MB, a DNN's weights a few MB. 2 GiB of
 * files is twenty times the largest and still a size every disk can hold for a moment; 10,000
 * entries is hundreds of times the dozen or so files (and folders) of a bundle. Past either, an
 * archive is not a model: it is refused before more is written.
 */
export const ARCHIVE_MAX_BYTES = 2 * 1024 ** 3;
export const ARCHIVE_MAX_ENTRIES = 10_000;
/** The largest entry kept in memory rather than written (an archive's own manifest). */
export const ARCHIVE_MAX_MEMORY_ENTRY = 1024 * 1024;

export interface ArchiveLimits {
  /** Total unpacked bytes: the file bytes, and the tar stream as a whole (headers included). */
  maxBytes: number;
  /** Entries: files and folders. */
  maxEntries: number;
}

/** `place` answers this for an entry to keep in memory instead of writing it. */
export const IN_MEMORY = Symbol('in memory');

export interface ExtractOptions {
  limits?: Partial<ArchiveLimits>;
  /**
   * Where a file entry goes, given its path (plain, relative, without a leading "./"): a path
   * relative to the destination, or IN_MEMORY. Throw ArchiveRefused to refuse the entry.
   * Default: the entry's own path.
   */
  place?: (path: string) => string | typeof IN_MEMORY;
}

export interface ExtractedArchive {
  /** The files written, relative to the destination, in archive order. */
  files: string[];
  /** The entries kept in memory, by their path in the archive. */
  memory: Map<string, Buffer>;
  /** File bytes unpacked. */
  bytes: number;
}

const GIB = 1024 ** 3;
const MIB = 1024 ** 2;
const bytes = (n: number) => `${n.toLocaleString('en-US')} bytes`;
function size(n: number): string {
  if (n >= GIB) return `${Number((n / GIB).toFixed(2))} GiB`;
  if (n >= MIB) return `${Number((n / MIB).toFixed(2))} MiB`;
  return bytes(n);
}

/** Whether a file starts as gzip does (1f 8b). */
function isGzip(file: string): boolean {
  const fd = openSync(file, 'r');
  try {
    const magic = Buffer.alloc(2);
    return readSync(fd, magic, 0, 2, 0) === 2 && magic[0] === 0x1f && magic[1] === 0x8b;
  } finally {
    closeSync(fd);
  }
}

/** An entry's path as the archive's own, without the "./" many tar programs put first. */
const entryPath = (entry: ReadEntry) => entry.path.replace(/^(\.\/)+/, '');

/**
 * Unpacks a tar, gzipped (a model archive) or not (a bundle in an object store), into `dest` (a
 * new folder), streaming: memory stays bounded whatever the
 * archive holds. Only files and folders are accepted (no links, devices or FIFOs); every path must
 * be plain and relative (see relativePathProblem); the total unpacked bytes and the entry count
 * are capped, each entry's size checked against the remaining budget before a byte of it is
 * written. On any refusal (ArchiveRefused) or error, `dest` is removed.
 */
export async function extractArchive(archive: string, dest: string, options: ExtractOptions = {}): Promise<ExtractedArchive> {
  const limits: ArchiveLimits = { maxBytes: ARCHIVE_MAX_BYTES, maxEntries: ARCHIVE_MAX_ENTRIES, ...options.limits };
  // Loaded here, not at the top: every registry command imports this module, few read archives.
  const { Parser } = await import('tar');
  const place = options.place ?? ((path: string) => path);
  const result: ExtractedArchive = { files: [], memory: new Map(), bytes: 0 };
  const written = new Set<string>();
  const open = new Set<WriteStream>();
  const closed: Promise<void>[] = [];
  let entries = 0;
  let streamed = 0;

  /** The entry's destination (undefined: a folder, made by its files), or ArchiveRefused. */
  function accept(entry: ReadEntry): string | typeof IN_MEMORY | undefined {
    entries += 1;
    if (entries > limits.maxEntries) throw new ArchiveRefused(`holds more than ${limits.maxEntries} entries, the most an archive may hold`);
    const isFolder = entry.type === 'Directory';
    const path = isFolder ? entryPath(entry).replace(/\/+$/, '') : entryPath(entry);
    if (isFolder && (path === '' || path === '.')) return undefined;
    const unsafe = relativePathProblem(path);
    if (unsafe) throw new ArchiveRefused(`entry "${entry.path}": its path ${unsafe}; an archive holds plain relative paths`);
    if (isFolder) return undefined;
    if (entry.type !== 'File' && entry.type !== 'OldFile' && entry.type !== 'ContiguousFile') {
      throw new ArchiveRefused(`entry "${entry.path}" is a ${entry.type}; a model archive holds files and folders only`);
    }
    if (entry.size > limits.maxBytes - result.bytes) {
      const before = result.bytes > 0 ? `; with the ${bytes(result.bytes)} before it, that is` : ',';
      throw new ArchiveRefused(`entry "${entry.path}" is ${bytes(entry.size)}${before} more than the ${size(limits.maxBytes)} an archive may unpack to`);
    }
    const target = place(path);
    if (target === IN_MEMORY) {
      if (entry.size > ARCHIVE_MAX_MEMORY_ENTRY) throw new ArchiveRefused(`entry "${entry.path}" is ${bytes(entry.size)}; at most ${size(ARCHIVE_MAX_MEMORY_ENTRY)} expected`);
      if (result.memory.has(path)) throw new ArchiveRefused(`entry "${entry.path}" appears twice`);
      return IN_MEMORY;
    }
    const placed = relativePathProblem(target);
    if (placed) throw new ArchiveRefused(`entry "${entry.path}" goes to "${target}", whose path ${placed}`);
    if (written.has(target)) throw new ArchiveRefused(`entry "${entry.path}" appears twice`);
    return target;
  }

  const gzipped = isGzip(archive);
  mkdirSync(dest, { recursive: true });
  try {
    await new Promise<void>((done, fail) => {
      let failed = false;
      const source = createReadStream(archive);
      const gunzip = createGunzip();
      // Counts the unpacked stream: headers, padding or trailing bytes past the cap are refused too.
      const counter = new Transform({
        transform(chunk: Buffer, _encoding, next) {
          // The parser would gunzip a nested gzip itself, out of this count: refuse it here.
          if (streamed === 0 && chunk[0] === 0x1f && chunk[1] === 0x8b) return next(new ArchiveRefused('not a model archive (a compressed file inside the gzip; expected a tar)'));
          streamed += chunk.length;
          if (streamed > limits.maxBytes) return next(new ArchiveRefused(`unpacks to more than ${size(limits.maxBytes)}, the most an archive may unpack to`));
          next(null, chunk);
        },
      });
      const parser = new Parser({ strict: true, brotli: false, zstd: false });
      const refuse = (error: unknown) => {
        if (failed) return;
        failed = true;
        for (const stream of [source, gunzip, counter, ...open]) stream.destroy();
        fail(error);
      };
      parser.on('entry', (entry: ReadEntry) => {
        if (failed) return void entry.resume();
        let target: string | typeof IN_MEMORY | undefined;
        try {
          target = accept(entry);
        } catch (error) {
          entry.resume();
          return refuse(error);
        }
        if (target === undefined) return void entry.resume();
        result.bytes += entry.size;
        if (target === IN_MEMORY) {
          const chunks: Buffer[] = [];
          entry.on('data', (chunk: Buffer) => chunks.push(chunk));
          entry.on('end', () => result.memory.set(entryPath(entry), Buffer.concat(chunks)));
          return;
        }
        result.files.push(target);
        written.add(target);
        const file = join(dest, ...target.split('/'));
        try {
          mkdirSync(dirname(file), { recursive: true });
        } catch (error) {
          entry.resume();
          return refuse(new ArchiveRefused(`entry "${entry.path}" cannot be written (${(error as Error).message})`));
        }
        // 'wx': never through something already there (a second entry of the same name, a folder).
        const out = createWriteStream(file, { flags: 'wx' });
        open.add(out);
        closed.push(new Promise<void>((settled) => out.on('close', () => (open.delete(out), settled()))));
        out.on('error', (error) => refuse(new ArchiveRefused(`entry "${entry.path}" cannot be written (${error.message})`)));
        entry.pipe(out);
      });
      parser.on('error', (error: Error) => refuse(new ArchiveRefused(`not a model archive (tar: ${error.message})`)));
      parser.on('end', () => void Promise.all(closed).then(() => (failed ? undefined : done())));
      source.on('error', refuse);
      gunzip.on('error', (error) => refuse(new ArchiveRefused(`not a model archive (gzip: ${error.message})`)));
      counter.on('error', refuse);
      (gzipped ? source.pipe(gunzip) : source).pipe(counter).pipe(parser as unknown as NodeJS.WritableStream);
    });
    return result;
  } catch (error) {
    // Streams being closed would otherwise write into the folder as it is removed.
    await Promise.all(closed);
    rmSync(dest, { recursive: true, force: true });
    throw error;
  }
}
