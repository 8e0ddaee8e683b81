/**
 * Serving speed against FastAPI + uvicorn + PyTorch, in the same run, and batch prediction.
 *
 *   npm run build && node --import tsx bench/serving.ts
 *     PARTS=serve,swap,raw,batch  DURATION=10 (s per wrk run)  ROUNDS=2  CONNECTIONS=64
 *     ROWS=1000000 (batch CSV)  TREES=100 DEPTH=6 (batch GBDT)  PEER=1
 *
 * Parts (each prints its table and a pass/fail line per bar):
 *  - serve: the housing DNN (examples/housing/dnn.yaml, trained in a temp workspace) behind
 *    `atelier serve`, and bench/serving_peer.py (FastAPI + uvicorn + PyTorch, the request
 *    handling of ../shared/peers/fastapi_server.py) serving the same weights. Both must answer
 *    the same predictions; then wrk sends single-row TF Serving predict requests over CONNECTIONS
 *    connections to each in turn (ROUNDS times, alternating; the median round counts), and once
 *    more to ours at half its rate (a rate-limited wrk script) for the p99 latency.
 *    Bars: ours >= 3x the peer's requests/s; p99 < 10 ms at half our maximum rate.
 *  - swap: wrk load on ours while `atelier models promote` moves production to a second version
 *    and back; bar: zero non-2xx answers and zero socket errors, and the new version answered.
 *  - raw: the DNN's predict on 1M rows in memory: `bundle.predictColumns` (transform + network)
 *    and the network alone, against PyTorch (one thread) on the same rows; bar: >= 1M rows/s.
 *  - batch: ROWS x 28 Friedman rows (bench/friedman.ts) written as CSV, a GBDT (TREES trees,
 *    depth DEPTH) trained on it with `atelier train`, then `atelier predict --input F.csv
 *    --output out.csv` and `out.parquet`, timed as whole processes (wall, and CPU through
 *    /usr/bin/time when present); the outputs are read back and checked (row count, RMSE against
 *    y, the first rows against the bundle in process). CSV -> CSV takes the fast path
 *    (src/serving/csv-fast-batch.ts), Parquet output the DuckDB one.
 *    Peer: pandas read_csv + XGBoost predict + to_csv on the same file. Bar: >= 500,000 rows/s.
 *
 * Needs wrk (apt-get install wrk) and, for the peer, python3-fastapi, uvicorn, python3-torch,
 * python3-pandas, python3-xgboost. The machine's load average is printed with every figure:
 * on a shared machine they swing.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { loadBundle } from '../src/bundle/load.js';
import { transformColumns, type RawColumn } from '../src/features/transform.js';
import { dnnFamily } from '../src/models/dnn/index.js';
import { friedman } from './friedman.js';

const PARTS = new Set((process.env.PARTS ?? 'serve,swap,raw,batch').split(','));
const DURATION = Number(process.env.DURATION ?? 10);
const ROUNDS = Number(process.env.ROUNDS ?? 2);
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 64);
const ROWS = Number(process.env.ROWS ?? 1_000_000);
const TREES = Number(process.env.TREES ?? 100);
const DEPTH = Number(process.env.DEPTH ?? 6);
const PEER = process.env.PEER !== '0';
const PYTHON = '/usr/bin/python3';

const root = resolve(import.meta.dirname, '..');
const cli = join(root, 'dist', 'cli', 'main.js');
const peerScript = join(import.meta.dirname, 'serving_peer.py');
const work = mkdtempSync(join(tmpdir(), 'atelier-bench-serving-'));
const ws = join(work, 'ws');
const children: ChildProcess[] = [];
const verdicts: string[] = [];
let failed = false;

const load = () => loadavg()[0]!.toFixed(2);
const bar = (name: string, ok: boolean, detail: string) => {
  verdicts.push(`${ok ? 'PASS' : 'FAIL'}  ${name}: ${detail}`);
  if (!ok) failed = true;
};
const atelier = (...args: string[]) => execFileSync(process.execPath, [cli, ...args], { cwd: ws, encoding: 'utf8', maxBuffer: 1 << 26, stdio: ['ignore', 'pipe', 'pipe'] });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function stopAll(): void {
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
}
process.on('exit', stopAll);
process.on('SIGINT', () => {
  stopAll();
  process.exit(130);
});

function startChild(command: string, args: string[], cwd: string): ChildProcess {
  const child = spawn(command, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  child.on('exit', (code) => {
    if (code && code !== 143 && code !== 130) console.error(`${command} exited ${code}: ${err}`);
  });
  children.push(child);
  return child;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const done = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([done, sleep(5000)]);
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

async function waitFor(url: string, seconds = 60): Promise<void> {
  const until = Date.now() + seconds * 1000;
  while (Date.now() < until) {
    try {
      const response = await fetch(url);
      if (response.status < 500) return;
    } catch {
      /* not listening yet */
    }
    await sleep(200);
  }
  throw new Error(`${url} did not come up within ${seconds}s`);
}

async function post(url: string, body: unknown): Promise<{ status: number; json: unknown }> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: response.status, json: await response.json() };
}

interface WrkResult {
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  non2xx: number;
  socketErrors: number;
  load: string;
}

const toMs = (text: string) => {
  const m = /([\d.]+)(us|ms|s)/.exec(text)!;
  return Number(m[1]) * (m[2] === 'us' ? 1e-3 : m[2] === 's' ? 1e3 : 1);
};

function parseWrk(out: string): Omit<WrkResult, 'load'> {
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? Number.NaN);
  const p50 = toMs(/ 50%\s+(\S+)/.exec(out)?.[1] ?? 'NaNms');
  const p99 = toMs(/ 99%\s+(\S+)/.exec(out)?.[1] ?? 'NaNms');
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? Number.NaN);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const socketErrors = socket ? socket.slice(1).reduce((s, v) => s + Number(v), 0) : 0;
  return { rps, p50, p99, requests, non2xx, socketErrors };
}

/** Runs wrk in a child process (asynchronously, so this process can act during the load). */
function wrk(url: string, script: string, seconds: number, env: Record<string, string> = {}): Promise<WrkResult> {
  const before = load();
  return new Promise((resolvePromise, reject) => {
    const child = spawn('wrk', ['-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, '-s', script, '--latency', url], { env: { ...process.env, ...env } });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('exit', () => resolvePromise({ ...parseWrk(out), load: `${before}/${load()}` }));
  });
}

const housingRow = { CRIM: 0.00632, ZN: 18, INDUS: 2.31, CHAS: 0, NOX: 0.538, RM: 6.575, AGE: 65.2, DIS: 4.09, RAD: 1, TAX: 296, PTRATIO: 15.3, LSTAT: 4.98 };
const predictBody = JSON.stringify({ instances: [housingRow] });

function luaScript(rateLimited: boolean): string {
  const file = join(work, rateLimited ? 'predict_rate.lua' : 'predict.lua');
  const limiter = `
local ffi = require("ffi")
ffi.cdef[[ typedef struct { long tv_sec; long tv_nsec; } bench_timespec; int clock_gettime(int clk, bench_timespec *tp); ]]
local ts = ffi.new("bench_timespec")
local function now_ms() ffi.C.clock_gettime(1, ts); return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6 end
local interval = 1000 / tonumber(os.getenv("RATE"))
local next_at = nil
-- A shared schedule of one request every 1/RATE s: each connection waits for the next free slot.
function delay()
  local t = now_ms()
  if next_at == nil or next_at < t then next_at = t end
  local d = next_at - t
  next_at = next_at + interval
  return d
end
`;
  writeFileSync(
    file,
    `${rateLimited ? limiter : ''}
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '${predictBody}'
`,
  );
  return file;
}

// ---------------------------------------------------------------------------------------------
// Workspace with the housing DNN.

if (!existsSync(cli)) execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
mkdirSync(ws);
atelier('init');
for (const f of ['housing.csv', 'dnn.yaml']) copyFileSync(join(root, 'examples', 'housing', f), join(ws, f));
let bundleDir = '';
if (PARTS.has('serve') || PARTS.has('swap') || PARTS.has('raw')) {
  atelier('data', 'import', 'housing.csv', '--name', 'housing');
  atelier('train', 'dnn.yaml');
  atelier('models', 'promote', 'housing@1');
  bundleDir = (JSON.parse(atelier('models', 'show', 'housing@1', '--json')) as { bundle: string }).bundle;
  console.log(`housing DNN (examples/housing/dnn.yaml: 12 inputs, 64-32 relu) trained in ${ws}; load average ${load()}`);
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const pad = (s: string, w = 14) => s.padStart(w);
const table: string[] = [];
const row = (metric: string, ours: number, peer: number | undefined, digits = 0, load = '') =>
  table.push(`${metric.padEnd(44)}${pad(ours.toFixed(digits))}${pad(peer === undefined ? '-' : peer.toFixed(digits))}${pad(peer === undefined ? '-' : `${(ours / peer).toFixed(2)}x`, 9)}  ${load}`);

// ---------------------------------------------------------------------------------------------
// Online serving: ours and the peer on the same network, back to back.

if (PARTS.has('serve')) {
  const port = 18500 + (process.pid % 500);
  const peerPort = port + 1;
  const url = `http://127.0.0.1:${port}/v1/models/housing:predict`;
  const peerUrl = `http://127.0.0.1:${peerPort}/v1/models/housing:predict`;
  const ours = startChild(process.execPath, [cli, 'serve', '--port', String(port)], ws);
  const peer = PEER ? startChild(PYTHON, [peerScript, 'serve', String(peerPort), bundleDir], work) : undefined;
  try {
    await waitFor(`http://127.0.0.1:${port}/v2/health/ready`);
    if (peer) await waitFor(`http://127.0.0.1:${peerPort}/docs`);
    // Answers first: the same houses must get the same prices from both servers.
    const houses = JSON.parse(readFileSync(join(root, 'examples', 'housing', 'houses.json'), 'utf8')) as { instances: unknown[] };
    const body = { instances: [housingRow, ...houses.instances] };
    const a = await post(url, body);
    const expected = (await (await loadBundle(bundleDir)).predict(body.instances)) as number[];
    const got = (a.json as { predictions: number[] }).predictions;
    const worst = (x: number[], y: number[]) => Math.max(...x.map((v, i) => Math.abs(v - y[i]!) / Math.max(1, Math.abs(y[i]!))));
    if (a.status !== 200 || got.length !== expected.length || !(worst(got, expected) < 1e-9)) throw new Error(`our server answered ${JSON.stringify(a.json)}, in process ${JSON.stringify(expected)}`);
    const single = await post(url, { instances: [housingRow] });
    if (!(worst((single.json as { predictions: number[] }).predictions, [expected[0]!]) < 1e-6)) throw new Error(`one-row answer ${JSON.stringify(single.json)} differs from ${expected[0]}`);
    if (peer) {
      const b = await post(peerUrl, body);
      const peerGot = (b.json as { predictions: number[] }).predictions;
      if (b.status !== 200 || !(worst(peerGot, expected) < 1e-4)) throw new Error(`peer answered ${JSON.stringify(b.json)}, ours ${JSON.stringify(expected)}`);
      console.log(`answers agree: ours ${got.map((v) => v.toFixed(4)).join(', ')}; peer ${peerGot.map((v) => v.toFixed(4)).join(', ')}`);
    }
    // Warm both (JIT, connection setup), then alternate.
    const script = luaScript(false);
    await wrk(url, script, 2);
    if (peer) await wrk(peerUrl, script, 2);
    const oursRuns: WrkResult[] = [];
    const peerRuns: WrkResult[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      if (peer) peerRuns.push(await wrk(peerUrl, script, DURATION));
      oursRuns.push(await wrk(url, script, DURATION));
      console.log(`round ${r + 1}: ours ${oursRuns[r]!.rps.toFixed(0)} req/s p99 ${oursRuns[r]!.p99.toFixed(2)} ms (load ${oursRuns[r]!.load})` +
        (peer ? `; peer ${peerRuns[r]!.rps.toFixed(0)} req/s p99 ${peerRuns[r]!.p99.toFixed(2)} ms (load ${peerRuns[r]!.load})` : ''));
    }
    const oursRps = median(oursRuns.map((r) => r.rps));
    const peerRps = peer ? median(peerRuns.map((r) => r.rps)) : undefined;
    const errors = [...oursRuns, ...peerRuns].reduce((s, r) => s + r.non2xx + r.socketErrors, 0);
    if (errors > 0) throw new Error(`${errors} failed requests under load: the figures do not count`);
    row(`predict req/s, 1 row, ${CONNECTIONS} conns (median)`, oursRps, peerRps, 0, `load ${oursRuns.map((r) => r.load).join(' ')}`);
    row('  p50 ms at full load', median(oursRuns.map((r) => r.p50)), peer ? median(peerRuns.map((r) => r.p50)) : undefined, 2);
    row('  p99 ms at full load', median(oursRuns.map((r) => r.p99)), peer ? median(peerRuns.map((r) => r.p99)) : undefined, 2);
    const rate = Math.round(oursRps / 2);
    const half = await wrk(url, luaScript(true), DURATION, { RATE: String(rate) });
    let peerHalf: WrkResult | undefined;
    if (peer && peerRps) peerHalf = await wrk(peerUrl, luaScript(true), DURATION, { RATE: String(Math.round(peerRps / 2)) });
    row(`p99 ms at half the max rate (${rate} req/s asked)`, half.p99, peerHalf?.p99, 2, `load ${half.load}; sent ${half.rps.toFixed(0)} req/s`);
    row('  p50 ms at half the max rate', half.p50, peerHalf?.p50, 2);
    if (peerRps !== undefined) bar('serving throughput', oursRps >= 3 * peerRps, `${(oursRps / peerRps).toFixed(2)}x the FastAPI peer (bar: 3x)`);
    bar('serving p99 at half rate', half.p99 < 10 && half.non2xx + half.socketErrors === 0, `${half.p99.toFixed(2)} ms at ${half.rps.toFixed(0)} req/s (bar: < 10 ms)`);
  } finally {
    await stopChild(ours);
    if (peer) await stopChild(peer);
  }
}

// ---------------------------------------------------------------------------------------------
// Hot swap under load.

if (PARTS.has('swap')) {
  // A second version: the same config with another training seed.
  writeFileSync(join(ws, 'dnn2.yaml'), readFileSync(join(ws, 'dnn.yaml'), 'utf8').replace(/\n {2}seed: 42/, '\n  seed: 43'));
  atelier('train', 'dnn2.yaml');
  const port = 19000 + (process.pid % 500);
  const url = `http://127.0.0.1:${port}/v1/models/housing:predict`;
  const server = startChild(process.execPath, [cli, 'serve', '--port', String(port)], ws);
  try {
    await waitFor(`http://127.0.0.1:${port}/v2/health/ready`);
    const status = async () =>
      ((await (await fetch(`http://127.0.0.1:${port}/v1/models/housing/labels/production`)).json()) as { model_version_status: { version: string; state: string }[] }).model_version_status;
    const seconds = Math.max(DURATION, 8);
    const run = wrk(url, luaScript(false), seconds);
    const served: string[] = [];
    await sleep((seconds * 1000) / 4);
    execFileSync(process.execPath, [cli, 'models', 'promote', 'housing@2'], { cwd: ws });
    for (let i = 0; i < 40 && !(await status()).some((s) => s.version === '2' && s.state === 'AVAILABLE'); i++) await sleep(100);
    served.push((await status()).map((s) => `${s.version}:${s.state}`).join(' '));
    await sleep((seconds * 1000) / 4);
    execFileSync(process.execPath, [cli, 'models', 'promote', 'housing@1'], { cwd: ws });
    for (let i = 0; i < 40 && !(await status()).some((s) => s.version === '1' && s.state === 'AVAILABLE'); i++) await sleep(100);
    served.push((await status()).map((s) => `${s.version}:${s.state}`).join(' '));
    const result = await run;
    const swapped = served[0]!.includes('2:AVAILABLE') && served[1]!.includes('1:AVAILABLE');
    console.log(`hot swap: ${result.requests} requests in ${seconds}s (${result.rps.toFixed(0)} req/s, load ${result.load}); production after each promote: [${served.join('] [')}]`);
    table.push(`${'hot swap 1->2->1 under load: failed requests'.padEnd(44)}${pad(String(result.non2xx + result.socketErrors))}${pad('-')}${pad('-', 9)}  of ${result.requests}`);
    bar('hot swap', result.non2xx + result.socketErrors === 0 && swapped && result.requests > 0, `${result.non2xx} non-2xx, ${result.socketErrors} socket errors in ${result.requests} requests; versions switched: ${swapped}`);
  } finally {
    await stopChild(server);
  }
}

// ---------------------------------------------------------------------------------------------
// The DNN's raw predict on rows in memory.

if (PARTS.has('raw')) {
  const n = 1_000_000;
  const bundle = await loadBundle(bundleDir);
  const names = bundle.transform.inputs.map((i) => i.name);
  // Housing rows, cycled, with a little seeded jitter so no two are the same.
  const text = readFileSync(join(root, 'examples', 'housing', 'housing.csv'), 'utf8').trim().split('\n');
  const header = text[0]!.split(',').map((h) => h.replaceAll('"', ''));
  const source = text.slice(1).map((l) => l.split(',').map(Number));
  const raw = new Float32Array(n * names.length);
  const columns = new Map<string, RawColumn>(names.map((name) => [name, new Float64Array(n)]));
  const at = names.map((name) => header.indexOf(name));
  let seed = 1;
  for (let i = 0; i < n; i++) {
    const s = source[i % source.length]!;
    names.forEach((name, j) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      const integer = bundle.transform.inputs[j]!.dtype === 'int';
      const v = integer ? s[at[j]!]! : s[at[j]!]! * (1 + ((seed / 2147483648) - 0.5) * 0.02);
      raw[i * names.length + j] = v;
      (columns.get(name) as Float64Array)[i] = raw[i * names.length + j]!; // float32 values on both sides
    });
  }
  const model = await dnnFamily.load(join(bundleDir, 'model'));
  const matrix = transformColumns(bundle.transform, columns, n);
  await bundle.predictColumns(new Map([...columns].map(([k, v]) => [k, (v as Float64Array).subarray(0, 1000)])), 1000); // warm-up
  await model.predict({ ...matrix, rows: 1000, data: matrix.data.subarray(0, 1000 * matrix.cols) });
  const loadBefore = load();
  // Each timed twice, alternating (the first large call also grows the wasm heap); the best counts.
  let viaBundle: Float64Array = new Float64Array(0);
  let viaModel: Float64Array = new Float64Array(0);
  let bundleS = Number.POSITIVE_INFINITY;
  let modelS = Number.POSITIVE_INFINITY;
  let transformS = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 2; round++) {
    let t = performance.now();
    viaBundle = await bundle.predictColumns(columns, n);
    bundleS = Math.min(bundleS, (performance.now() - t) / 1000);
    t = performance.now();
    viaModel = await model.predict(matrix);
    modelS = Math.min(modelS, (performance.now() - t) / 1000);
    t = performance.now();
    transformColumns(bundle.transform, columns, n);
    transformS = Math.min(transformS, (performance.now() - t) / 1000);
  }
  const loadAfter = load();
  for (let i = 0; i < n; i++) if (!Number.isFinite(viaBundle[i]!) || viaBundle[i] !== viaModel[i]) throw new Error(`row ${i}: bundle ${viaBundle[i]} and model ${viaModel[i]} differ`);
  let peer: { rows_per_s: number; head: number[]; threads: number } | undefined;
  if (PEER) {
    writeFileSync(join(work, 'raw.f32'), raw);
    peer = JSON.parse(execFileSync(PYTHON, [peerScript, 'predict', bundleDir, join(work, 'raw.f32'), String(n)], { encoding: 'utf8' }).trim().split('\n').pop()!);
    const worst = Math.max(...peer!.head.map((v, i) => Math.abs(v - viaBundle[i]!) / Math.max(1, Math.abs(v))));
    if (!(worst < 1e-4)) throw new Error(`raw predict: ours ${Array.from(viaBundle.subarray(0, 5))}, PyTorch ${peer!.head}`);
  }
  row('DNN raw predict rows/s: predictColumns, 1M', n / bundleS, peer?.rows_per_s, 0, `load ${loadBefore}/${loadAfter}; peer: PyTorch ${peer?.threads ?? '-'} thread(s), standardize + net`);
  row('  network alone (model.predict), 1M', n / modelS, peer?.rows_per_s, 0);
  row('  transform alone (transformColumns), 1M', n / transformS, undefined, 0);
  bar('DNN raw predict', n / bundleS >= 1_000_000, `${(n / bundleS).toFixed(0)} rows/s through predictColumns, ${(n / modelS).toFixed(0)} the network alone (bar: 1,000,000)`);
  bundle.dispose();
  model.dispose();
}

// ---------------------------------------------------------------------------------------------
// Batch prediction through the CLI on a 1M x 28 CSV.

if (PARTS.has('batch')) {
  const cols = 28;
  const { x, y } = friedman(ROWS, cols, 7);
  const csv = join(work, `friedman-${ROWS}.csv`);
  const fd = openSync(csv, 'w');
  writeSync(fd, `${Array.from({ length: cols }, (_v, j) => `f${j}`).join(',')},y\n`);
  const chunk: string[] = [];
  for (let i = 0; i < ROWS; i++) {
    let line = '';
    for (let j = 0; j < cols; j++) line += `${x[i * cols + j]!.toFixed(6)},`;
    chunk.push(`${line}${y[i]!.toFixed(6)}\n`);
    if (chunk.length === 10_000) writeSync(fd, chunk.splice(0).join(''));
  }
  writeSync(fd, chunk.join(''));
  closeSync(fd);
  const config = `name: friedman
task: regression
data: { dataset: friedman, label: y, split: { eval: 0.2, seed: 42 } }
features: [${Array.from({ length: cols }, (_v, j) => `{ name: f${j}, transform: none }`).join(', ')}]
model: { family: gbdt, n_estimators: ${TREES}, max_depth: ${DEPTH}, learning_rate: 0.1 }
training: { seed: 42 }
`;
  writeFileSync(join(ws, 'friedman.yaml'), config);
  atelier('data', 'import', csv, '--name', 'friedman');
  let t = performance.now();
  atelier('train', 'friedman.yaml');
  console.log(`GBDT ${TREES} trees depth ${DEPTH} trained on ${ROWS} x ${cols} in ${((performance.now() - t) / 1000).toFixed(1)}s (load ${load()})`);
  const gbdtDir = (JSON.parse(atelier('models', 'show', 'friedman@1', '--json')) as { bundle: string }).bundle;
  const gbdt = await loadBundle(gbdtDir);
  // The in-process answer for the first rows, from the CSV's own (rounded) values.
  const check = 1000;
  const head = new Map<string, RawColumn>(
    Array.from({ length: cols }, (_v, j) => [`f${j}`, Float64Array.from({ length: check }, (_w, i) => Number(x[i * cols + j]!.toFixed(6)))]),
  );
  const expected = await gbdt.predictColumns(head, check);
  gbdt.dispose();

  const instance = await DuckDBInstance.create(':memory:');
  const con = await instance.connect();
  const verify = async (file: string) => {
    const reader = file.endsWith('.parquet') ? `read_parquet('${file}')` : `read_csv('${file}')`;
    const stats = (await con.runAndReadAll(`SELECT count(prediction)::DOUBLE AS n, sqrt(avg((prediction - y) ^ 2)) AS rmse FROM ${reader}`)).getRowObjectsJS()[0] as { n: number; rmse: number };
    const first = (await con.runAndReadAll(`SELECT prediction FROM ${reader} LIMIT ${check}`)).getColumnsJS()[0] as number[];
    const tolerance = file.endsWith('.csv') ? 1e-6 : 1e-12;
    const bad = first.findIndex((v, i) => !(Math.abs(v - expected[i]!) <= tolerance * Math.max(1, Math.abs(expected[i]!))));
    if (stats.n !== ROWS || !(stats.rmse < 1.5) || bad >= 0) {
      throw new Error(`${file}: ${stats.n} rows, RMSE ${stats.rmse}${bad >= 0 ? `; row ${bad}: ${first[bad]} against ${expected[bad]} in process` : ''}`);
    }
    return stats.rmse;
  };
  // CPU time (user + system, all threads) through /usr/bin/time when it is there: on a shared
  // machine it swings less than wall time.
  const timeTool = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;
  const timedPredict = async (output: string) => {
    const before = load();
    const started = performance.now();
    const args = [cli, 'predict', 'friedman', '--input', csv, '--output', output];
    const run = timeTool
      ? spawnSync(timeTool, ['-f', 'cpu %U %S', process.execPath, ...args], { cwd: ws, encoding: 'utf8', maxBuffer: 1 << 26 })
      : spawnSync(process.execPath, args, { cwd: ws, encoding: 'utf8', maxBuffer: 1 << 26 });
    const seconds = (performance.now() - started) / 1000;
    if (run.status !== 0) throw new Error(`atelier predict: ${run.stderr}`);
    const cpu = /cpu ([\d.]+) ([\d.]+)\s*$/.exec(run.stderr);
    const rmse = await verify(output);
    rmSync(output, { force: true });
    return { seconds, rmse, load: `${before}/${load()}`, cpu: cpu ? `, CPU ${(Number(cpu[1]) + Number(cpu[2])).toFixed(1)}s` : '' };
  };
  const outCsv = await timedPredict(join(work, 'out.csv'));
  const outParquet = await timedPredict(join(work, 'out.parquet'));
  let peer: { seconds: number; rmse: number; read_s: number; predict_s: number; write_s: number } | undefined;
  if (PEER) {
    const out = execFileSync(PYTHON, [peerScript, 'batch', csv, join(work, 'peer.csv'), String(TREES), String(DEPTH)], { encoding: 'utf8', maxBuffer: 1 << 20 });
    peer = JSON.parse(out.trim().split('\n').pop()!);
    if (!(peer!.rmse < 1.5)) throw new Error(`peer RMSE ${peer!.rmse}`);
  }
  con.closeSync();
  instance.closeSync();
  row(`batch predict rows/s, CSV -> CSV (${ROWS / 1e6}M)`, ROWS / outCsv.seconds, peer ? ROWS / peer.seconds : undefined, 0, `load ${outCsv.load}; ${outCsv.seconds.toFixed(1)}s${outCsv.cpu}; RMSE ${outCsv.rmse.toFixed(4)}${peer ? `, peer ${peer.rmse.toFixed(4)}` : ''}`);
  row('batch predict rows/s, CSV -> Parquet', ROWS / outParquet.seconds, undefined, 0, `load ${outParquet.load}; ${outParquet.seconds.toFixed(1)}s${outParquet.cpu}`);
  if (peer) table.push(`  (peer: pandas read_csv ${peer.read_s.toFixed(1)}s + XGBoost ${TREES} trees predict ${peer.predict_s.toFixed(1)}s + to_csv ${peer.write_s.toFixed(1)}s)`);
  bar('batch predict CSV', ROWS / outCsv.seconds >= 500_000, `${(ROWS / outCsv.seconds).toFixed(0)} rows/s end to end (bar: 500,000), GBDT ${TREES} trees depth ${DEPTH}`);
  bar('batch predict Parquet', ROWS / outParquet.seconds >= 500_000, `${(ROWS / outParquet.seconds).toFixed(0)} rows/s end to end (bar: 500,000)`);
}

console.log(`\n${'metric'.padEnd(44)}${pad('atelier')}${pad('peer')}${pad('ratio', 9)}  notes`);
console.log(table.join('\n'));
console.log(`\n${verdicts.join('\n')}`);
console.log(`(load average now ${load()} on ${loadavg().length ? '' : ''}this machine; figures from a loaded machine swing)`);
stopAll();
rmSync(work, { recursive: true, force: true });
if (failed) process.exitCode = 1;
