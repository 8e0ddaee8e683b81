/**
 * GBDT worker: runs the kernels on its share of each job (histogram rows, partition chunks,
 * binning columns, quantization chunks, gradient and raw-score rows, leaves), in the shared memory
 * it was handed at start. Started by pool.ts (from worker.ts under tsx, worker.js once built).
 */
import { parentPort } from 'node:worker_threads';
import { binFeatures } from './binning.js';
import { addBinnedTreeToRaw, gradientRows, type BinnedTree, type RowState } from './boost.js';
import { runJobs } from './histogram.js';
import { finishLeaves, type LeafParams } from './leaves.js';
import type { ObjectiveName } from './objectives.js';
import { runPartitions } from './partition.js';
import { runQuantize } from './quantize.js';

interface State extends RowState {
  bins: Uint8Array;
  binsT: Uint8Array;
  packed: Float64Array;
  F: number;
  rows: Uint32Array;
  scratch: Uint32Array;
  pages: Float64Array[];
}

type Message =
  | {
      type: 'init';
      bins: SharedArrayBuffer;
      binsT: SharedArrayBuffer;
      packed: SharedArrayBuffer;
      n: number;
      F: number;
      rows: SharedArrayBuffer;
      scratch: SharedArrayBuffer;
      grad: SharedArrayBuffer;
      hess: SharedArrayBuffer;
      y: SharedArrayBuffer;
      raw: SharedArrayBuffer;
      outputs: number;
    }
  | { type: 'page'; index: number; buffer: SharedArrayBuffer }
  | { type: 'build'; jobs: Int32Array; features: Int32Array; f0: number; f1: number }
  | { type: 'partition'; jobs: Int32Array }
  | { type: 'quantize'; jobs: Float64Array }
  | { type: 'gradients'; objective: ObjectiveName; start: number; end: number }
  | { type: 'trees'; trees: BinnedTree[]; start: number; end: number }
  | { type: 'leaves'; ranges: Int32Array; k: number; p: LeafParams; addToRaw: boolean }
  | { type: 'bin'; data: Float32Array | Float64Array; rows: number; maxBins: number; sample: Uint32Array | undefined; f0: number; f1: number };

let state: State | undefined;
const port = parentPort;
if (!port) throw new Error('gbdt worker: not started as a worker thread');

/** This job's answer to the pool. */
function run(s: State, m: Exclude<Message, { type: 'init' | 'page' }>): unknown {
  switch (m.type) {
    case 'build':
      return runJobs(s.bins, s.F, s.rows, s.packed, s.pages, m.jobs, m.features, m.f0, m.f1);
    case 'bin':
      return binFeatures(m.data, m.rows, s.F, m.maxBins, m.sample, s.bins, m.f0, m.f1);
    case 'quantize':
      return runQuantize(s.grad, s.hess, s.packed, m.jobs);
    case 'partition':
      return runPartitions(s.binsT, s.n, s.rows, s.scratch, m.jobs);
    case 'gradients':
      return gradientRows(s, m.objective, m.start, m.end);
    case 'trees':
      for (const tree of m.trees) addBinnedTreeToRaw(tree, s.bins, s.F, m.start, m.end, s.raw, s.K);
      return undefined;
    case 'leaves':
      return finishLeaves(s.rows, s.grad, s.hess, m.k * s.n, m.ranges, m.p, m.addToRaw ? s.raw : undefined, s.K, m.k);
  }
}

port.on('message', (m: Message) => {
  try {
    if (m.type === 'init') {
      state = {
        bins: new Uint8Array(m.bins),
        binsT: new Uint8Array(m.binsT),
        packed: new Float64Array(m.packed),
        n: m.n,
        F: m.F,
        K: m.outputs,
        rows: new Uint32Array(m.rows),
        scratch: new Uint32Array(m.scratch),
        grad: new Float32Array(m.grad),
        hess: new Float32Array(m.hess),
        y: new Float64Array(m.y),
        raw: new Float64Array(m.raw),
        pages: [],
      };
      port.postMessage({ type: 'ready' });
    } else if (m.type === 'page') {
      state!.pages[m.index] = new Float64Array(m.buffer);
    } else {
      port.postMessage({ type: 'done', result: run(state!, m) });
    }
  } catch (error) {
    port.postMessage({ type: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  }
});
