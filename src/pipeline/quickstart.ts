import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadModelConfig } from '../core/config.js';
import { AtelierError } from '../core/errors.js';
import { findWorkspace, initWorkspace, WORKSPACE_FILE } from '../core/workspace.js';
import { importDataset } from '../data/datasets.js';
import type { RegressionMetrics } from '../evaluation/metrics.js';
import type { EpochReport } from '../models/family.js';
import { promoteModelVersion } from '../registry/models.js';
import { trainAndRegister } from './register-trained.js';
import { startServer, type RunningServer } from '../serving/server.js';
import { openContext, type AtelierContext } from '../store/context.js';

/** The package's own folder, from dist/pipeline or src/pipeline alike. */
export const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const HOUSING_EXAMPLE = join(PACKAGE_ROOT, 'examples', 'housing');

export interface QuickstartOptions {
  dir?: string;
  port?: number;
  host?: string;
  onStage?: (message: string) => void;
  onEpoch?: (report: EpochReport) => void;
}

export interface QuickstartResult {
  workspace: string;
  dataset: { name: string; version: number; rows: number; contentHash: string };
  model: string;
  version: number;
  alias: string;
  run: string;
  metrics: RegressionMetrics;
  rmse: number;
  url: string;
  request: { url: string; body: { instances: Record<string, number>[] } };
  predictions: number[];
  curl: string;
  seconds: number;
}

/**
 * The whole path once, on the housing data: workspace, import, train (seeded 80/20 split),
 * evaluate on the held-out 20%, register version N with alias production, serve, and ask the
 * server about two houses over HTTP. Returns the running server; the caller decides when to stop.
 */
export async function quickstart(options: QuickstartOptions = {}): Promise<{ result: QuickstartResult; server: RunningServer; ctx: AtelierContext }> {
  const started = performance.now();
  const say = options.onStage ?? (() => {});
  const dir = resolve(options.dir ?? 'atelier-quickstart');
  const workspace = existsSync(join(dir, WORKSPACE_FILE)) ? findWorkspace({ dir }) : initWorkspace(dir, 'quickstart');
  say(`workspace ${workspace.root}`);
  for (const file of ['housing.csv', 'dnn.yaml', 'houses.json']) {
    if (!existsSync(join(dir, file))) copyFileSync(join(HOUSING_EXAMPLE, file), join(dir, file));
  }

  const ctx = await openContext(workspace);
  try {
    const { version: dataset, existing } = await importDataset(ctx, join(dir, 'housing.csv'), 'housing');
    say(`${existing ? 'reusing' : 'imported'} dataset housing@${dataset.version}: ${dataset.rowCount} rows, ${dataset.columns.length} columns`);

    const config = loadModelConfig(join(dir, 'dnn.yaml'));
    say(`training ${config.name}: ${config.model.family}${config.model.family === "dnn" ? ` ${config.model.hidden_units.join("x")}` : ""} on a seeded ${Math.round((1 - config.data.split.eval) * 100)}/${Math.round(config.data.split.eval * 100)} split`);
    const trained = await trainAndRegister(ctx, config, { onEpoch: options.onEpoch });
    const metrics = trained.metrics as RegressionMetrics;
    const { version } = trained;
    await promoteModelVersion(ctx, config.name, version.version, 'production', 'quickstart');
    say(`registered ${config.name}@${version.version} as production; held-out RMSE ${metrics.rmse.toFixed(3)} ($1000s) on ${trained.rows.eval} rows`);

    let server: RunningServer;
    try {
      server = await startServer(ctx, { port: options.port ?? 8501, host: options.host, preload: [config.name] });
    } catch (error) {
      // The default port may be taken (another server); any free port will do for a first look.
      if (options.port === undefined && error instanceof AtelierError && error.code === 'PORT_IN_USE') {
        server = await startServer(ctx, { port: 0, host: options.host, preload: [config.name] });
      } else throw error;
    }
    const body = JSON.parse(readFileSync(join(dir, 'houses.json'), 'utf8')) as { instances: Record<string, number>[] };
    const url = `${server.url}/v1/models/${config.name}:predict`;
    const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const answer = (await response.json()) as { predictions?: number[]; error?: string };
    if (!response.ok || !answer.predictions) {
      await server.close();
      throw new Error(`the server answered ${response.status}: ${answer.error ?? JSON.stringify(answer)}`);
    }
    const requestFile = relative(process.cwd(), join(dir, 'houses.json')) || 'houses.json';
    const result: QuickstartResult = {
      workspace: workspace.root,
      dataset: { name: dataset.dataset, version: dataset.version, rows: dataset.rowCount, contentHash: dataset.contentHash },
      model: config.name,
      version: version.version,
      alias: 'production',
      run: trained.run.id,
      metrics,
      rmse: metrics.rmse,
      url: server.url,
      request: { url, body },
      predictions: answer.predictions,
      curl: `curl -s -X POST ${url} -H 'content-type: application/json' -d @${requestFile}`,
      seconds: (performance.now() - started) / 1000,
    };
    return { result, server, ctx };
  } catch (error) {
    await ctx.store.close();
    throw error;
  }
}
