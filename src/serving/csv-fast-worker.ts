/**
 * Batch prediction worker: loads the bundle once, then turns each block of CSV lines it is sent
 * into output lines (csv-fast-block). Started by csv-fast-batch.ts through core/worker-start.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { loadBundle } from '../bundle/load.js';
import { predictBlock } from './csv-fast-block.js';
import type { CsvLayout } from './csv-fast-reader.js';

export interface WorkerStart {
  bundleDir: string;
  layout: CsvLayout;
}

export interface BlockRequest {
  id: number;
  block: Uint8Array;
  expectedRows: number;
}

const port = parentPort;
if (!port) throw new Error('batch worker: not started as a worker thread');
const { bundleDir, layout } = workerData as WorkerStart;
const bundle = loadBundle(bundleDir);

port.on('message', (message: BlockRequest | { close: true }) => {
  // The last message: once the blocks before it are answered, the port closes and the thread ends.
  if ('close' in message) {
    const close = () => setImmediate(() => port.close());
    bundle.then(close, close);
    return;
  }
  const { id, block, expectedRows } = message;
  bundle
    .then((b) => predictBlock(b, layout, block, expectedRows))
    .then(
      (result) => port.postMessage({ id, result }, [result.output.buffer as ArrayBuffer]),
      // Whatever failed (a form the reader does not take, a transform error), the DuckDB path
      // redoes the file and gives its own answer or error.
      (error: unknown) => port.postMessage({ id, error: String((error as Error).message ?? error) }),
    );
});
