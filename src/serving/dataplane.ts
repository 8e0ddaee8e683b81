import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { AtelierError, isAtelierError } from '../core/errors.js';
import type { LoadedBundle, Prediction } from '../bundle/load.js';
import type { BundleManifest } from '../bundle/format.js';
import type { RawColumn } from '../features/transform.js';
import { checkInputs } from './input-check.js';
import type { ServingMetrics } from './metrics.js';
import type { ModelManager, ModelTarget, ServedVersion, VersionState } from './model-manager.js';
import type { PredictionLog } from './prediction-log.js';

export type { ModelTarget } from './model-manager.js';

/** Which protocol call a request came through (a metrics label). */
export type Api = 'predict' | 'classify' | 'regress' | 'infer';

export interface InferRequest {
  api: Api;
  requestId?: string;
  /** Turns the protocol's body into rows keyed by input name, knowing the version's bundle. */
  decode(bundle: LoadedBundle): unknown[];
}

export interface InferResult {
  model: string;
  version: number;
  requestId: string;
  bundle: LoadedBundle;
  /** Row-major model outputs, `bundle.outputWidth` per row. */
  outputs: Float64Array;
  predictions: Prediction[];
}

export interface DataPlaneOptions {
  /** Longest a request may wait for its answer, in milliseconds (default 30000). */
  timeoutMs?: number;
  metrics?: ServingMetrics;
  log?: PredictionLog;
}

const PACKAGE_VERSION = (() => {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
})();

/**
 * The data plane: protocol-free model access (liveness, readiness, status, metadata, inference).
 * The TF Serving and Open Inference v2 routes only translate shapes and call this; metrics, input
 * checks, batching, timeouts and the prediction log all happen here, once.
 */
export class DataPlane {
  constructor(
    readonly manager: ModelManager,
    private readonly options: DataPlaneOptions = {},
  ) {}

  live(): boolean {
    return true;
  }

  ready(): boolean {
    return this.manager.ready();
  }

  serverMetadata(): { name: string; version: string; extensions: string[] } {
    return { name: 'atelier', version: PACKAGE_VERSION, extensions: [] };
  }

  status(target: ModelTarget): { version: number; state: VersionState; error?: AtelierError }[] {
    return this.manager.status(target).map((s) => ({ version: s.version, state: s.state, ...(s.error ? { error: s.error } : {}) }));
  }

  /** The signature of the version a target names (loading it if need be: 503 until loaded). */
  metadata(target: ModelTarget): { model: string; version: number; versions: number[]; manifest: BundleManifest } {
    const served = this.hold(target);
    try {
      return { model: served.model, version: served.version, versions: this.manager.available(served.model), manifest: served.bundle.manifest };
    } finally {
      served.release();
    }
  }

  modelReady(target: ModelTarget): boolean {
    return this.manager.peek(target) !== undefined;
  }

  private hold(target: ModelTarget): ServedVersion {
    return this.manager.acquire(target);
  }

  async infer(target: ModelTarget, request: InferRequest): Promise<InferResult> {
    const started = performance.now();
    const metrics = this.options.metrics;
    const labels = { model: target.model, version: '', api: request.api };
    let status = 200;
    try {
      const served = this.hold(target);
      labels.version = String(served.version);
      try {
        return await this.run(served, request);
      } finally {
        served.release();
      }
    } catch (error) {
      status = isAtelierError(error) ? error.status : 500;
      // A name the server does not serve is the client's text: counted under model "" so that
      // requests for made-up names cannot create series without bound.
      if (isAtelierError(error) && error.code === 'MODEL_NOT_FOUND') labels.model = '';
      // A version still loading is named by the error: its 503s count under that version.
      if (isAtelierError(error) && error.code === 'MODEL_NOT_READY' && typeof error.facts.version === 'number') labels.version = String(error.facts.version);
      throw error;
    } finally {
      metrics?.observeRequest(labels.model, labels.version, labels.api, String(status), (performance.now() - started) / 1000);
    }
  }

  private async run(served: ServedVersion, request: InferRequest): Promise<InferResult> {
    const { bundle } = served;
    const rows = request.decode(bundle);
    const checked = checkInputs(bundle, served.domains, served.policy, rows);
    if (!checked.ok) {
      const first = checked.issues[0]!;
      throw new AtelierError('INPUT_INVALID', first.message, { row: first.instance, feature: first.feature, issues: checked.issues.length });
    }
    const { columns, anomalies } = checked.value;
    const labels = { model: served.model, version: String(served.version) };
    for (const a of anomalies) this.options.metrics?.anomalies.inc({ ...labels, feature: a.feature ?? '' });
    const outputs = await this.predict(served, columns, rows.length);
    const predictions = bundle.toPredictions(outputs, rows.length);
    const requestId = request.requestId ?? randomUUID();
    const histogram = this.options.metrics?.predictionValues(labels.model, labels.version);
    if (histogram) for (const p of predictions) histogram.observe(typeof p === 'number' ? p : Math.max(...p.probabilities));
    this.options.log?.record({ model: served.model, version: served.version, requestId, columns, boolInputs: served.domains.bools, rows: rows.length, predictions });
    return { model: served.model, version: served.version, requestId, bundle, outputs, predictions };
  }

  private async predict(served: ServedVersion, columns: Map<string, RawColumn>, rows: number): Promise<Float64Array> {
    if (rows === 0) return new Float64Array(0);
    const ticket = served.batcher.submit(columns, rows);
    const timeoutMs = this.options.timeoutMs ?? 30_000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        ticket.cancel();
        reject(new AtelierError('REQUEST_TIMEOUT', `no answer within ${timeoutMs} ms`, { timeoutMs }));
      }, timeoutMs);
    });
    try {
      return await Promise.race([ticket.result, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    this.manager.close();
    await this.options.log?.close();
  }
}
