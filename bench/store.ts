/**
 * The metadata store at team size: `models list` and `history` with 10,000 model versions and
 * 100,000 events, on SQLite and on PostgreSQL, as library calls and as whole CLI commands; and
 * how soon a second process hears of an alias move (the change notification servers follow).
 *
 *   npm run build && node --import tsx bench/store.ts
 *     VERSIONS=10000 (over 100 models)  EVENTS=100000  ROUNDS=7 (median of)  BACKENDS=sqlite,postgres
 *
 * PostgreSQL: ATELIER_TEST_PG_URL, else a throwaway cluster from Debian's binaries
 * (test/services/postgres.ts); skipped when neither is there. Bar: each library call and each
 * whole CLI command (Node's start, the CLI's modules, opening the store, the query) under 300 ms;
 * `node -e 1` and `atelier --version` (which loads no command) are printed as floors. The load
 * average is printed with the figures: on a shared machine they swing.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { initWorkspace } from '../src/core/workspace.js';
import { listModels } from '../src/registry/models.js';
import { openContext, type AtelierContext } from '../src/store/context.js';
import { startPostgres } from '../test/services/postgres.js';

const VERSIONS = Number(process.env.VERSIONS ?? 10_000);
const EVENTS = Number(process.env.EVENTS ?? 100_000);
const ROUNDS = Number(process.env.ROUNDS ?? 7);
const BACKENDS = (process.env.BACKENDS ?? 'sqlite,postgres').split(',');
const MODELS = 100;
const BAR_MS = 300;
const cli = join(resolve(import.meta.dirname, '..'), 'dist', 'cli', 'main.js');

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function timeIt(work: () => Promise<unknown>): Promise<number> {
  await work(); // warm
  const times: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const started = performance.now();
    await work();
    times.push(performance.now() - started);
  }
  return median(times);
}

function timeProcess(args: string[], cwd: string): number {
  const times: number[] = [];
  for (let i = 0; i <= ROUNDS; i++) {
    const started = performance.now();
    const r = spawnSync(process.execPath, args, { cwd, encoding: 'utf8', env: { ...process.env, ATELIER_WORKSPACE: '' } });
    if (r.status !== 0) throw new Error(`${args.join(' ')}: ${r.stderr}`);
    if (i > 0) times.push(performance.now() - started);
  }
  return median(times);
}

const timeCli = (cwd: string, args: string[]) => timeProcess([cli, ...args], cwd);
const timeNode = () => timeProcess(['-e', '1'], tmpdir());

/** 10,000 versions over 100 models (one production alias each) and 100,000 events, in big transactions. */
async function fill(ctx: AtelierContext): Promise<void> {
  const perModel = VERSIONS / MODELS;
  for (let m = 0; m < MODELS; m++) {
    await ctx.store.transaction(async (tx) => {
      for (let v = 0; v < perModel; v++) {
        const { record } = await tx.addModelVersion({
          model: `model-${String(m).padStart(3, '0')}`,
          runId: null,
          bundleUri: `bundles/${m}-${v}`,
          bundleHash: `h${m}-${v}`,
          metrics: { rmse: 3 + v / perModel },
          createdAt: new Date().toISOString(),
          createdBy: 'bench',
          description: null,
        });
        if (v === perModel - 1) await tx.moveAlias({ kind: 'promoted', model: record.model, alias: 'production', from: null, to: record.version, reason: null });
      }
    });
  }
  const kinds = ['dataset.imported', 'run.started', 'run.finished', 'model.registered', 'model.validated'];
  for (let e = 0; e < EVENTS; e += 5000) {
    await ctx.store.transaction(async (tx) => {
      for (let i = e; i < Math.min(EVENTS, e + 5000); i++) {
        await tx.appendEvent({ kind: kinds[i % kinds.length]!, subject: `model-${String(i % MODELS).padStart(3, '0')}@${(i % 100) + 1}`, details: { i } });
      }
    });
  }
}

/** From a move's commit to the moment another handle's watcher hears of it. */
async function notificationDelay(ctx: AtelierContext): Promise<number> {
  const other = await openContext(ctx.workspace);
  const delays: number[] = [];
  let heard: (() => void) | undefined;
  const stop = await other.store.watchRegistry(() => heard?.());
  const alive = setInterval(() => {}, 1000); // the watcher's own timer does not hold the process open
  try {
    for (let i = 0; i < ROUNDS; i++) {
      const arrived = new Promise<void>((r) => (heard = r));
      const started = performance.now();
      await ctx.store.transaction((tx) => tx.moveAlias({ kind: 'promoted', model: 'model-000', alias: 'bench', from: null, to: (i % 3) + 1, reason: null }));
      await arrived;
      delays.push(performance.now() - started);
    }
  } finally {
    clearInterval(alive);
    await stop();
    await other.store.close();
  }
  return median(delays);
}

async function bench(name: string, storeUrl: string | undefined): Promise<boolean> {
  const dir = mkdtempSync(join(tmpdir(), `atelier-bench-store-${name}-`));
  const workspace = initWorkspace(dir, 'bench', storeUrl ? { store: storeUrl } : {});
  const ctx = await openContext(workspace);
  let ok = true;
  try {
    const filling = performance.now();
    await fill(ctx);
    console.log(`${name}: filled ${VERSIONS} versions, ${EVENTS} events in ${((performance.now() - filling) / 1000).toFixed(1)} s`);
    const firstPage = await listModels(ctx, undefined, { limit: 100 });
    const deep = await ctx.store.listModelVersions({}, { limit: 5000 });
    const rows: [string, number][] = [
      ['library listModels, first page (100)', await timeIt(() => listModels(ctx, undefined, { limit: 100 }))],
      ['library listModels, page after 5,000', await timeIt(() => listModels(ctx, undefined, { limit: 100, cursor: deep.next! }))],
      ['library listModels, one model (100)', await timeIt(() => listModels(ctx, 'model-050', { limit: 100 }))],
      ['library history, newest 100', await timeIt(() => ctx.store.listEvents({ newestFirst: true }, { limit: 100 }))],
      ['library history --kind, newest 100', await timeIt(() => ctx.store.listEvents({ kind: 'model.validated', newestFirst: true }, { limit: 100 }))],
      ['library latest verdict + alias', await timeIt(async () => [await ctx.store.getLatestVerdict('model-050', 3), await ctx.store.getAlias('model-050', 'production')])],
      ['node -e 1 (floor)', timeNode()],
      ['CLI atelier --version (floor)', timeCli(dir, ['--version'])],
      ['CLI atelier models list --json', timeCli(dir, ['models', 'list', '--json'])],
      ['CLI atelier history --json', timeCli(dir, ['history', '--json'])],
      ['CLI atelier history --limit 20', timeCli(dir, ['history', '--limit', '20'])],
      ['alias move heard by another handle', await notificationDelay(ctx)],
    ];
    if (firstPage.models.length === 0) throw new Error('models list came back empty');
    console.log(`\n${name} (load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}), median of ${ROUNDS}:`);
    // What a whole command spends past starting Node at all.
    const nodeFloor = rows.find(([what]) => what.startsWith('node -e 1'))![1];
    for (const [what, ms] of rows) {
      const floor = what.includes('floor') || what.includes('heard');
      const pass = floor || ms < BAR_MS;
      ok &&= pass;
      const share = what.startsWith('CLI') && !floor ? ` (+${(ms - nodeFloor).toFixed(0)} ms over node -e 1)` : '';
      console.log(`  ${what.padEnd(40)} ${ms.toFixed(1).padStart(8)} ms${share}${floor ? '' : pass ? '   ok' : `   OVER ${BAR_MS} ms`}`);
    }
  } finally {
    await ctx.store.close();
  }
  return ok;
}

let ok = true;
if (BACKENDS.includes('sqlite')) ok = (await bench('sqlite', undefined)) && ok;
if (BACKENDS.includes('postgres')) {
  const pg = await startPostgres();
  if (!pg) console.log('postgres: not installed here (no /usr/lib/postgresql/N/bin, no ATELIER_TEST_PG_URL); skipped');
  else {
    try {
      ok = (await bench('postgres', pg.url)) && ok;
    } finally {
      await pg.stop();
    }
  }
}
console.log(ok ? `\nall timings under ${BAR_MS} ms` : `\nsome timings over ${BAR_MS} ms`);
process.exit(ok ? 0 : 1);
