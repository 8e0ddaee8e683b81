/**
 * The fast path of batch prediction for the common case, CSV in and CSV out: the file is read in
 * large blocks cut at line breaks, worker threads parse and predict the blocks (csv-fast-block),
 * and this thread writes their output in input order. Memory stays bounded by the blocks in
 * flight. Returns undefined when the file is not of the form the fast reader takes; the caller
 * then runs the DuckDB path, which gives the answer (or the error) for every file.
 */
import { isUtf8 } from 'node:buffer';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { threadBudget } from '../core/threads.js';
import type { Worker } from 'node:worker_threads';
import type { LoadedBundle } from '../bundle/load.js';
import { AtelierError } from '../core/errors.js';
import { startWorker } from '../core/worker-start.js';
import { requiredSources } from '../features/transform.js';
import { addedColumns, outputHeader, predictBlock, type BlockResult } from './csv-fast-block.js';
import { csvLayout, mightBeRefused, Unreadable, type CsvLayout } from './csv-fast-reader.js';
import type { BlockRequest, WorkerStart } from './csv-fast-worker.js';

export interface FastCsvOptions {
  /** About this many rows per block (by the average line length of the file's start). */
  chunkRows: number;
  /** Worker threads; 0 predicts on this thread. Default: one per core, none for small files. */
  threads?: number;
  onProgress?(done: number, total: number): void;
}

/**
 * Files below this size are predicted on this thread: starting workers would cost more (each
 * loads the bundle; a DNN's TF.js start alone is about a second of CPU here).
 */
const SMALL_FILE = 32 << 20;
/** Block size bounds, whatever chunkRows asks. */
const MIN_BLOCK = 1 << 10;
const MAX_BLOCK = 64 << 20;
/** How much of the file's start is read for the header and the line length. */
const SAMPLE = 1 << 20;

/** Runs blocks somewhere: on this thread, or on worker threads that loaded the bundle once. */
interface BlockRunner {
  run(block: Uint8Array, expectedRows: number): Promise<BlockResult>;
  close(): Promise<void>;
}

function localRunner(bundle: LoadedBundle, layout: CsvLayout): BlockRunner {
  return { run: (block, expectedRows) => predictBlock(bundle, layout, block, expectedRows), close: async () => {} };
}

function workerRunner(bundle: LoadedBundle, layout: CsvLayout, threads: number): BlockRunner {
  const start: WorkerStart = { bundleDir: bundle.dir, layout };
  const pending = new Map<number, { resolve: (r: BlockResult) => void; reject: (e: Error) => void; worker: number }>();
  const load = new Array<number>(threads).fill(0);
  let next = 0;
  let ids = 0;
  const fail = (worker: number, error: Error) => {
    for (const [id, p] of pending) {
      if (p.worker !== worker) continue;
      pending.delete(id);
      p.reject(error);
    }
  };
  const workers: Worker[] = Array.from({ length: threads }, (_v, w) => {
    const worker = startWorker(import.meta.url, 'csv-fast-worker', start);
    worker.on('message', (m: { id: number; result?: BlockResult; error?: string }) => {
      const p = pending.get(m.id);
      if (!p) return;
      pending.delete(m.id);
      load[w]!--;
      if (m.result) p.resolve({ ...m.result, output: new Uint8Array(m.result.output.buffer, m.result.output.byteOffset, m.result.output.byteLength) });
      else p.reject(new Unreadable(m.error ?? 'the worker failed'));
    });
    worker.on('error', (error) => fail(w, new Unreadable(`worker: ${error.message}`)));
    worker.on('exit', () => fail(w, new Unreadable('worker exited')));
    return worker;
  });
  return {
    run(block, expectedRows) {
      // The least busy worker (ties in turn).
      let w = next;
      for (let k = 0; k < threads; k++) if (load[k]! < load[w]!) w = k;
      next = (w + 1) % threads;
      load[w]!++;
      const id = ids++;
      return new Promise<BlockResult>((resolve, reject) => {
        pending.set(id, { resolve, reject, worker: w });
        const request: BlockRequest = { id, block, expectedRows };
        workers[w]!.postMessage(request, [block.buffer as ArrayBuffer]);
      });
    },
    async close() {
      // Asked to end, not terminated: terminating a worker while V8 still has work of its own
      // queued (a wasm tier-up, say) aborted Node 20 now and then (NodePlatform::ForIsolate). A
      // worker finishes the block in hand, closes its port and its thread ends; terminate() only
      // for one that has not ended after a few seconds.
      await Promise.all(
        workers.map(
          (w) =>
            new Promise<void>((resolve) => {
              const timer = setTimeout(() => void w.terminate().then(() => resolve()), 5000);
              w.once('exit', () => {
                clearTimeout(timer);
                resolve();
              });
              w.postMessage({ close: true });
            }),
        ),
      );
    },
  };
}

/** Writes all of `bytes` (a write may take fewer). */
async function writeAll(file: FileHandle, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.length; ) at += (await file.write(bytes, at, bytes.length - at)).bytesWritten;
}

/** Workers if they start (from source they need tsx), else this thread. */
function startRunner(bundle: LoadedBundle, layout: CsvLayout, threads: number): BlockRunner {
  try {
    return workerRunner(bundle, layout, threads);
  } catch {
    return localRunner(bundle, layout);
  }
}

/** About how many rows a CSV file holds, from its size and its first lines (for a progress bar); 0 if unknown. */
export async function estimateRows(path: string): Promise<number> {
  const file = await open(path, 'r');
  try {
    const start = await sampleStart(file);
    return start ? Math.round(((await file.stat()).size - start.headerBytes) / start.lineBytes) : 0;
  } finally {
    await file.close();
  }
}

/** The header line and the average line length, from the first bytes of the file. */
async function sampleStart(file: FileHandle): Promise<{ header: string; headerBytes: number; lineBytes: number } | undefined> {
  const sample = Buffer.alloc(SAMPLE);
  const { bytesRead } = await file.read(sample, 0, SAMPLE, 0);
  const head = sample.subarray(0, bytesRead);
  const end = head.indexOf(10);
  if (end < 0 || !isUtf8(head.subarray(0, end))) return undefined;
  const header = head.toString('utf8', 0, end > 0 && head[end - 1] === 13 ? end - 1 : end);
  let lines = 0;
  for (let at = head.indexOf(10, end + 1); at >= 0; at = head.indexOf(10, at + 1)) lines++;
  const body = head.lastIndexOf(10) - end;
  return { header, headerBytes: end + 1, lineBytes: lines > 0 ? body / lines : bytesRead };
}

/**
 * Predicts a CSV file into a CSV file, or returns undefined (having written nothing) when the file
 * needs the DuckDB path. An empty required cell is the DuckDB path's error, naming file and line.
 */
export async function predictCsvFast(bundle: LoadedBundle, input: string, output: string, options: FastCsvOptions): Promise<{ rows: number } | undefined> {
  const file = await open(input, 'r');
  let runner: BlockRunner | undefined;
  let out: FileHandle | undefined;
  const temp = `${output}.tmp-${process.pid}`;
  let done = false;
  try {
    const size = (await file.stat()).size;
    const start = await sampleStart(file);
    if (!start) return undefined;
    const classes = bundle.manifest.classes;
    let layout: CsvLayout;
    try {
      layout = csvLayout(start.header, bundle.transform.inputs, new Set(requiredSources(bundle.transform.features)), addedColumns(classes));
    } catch (error) {
      if (error instanceof Unreadable) return undefined;
      throw error;
    }
    const threads = options.threads ?? (size < SMALL_FILE ? 0 : threadBudget());
    runner = threads > 0 ? startRunner(bundle, layout, threads) : localRunner(bundle, layout);
    const blockBytes = Math.min(MAX_BLOCK, Math.max(MIN_BLOCK, Math.round(options.chunkRows * start.lineBytes)));
    const expectedRows = Math.ceil(blockBytes / Math.max(1, start.lineBytes)) + 16;
    out = await open(temp, 'w');
    await out.write(outputHeader(start.header, classes));

    // Blocks go out in order and come back in any order; they are written in order, with at most
    // two per thread in flight.
    const inFlight: { result: Promise<BlockResult>; bytes: number }[] = [];
    const limit = Math.max(2, 2 * threads);
    const present = new Float64Array(layout.inputs.length);
    let passThrough: { present: Float64Array; strict: Float64Array; maybe: Float64Array } | undefined;
    let rows = 0;
    let written = 0;
    const finish = async (): Promise<void> => {
      const { result, bytes } = inFlight.shift()!;
      const r = await result;
      if (r.emptyRow >= 0) {
        const line = rows + r.emptyRow + 2;
        const feature = layout.inputs[r.emptyInput]!.name;
        throw new AtelierError('INPUT_INVALID', `${input}:${line}: feature "${feature}" is empty; expected a number`, { file: input, line, feature });
      }
      await writeAll(out!, r.output);
      rows += r.rows;
      written += bytes;
      r.present.forEach((v, k) => (present[k] += v));
      if (!passThrough) passThrough = r.passThrough;
      else for (const key of ['present', 'strict', 'maybe'] as const) r.passThrough[key].forEach((v, k) => (passThrough![key][k] += v));
      // The total is estimated from the bytes read; exact at the last block.
      options.onProgress?.(rows, Math.max(rows, Math.round((rows * (size - start.headerBytes)) / Math.max(1, written))));
    };

    let carry = Buffer.alloc(0);
    let position = start.headerBytes;
    for (;;) {
      // A fresh buffer per block (it moves to a worker): the previous block's partial line first.
      const block = Buffer.allocUnsafeSlow(carry.length + blockBytes);
      carry.copy(block, 0);
      const { bytesRead } = await file.read(block, carry.length, blockBytes, position);
      position += bytesRead;
      const filled = carry.length + bytesRead;
      const last = bytesRead === 0 || position >= size;
      const cut = last ? filled : block.lastIndexOf(10, filled - 1) + 1;
      carry = Buffer.from(block.subarray(cut, filled));
      if (cut > 0) {
        const result = runner.run(new Uint8Array(block.buffer, block.byteOffset, cut), expectedRows);
        // Awaited in order below; a failure after an earlier one must not go unhandled.
        result.catch(() => {});
        inFlight.push({ result, bytes: cut });
      }
      while (inFlight.length >= limit || (last && inFlight.length > 0)) await finish();
      if (last) break;
    }
    // What DuckDB would type differently: a model input with no value at all (text), a
    // passed-through column it may refuse as mostly numbers; and a file with no rows.
    if (rows === 0 || present.some((v) => v === 0)) return undefined;
    const counts = passThrough;
    if (counts && counts.present.some((n, k) => mightBeRefused(n, counts.strict[k]!, counts.maybe[k]!))) return undefined;
    await out.close();
    out = undefined;
    await rename(temp, output);
    done = true;
    return { rows };
  } catch (error) {
    if (error instanceof Unreadable) return undefined;
    throw error;
  } finally {
    await runner?.close();
    await out?.close();
    await file.close();
    if (!done) await rm(temp, { force: true });
  }
}
