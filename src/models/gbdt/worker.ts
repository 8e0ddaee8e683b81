/**
 * Histogram worker: builds its share of the features of each histogram job, in the shared
 * memory it was handed at start. Started by pool.ts (from worker.ts under tsx, worker.js once built).
 */
import { parentPort } from 'node:worker_threads';
import { binFeatures } from './binning.js';
import { runJobs } from './histogram.js';
import { runPartitions } from './partition.js';
import { runQuantize } from './quantize.js';

interface State {
  bins: Uint8Array;
  binsT: Uint8Array;
  packed: Float64Array;
  n: number;
  F: number;
  rows: Uint32Array;
  scratch: Uint32Array;
  grad: Float32Array;
  hess: Float32Array;
  pages: Float64Array[];
}

type Message =
  | { type: 'init'; bins: SharedArrayBuffer; binsT: SharedArrayBuffer; packed: SharedArrayBuffer; n: number; F: number; rows: SharedArrayBuffer; scratch: SharedArrayBuffer; grad: SharedArrayBuffer; hess: SharedArrayBuffer }
  | { type: 'page'; index: number; buffer: SharedArrayBuffer }
  | { type: 'build'; jobs: Int32Array; features: Int32Array; f0: number; f1: number }
  | { type: 'partition'; jobs: Int32Array }
  | { type: 'quantize'; jobs: Float64Array }
  | { type: 'bin'; data: Float32Array | Float64Array; rows: number; maxBins: number; sample: Uint32Array | undefined; f0: number; f1: number };

let state: State | undefined;
const port = parentPort;
if (!port) throw new Error('gbdt worker: not started as a worker thread');

port.on('message', (m: Message) => {
  try {
    if (m.type === 'init') {
      state = {
        bins: new Uint8Array(m.bins),
        binsT: new Uint8Array(m.binsT),
        packed: new Float64Array(m.packed),
        n: m.n,
        F: m.F,
        rows: new Uint32Array(m.rows),
        scratch: new Uint32Array(m.scratch),
        grad: new Float32Array(m.grad),
        hess: new Float32Array(m.hess),
        pages: [],
      };
      port.postMessage({ type: 'ready' });
    } else if (m.type === 'page') {
      state!.pages[m.index] = new Float64Array(m.buffer);
    } else if (m.type === 'build') {
      const s = state!;
      runJobs(s.bins, s.F, s.rows, s.packed, s.pages, m.jobs, m.features, m.f0, m.f1);
      port.postMessage({ type: 'done' });
    } else if (m.type === 'bin') {
      const s = state!;
      port.postMessage({ type: 'done', bounds: binFeatures(m.data, m.rows, s.F, m.maxBins, m.sample, s.bins, m.f0, m.f1) });
    } else if (m.type === 'quantize') {
      const s = state!;
      runQuantize(s.grad, s.hess, s.packed, m.jobs);
      port.postMessage({ type: 'done' });
    } else if (m.type === 'partition') {
      const s = state!;
      port.postMessage({ type: 'done', counts: runPartitions(s.binsT, s.n, s.rows, s.scratch, m.jobs) });
    }
  } catch (error) {
    port.postMessage({ type: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  }
});
