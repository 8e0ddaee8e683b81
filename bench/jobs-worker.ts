/**
 * One worker of bench/jobs.ts: an `atelier worker` loop (TeamWorker) whose jobs do nothing, so
 * what is measured is the queue: fetch, lease, renewal and the guarded completion.
 *   node --import tsx bench/jobs-worker.ts QUEUE_URL CONCURRENCY
 */
import { findWorkspace } from '../src/core/workspace.js';
import { TeamWorker } from '../src/jobs/pg-worker.js';

const [url, concurrency] = process.argv.slice(2);
const workspace = findWorkspace({ store: 'sqlite:/tmp/atelier-bench-unused.db', artifacts: 'file:///tmp/atelier-bench-unused' });
// Loaded and connected-to-be: say so, and start taking jobs on "go" (so start-up is not timed).
process.stdout.write('ready\n');
await new Promise((resolve) => process.stdin.once('data', resolve));
const worker = await TeamWorker.start(url!, workspace, {
  concurrency: Number(concurrency ?? 4),
  kinds: ['evaluate'],
  leaseSeconds: 30,
  log: (line) => {
    if (!line.startsWith('completed')) process.stderr.write(line + '\n');
  },
  runner: () => ({ pid: process.pid, outcome: Promise.resolve({ ok: true as const, result: {} }), stop: () => {} }),
});
process.on('SIGTERM', () => void worker.stop(0).then(() => process.exit(0)));
