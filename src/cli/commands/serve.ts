import cluster from 'node:cluster';
import type { Command } from 'commander';
import { AtelierError } from '../../core/errors.js';
import { openContext } from '../../store/context.js';
import type { ServerOptions } from '../../serving/server.js';
import { action, workspaceOf } from '../runner.js';

export function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new AtelierError('USAGE', `--port ${value}: expected a whole number from 0 to 65535`, { field: 'port' });
  }
  return port;
}

function wholeNumber(flag: string, value: string, min = 0): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new AtelierError('USAGE', `${flag} ${value}: expected a whole number of at least ${min}`, { field: flag.slice(2) });
  return n;
}

function fraction(flag: string, value: string): number {
  const n = Number(value);
  if (!(n >= 0 && n <= 1)) throw new AtelierError('USAGE', `${flag} ${value}: expected a number from 0 to 1`, { field: flag.slice(2) });
  return n;
}

/** `accept`, `reject`, or `model=policy,...` with an optional bare default among them. */
export function parseDomainPolicy(value: string): NonNullable<ServerOptions['domainPolicy']> {
  const out = { default: 'accept' as 'accept' | 'reject', models: {} as Record<string, 'accept' | 'reject'> };
  for (const part of value.split(',').map((p) => p.trim()).filter(Boolean)) {
    const [model, policy] = part.includes('=') ? (part.split('=', 2) as [string, string]) : [undefined, part];
    if (policy !== 'accept' && policy !== 'reject') {
      throw new AtelierError('USAGE', `--domain-policy ${value}: "${policy}" is not accept or reject`, { field: 'domain-policy' });
    }
    if (model === undefined) out.default = policy;
    else out.models[model] = policy;
  }
  return out;
}

/**
 * Set in the environment of the workers `--workers N` forks: their primary answers metrics
 * requests (a worker of another cluster manager, such as pm2, serves its own metrics).
 */
const CLUSTER_METRICS_ENV = 'ATELIER_SERVE_CLUSTER_METRICS';

/** Resolves when the process is asked to stop (Ctrl-C or SIGTERM). */
export function untilSignal(): Promise<string> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
}

interface ServeFlags {
  port: string;
  host: string;
  models?: string;
  all?: boolean;
  aliases: string;
  workers: string;
  batchMax: string;
  batchWaitUs: string;
  queueMax: string;
  timeoutMs: string;
  bodyLimit: string;
  tokenFile?: string;
  logPredictions?: string;
  logSample: string;
  logMaxMb: string;
  domainPolicy: string;
  pollMs: string;
  maxOnDemand: string;
  logLevel: string;
}

async function serverOptions(opts: ServeFlags): Promise<ServerOptions> {
  const { readTokenFile } = await import('../../serving/server.js');
  if (opts.models && opts.all) throw new AtelierError('USAGE', 'pass --models or --all, not both', { field: 'models' });
  return {
    port: parsePort(opts.port),
    host: opts.host,
    models: opts.models ? opts.models.split(',').map((m) => m.trim()).filter(Boolean) : 'all',
    aliases: opts.aliases.split(',').map((a) => a.trim()).filter(Boolean),
    pollMs: wholeNumber('--poll-ms', opts.pollMs),
    maxOnDemand: wholeNumber('--max-on-demand', opts.maxOnDemand),
    batch: {
      maxBatch: wholeNumber('--batch-max', opts.batchMax, 1),
      waitUs: wholeNumber('--batch-wait-us', opts.batchWaitUs),
      queueMax: wholeNumber('--queue-max', opts.queueMax, 1),
    },
    timeoutMs: wholeNumber('--timeout-ms', opts.timeoutMs, 1),
    bodyLimit: wholeNumber('--body-limit', opts.bodyLimit, 1),
    tokens: opts.tokenFile ? readTokenFile(opts.tokenFile) : undefined,
    predictionLog: opts.logPredictions
      ? { dir: opts.logPredictions, sample: fraction('--log-sample', opts.logSample), maxBytes: Number(opts.logMaxMb) * 1024 * 1024 }
      : undefined,
    domainPolicy: parseDomainPolicy(opts.domainPolicy),
    logLevel: opts.logLevel as ServerOptions['logLevel'],
  };
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('Serve registered models over REST (TF Serving API and Open Inference v2) until Ctrl-C')
    .option('--port <port>', 'port to listen on', '8501')
    .option('--host <host>', 'address to bind', '127.0.0.1')
    .option('--models <names>', 'comma-separated models to serve (name, or name@version to keep a version loaded)')
    .option('--all', 'serve every registered model, and new ones as they are registered (the default)')
    .option('--aliases <names>', 'aliases whose versions are loaded ahead and followed when they move', 'production')
    .option('--workers <n>', 'server processes sharing the port', '1')
    .option('--max-on-demand <n>', 'versions per model loaded on demand (by number, or an alias not followed) kept at once; the least recently used unloads first', '2')
    .option('--batch-max <rows>', 'most rows in one model call', '64')
    .option('--batch-wait-us <us>', 'longest a request waits for others to batch with, in microseconds (0: those that arrived in the same event-loop turn)', '0')
    .option('--queue-max <n>', 'requests waiting per model before answering 429', '1024')
    .option('--timeout-ms <ms>', 'per-request limit before answering 504', '30000')
    .option('--body-limit <bytes>', 'largest request body', String(16 * 1024 * 1024))
    .option('--token-file <file>', 'bearer tokens, one a line; requests without one get 401')
    .option('--log-predictions <dir>', 'write requests and predictions as JSON Lines under this folder')
    .option('--log-sample <fraction>', 'fraction of requests logged', '1')
    .option('--log-max-mb <mb>', 'start a new log file past this size', '64')
    .option('--domain-policy <policy>', 'values outside the training domain: accept (count them) or reject; or model=policy,...', 'accept')
    .option('--poll-ms <ms>', 'SQLite: how often to check the registry for alias moves and new versions (PostgreSQL notifies; 0: do not follow)', '200')
    .option('--log-level <level>', 'server log level on stderr: silent, error (unexpected failures, the default), warn, info (every request)', 'error')
    .action(
      action(async (io, opts: ServeFlags) => {
        const workers = wholeNumber('--workers', opts.workers, 1);
        const options = await serverOptions(opts);
        if (workers > 1 && cluster.isPrimary) return runPrimary(workers, options);
        const { startServer } = await import('../../serving/server.js');
        const ctx = await openContext(workspaceOf(io.globals));
        let server;
        try {
          server = await startServer(ctx, { ...options, clusterMetrics: cluster.isWorker && process.env[CLUSTER_METRICS_ENV] === '1' });
        } catch (error) {
          await ctx.store.close();
          throw error;
        }
        const running = server;
        const names = running.plane.manager.models();
        if (cluster.isWorker) process.send?.({ listening: running.port, models: names });
        const wait = untilSignal().then(async () => {
          await running.close();
          await ctx.store.close();
        });
        return {
          json: { url: running.url, port: running.port, models: names, workers: 1 },
          human: [
            `Serving ${names.length ? names.join(', ') : 'no models yet'} at ${running.url} (Ctrl-C to stop)`,
            ...names.map((n) => `  POST ${running.url}/v1/models/${n}:predict   {"instances": [...]}`),
            `  GET  ${running.url}/metrics`,
          ].join('\n'),
          wait,
        };
      }),
    );
}

/**
 * `--workers N`: N processes on one port (node:cluster), each with its own model manager; the
 * primary sums their metrics for whichever worker a scrape of /metrics lands on.
 */
async function runPrimary(workers: number, options: ServerOptions) {
  // Workers run this same command; their stdout is not ours to print.
  cluster.setupPrimary({ silent: true });
  const { aggregateWorkerMetrics } = await import('../../serving/cluster-metrics.js');
  aggregateWorkerMetrics();
  const started = await Promise.all(
    Array.from({ length: workers }, () => {
      const worker = cluster.fork({ [CLUSTER_METRICS_ENV]: '1' });
      worker.process.stderr?.pipe(process.stderr);
      worker.process.stdout?.resume();
      return new Promise<{ port: number; models: string[] }>((resolve, reject) => {
        worker.on('message', (m: { listening?: number; models?: string[] }) => {
          if (typeof m.listening === 'number') resolve({ port: m.listening, models: m.models ?? [] });
        });
        worker.on('exit', (code) => reject(new AtelierError('PORT_IN_USE', `a server worker exited (code ${code}) before listening`)));
      });
    }),
  ).catch((error) => {
    for (const w of Object.values(cluster.workers ?? {})) w?.kill();
    throw error;
  });
  const host = options.host ?? '127.0.0.1';
  const { port, models } = started[0]!;
  const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
  const wait = untilSignal().then(async () => {
    const exits = Object.values(cluster.workers ?? {}).map((w) => new Promise<void>((r) => (w!.isDead() ? r() : w!.once('exit', () => r()))));
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
    await Promise.all(exits);
  });
  return {
    json: { url, port, models, workers },
    human: `Serving ${models.join(', ') || 'no models yet'} at ${url} with ${workers} workers (Ctrl-C to stop)`,
    wait,
  };
}
