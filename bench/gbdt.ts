/**
 * GBDT speed and quality against XGBoost hist on the same data, in the same run.
 *
 *   node --import tsx bench/gbdt.ts            (ROWS=1000000 TREES=200 THREADS=2 PEER=1 PEER_THREADS=1,2 by default)
 *
 * XGBoost runs once per thread count in PEER_THREADS; ours is compared with its fastest (wall) run:
 * on this 2-core VM a peer's second thread can cost more than it brings.
 *
 * Data: ROWS x 28 features uniform on [0, 1] (seeded), y = 10 sin(pi x0 x1) + 20 (x2 - 0.5)^2
 * + 10 x3 + 5 x4 + N(0, 1); first 80% train, last 20% held out. Both sides read the same float32
 * values (written to a temp file for the Python peer).
 */
import { loadavg } from 'node:os';
import { trainGbdt } from '../src/models/gbdt/index.js';
import { friedman } from './friedman.js';
import { runPythonPeer } from './peer.js';
import { rmse } from '../src/models/losses.js';

const ROWS = Number(process.env.ROWS ?? 1_000_000);
const COLS = 28;
const TREES = Number(process.env.TREES ?? 200);
const DEPTH = Number(process.env.DEPTH ?? 6);
const LR = 0.1;
const THREADS = Number(process.env.THREADS ?? 2);
const PEER = process.env.PEER !== '0';
const GROWTH = (process.env.GROWTH ?? 'depthwise') as 'depthwise' | 'lossguide';

function generate(rows: number, seed: number): { x: Float32Array; y: Float32Array } {
  return friedman(rows, COLS, seed);
}

const mb = (bytes: number) => bytes / 1024 / 1024;
const loadAverage = () => loadavg().map((l) => l.toFixed(2)).join(' ');
const loadBefore = loadAverage();
const t0 = performance.now();
const { x, y } = generate(ROWS, 7);
const ntr = Math.floor(ROWS * 0.8);
console.log(`data ${ROWS} x ${COLS} generated in ${((performance.now() - t0) / 1000).toFixed(2)}s; train ${ntr}, held out ${ROWS - ntr}`);

type PeerRun = { fit_s: number; fit_cpu_s: number; rmse: number; max_rss_mb: number; version: string; threads: number };
const PEER_THREADS = (process.env.PEER_THREADS ?? '1,2').split(',').map(Number);
const peerRuns: PeerRun[] = [];
if (PEER) {
  for (const t of PEER_THREADS) {
    const run = { ...runPythonPeer<Omit<PeerRun, 'threads'>>('gbdt_peer.py', x, y, [ROWS, COLS, ntr, TREES, DEPTH, LR, t]), threads: t };
    console.log(`xgboost ${run.version}, ${t} thread(s): fit ${run.fit_s.toFixed(2)} s, CPU ${run.fit_cpu_s.toFixed(2)} s, RMSE ${run.rmse.toFixed(4)}, peak RSS ${run.max_rss_mb.toFixed(0)} MB`);
    peerRuns.push(run);
  }
}
// The peer at its best: the fastest wall time of its thread counts.
const peer = peerRuns.length > 0 ? peerRuns.reduce((a, b) => (b.fit_s < a.fit_s ? b : a)) : undefined;

const train = { x: { data: x.subarray(0, ntr * COLS), rows: ntr, cols: COLS }, y: y.subarray(0, ntr) };
const held = { data: x.subarray(ntr * COLS), rows: ROWS - ntr, cols: COLS };
const heldY = y.subarray(ntr);
let heapPeak = 0;
const t1 = performance.now();
const c1 = process.cpuUsage();
const model = await trainGbdt(train, { n_estimators: TREES, max_depth: DEPTH, learning_rate: LR, threads: THREADS, growth: GROWTH, num_leaves: 2 ** DEPTH - 1 }, {
  onIteration: () => {
    heapPeak = Math.max(heapPeak, process.memoryUsage().rss);
  },
});
const fit = (performance.now() - t1) / 1000;
const cpu = process.cpuUsage(c1);
const t2 = performance.now();
const pred = model.predict(held);
const predictS = (performance.now() - t2) / 1000;
const ours = { fit_s: fit, fit_cpu_s: (cpu.user + cpu.system) / 1e6, rmse: rmse(pred, heldY), max_rss_mb: process.resourceUsage().maxRSS / 1024 };

// Answers first: both models must be good before their times mean anything.
const noiseFloor = 1.0;
const checks: string[] = [];
if (!(ours.rmse < 1.5 * noiseFloor)) checks.push(`our held-out RMSE ${ours.rmse.toFixed(4)} is not near the noise floor (1.0)`);
if (peer && !(peer.rmse < 1.5 * noiseFloor)) checks.push(`XGBoost's held-out RMSE ${peer.rmse.toFixed(4)} is not near the noise floor (1.0)`);
if (checks.length > 0) {
  console.error(`answer check FAILED:\n  ${checks.join('\n  ')}`);
  process.exitCode = 1;
}
const pad = (s: string, w = 14) => s.padStart(w);
console.log(`\n${TREES} trees, depth ${DEPTH}, learning rate ${LR}, ${THREADS} threads, growth ${GROWTH}; ours predicted ${held.rows} rows in ${predictS.toFixed(2)}s`);
console.log(`load average before / after: ${loadBefore} / ${loadAverage()}`);
console.log(`${'metric'.padEnd(18)}${pad('atelier gbdt')}${pad(peer ? `xgboost ${peer.version} ${peer.threads}t` : 'xgboost (skipped)', 18)}${pad('ratio')}`);
const row = (name: string, a: number, b: number | undefined, digits: number) =>
  console.log(`${name.padEnd(18)}${pad(a.toFixed(digits))}${pad(b === undefined ? '-' : b.toFixed(digits), 18)}${pad(b === undefined ? '-' : (a / b).toFixed(3))}`);
row('fit seconds', ours.fit_s, peer?.fit_s, 2);
row('fit CPU seconds', ours.fit_cpu_s, peer?.fit_cpu_s, 2);
row('held-out RMSE', ours.rmse, peer?.rmse, 4);
row('peak RSS MB', ours.max_rss_mb, peer?.max_rss_mb, 0);
console.log(`(CPU seconds: user + system over all threads of the process during fit; on a shared machine wall time
 swings with other load, CPU time much less)`);
console.log(`(ours: peak RSS is the whole bench process, data generation included; sampled RSS during training ${mb(heapPeak).toFixed(0)} MB)`);
if (peer) {
  const verdict = [
    `fit time ${(ours.fit_s / peer.fit_s).toFixed(2)}x XGBoost's best wall (${peer.threads} thread(s)), ${(ours.fit_cpu_s / peer.fit_cpu_s).toFixed(2)}x its CPU (target <= 1.0x wall): ${ours.fit_s <= peer.fit_s ? 'met' : 'MISSED'}`,
    `RMSE ${(((ours.rmse - peer.rmse) / peer.rmse) * 100).toFixed(2)}% vs XGBoost (target within 0.5%): ${ours.rmse <= peer.rmse * 1.005 ? 'met' : 'MISSED'}`,
    `peak memory ${ours.max_rss_mb.toFixed(0)} MB vs XGBoost's ${peer.max_rss_mb.toFixed(0)} MB (target no worse): ${ours.max_rss_mb <= peer.max_rss_mb ? 'met' : 'MISSED'}`,
  ];
  console.log(verdict.join('\n'));
}
