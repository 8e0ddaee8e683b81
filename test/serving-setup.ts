import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openContext, type AtelierContext } from '../src/store/context.js';
import { findWorkspace } from '../src/core/workspace.js';
import { startServer, type RunningServer, type ServerOptions } from '../src/serving/server.js';
import { cli, ROOT, tempDir } from './helpers.js';

/**
 * A workspace for the serving tests, trained once per test file in about two seconds:
 *   toy     linear regression on x (float, missing filled with the mean), n (int), color (string);
 *           version 1 (production) and version 2 (ridge), so that versions and aliases differ
 *   single  linear regression on x alone (the one-input forms of TF Serving)
 *   iris    multinomial logistic regression (classify)
 * `initFlags` go before `init` (e.g. `--store postgres://...`: the same workspace on PostgreSQL).
 */
export async function servingWorkspace(initFlags: string[] = []): Promise<string> {
  const home = tempDir('atelier-serving-');
  const init = await cli([...initFlags, 'init', 'ws'], { cwd: home });
  assert.equal(init.code, 0, init.stderr);
  const ws = join(home, 'ws');
  const lines = ['x,n,color,y'];
  const colors = ['red', 'green', 'blue'];
  for (let i = 0; i < 240; i++) {
    const x = ((i * 37) % 100) / 10;
    const n = i % 7;
    const color = colors[i % 3]!;
    lines.push(`${x},${n},${color},${(2 * x + n + (color === 'red' ? 5 : color === 'green' ? -3 : 0) + ((i * 13) % 5) / 10).toFixed(3)}`);
  }
  writeFileSync(join(ws, 'toy.csv'), lines.join('\n') + '\n');
  const config = (name: string, features: string, model = 'family: linear') =>
    `name: ${name}\ntask: regression\ndata: { dataset: toy, label: y, split: { eval: 0.2, seed: 1 } }\nfeatures:\n${features}\nmodel: { ${model} }\n`;
  const toyFeatures = '  - { name: x, missing: { strategy: mean } }\n  - n\n  - { name: color, transform: vocabulary }';
  writeFileSync(join(ws, 'toy.yaml'), config('toy', toyFeatures));
  writeFileSync(join(ws, 'toy-ridge.yaml'), config('toy', toyFeatures, 'family: linear, l2: 5'));
  writeFileSync(join(ws, 'single.yaml'), config('single', '  - x'));
  writeFileSync(join(ws, 'iris.yaml'), readFileSync(join(ROOT, 'examples', 'iris', 'logistic.yaml'), 'utf8').replace(/^name: .*$/m, 'name: iris'));
  const steps = [
    ['data', 'import', 'toy.csv', '--name', 'toy'],
    ['data', 'import', join(ROOT, 'examples', 'iris', 'iris.csv'), '--name', 'iris'],
    ['train', 'toy.yaml'],
    ['train', 'toy-ridge.yaml'],
    ['train', 'single.yaml'],
    ['train', 'iris.yaml'],
    ['models', 'promote', 'toy@1'],
    ['models', 'promote', 'toy@2', '--alias', 'staging'],
  ];
  for (const args of steps) {
    const result = await cli(args, { cwd: ws });
    assert.equal(result.code, 0, `atelier ${args.join(' ')}: ${result.stderr}`);
  }
  return ws;
}

export interface TestServer extends RunningServer {
  ctx: AtelierContext;
  stop(): Promise<void>;
}

/** Starts the server in this process on a free loopback port. */
export async function serve(ws: string, options: ServerOptions = {}): Promise<TestServer> {
  const ctx = await openContext(findWorkspace({ dir: ws }));
  const server = await startServer(ctx, { port: 0, host: '127.0.0.1', processMetrics: false, ...options });
  return {
    ...server,
    ctx,
    stop: async () => {
      await server.close();
      await ctx.store.close();
    },
  };
}

export async function request(
  url: string,
  options: { method?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: any; text: string; headers: Headers }> {
  const body = options.body === undefined ? undefined : typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
  const response = await fetch(url, { method: options.method ?? (body === undefined ? 'GET' : 'POST'), body, headers: options.headers });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: response.status, body: parsed, text, headers: response.headers };
}

/**
 * Clients spread over `urls` call `model`'s v2 infer route without pause while `promote` moves its
 * alias from version `from` to `to`; resolves once every replica has answered `to` many times in a
 * row, and fails on any failed request. Generous timeouts: this only fails on a hang; how fast
 * replicas follow is measured by bench/store.ts.
 */
export async function replicasFollow(urls: string[], options: { model: string; body: unknown; from: string; to: string; promote: () => Promise<void> }): Promise<void> {
  const failures: string[] = [];
  const answers: string[][] = urls.map(() => []);
  let stop = false;
  const client = async (i: number) => {
    const server = i % urls.length;
    while (!stop) {
      try {
        const answer = await request(`${urls[server]}/v2/models/${options.model}/infer`, { body: options.body });
        if (answer.status !== 200) failures.push(`${answer.status} ${answer.text}`);
        else answers[server]!.push(answer.body.model_version);
      } catch (error) {
        failures.push(String(error));
      }
    }
  };
  const clients = Array.from({ length: 8 }, (_v, i) => client(i));
  const trailing = (list: string[], version: string) => {
    let n = 0;
    for (let i = list.length - 1; i >= 0 && list[i] === version; i--) n++;
    return n;
  };
  const waitFor = async (condition: () => boolean, what: string) => {
    const deadline = Date.now() + 60_000;
    while (!condition()) {
      if (failures.length > 0) throw new Error(`${failures.length} failed requests while waiting for ${what}, the first: ${failures[0]}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  try {
    await waitFor(() => answers.every((a) => a.length >= 20), 'every replica to answer');
    assert.deepEqual(answers.map((a) => a[0]), urls.map(() => options.from));
    await options.promote();
    await waitFor(() => answers.every((a) => trailing(a, options.to) >= 50), `every replica to answer with version ${options.to}`);
  } finally {
    stop = true;
    await Promise.all(clients);
  }
  assert.deepEqual(failures, [], `${failures.length} failed requests`);
}
