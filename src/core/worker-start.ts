import { Worker } from 'node:worker_threads';

/**
 * Starts the worker module `name` next to the module at `here` (its import.meta.url): name.js
 * once compiled; under tsx (running from source) name.ts, through a small bootstrap that
 * registers tsx in the worker first, because Node 20 does not apply the parent's `--import tsx`
 * to worker threads.
 */
export function startWorker(here: string, name: string, workerData?: unknown): Worker {
  const source = /\.[cm]?ts$/.test(new URL(here).pathname);
  if (!source) return new Worker(new URL(`./${name}.js`, here), { workerData });
  const target = new URL(`./${name}.ts`, here).href;
  let tsx: string;
  try {
    tsx = import.meta.resolve('tsx/esm/api');
  } catch {
    throw new Error(`${name}: running from TypeScript source needs tsx to load ${name}.ts in a worker; use one thread or the compiled build`);
  }
  const bootstrap = `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(target)}); }).catch((e) => { throw e; });`;
  return new Worker(bootstrap, { eval: true, workerData });
}
