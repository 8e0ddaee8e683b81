import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { clusterMetricsText } from './cluster-metrics.js';

/** Buckets for prediction values: symmetric, from small probabilities to large targets. */
const VALUE_BUCKETS = [-1000, -100, -10, -1, 0, 0.1, 0.25, 0.5, 0.75, 0.9, 1, 2.5, 5, 10, 25, 50, 100, 250, 1000, 10000];

/**
 * prom-client's process metrics, under our prefix, less the three gauges it names with a `_total`
 * suffix (`atelier_nodejs_active_{handles,requests,resources}_total`): only counters may end in
 * _total (`promtool check metrics` refuses them). The same counts stay, by type, in
 * `atelier_nodejs_active_{handles,requests,resources}`; their sum is the total.
 */
function processMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry, prefix: 'atelier_' });
  for (const what of ['handles', 'requests', 'resources']) registry.removeSingleMetric(`atelier_nodejs_active_${what}_total`);
}

/**
 * The server's Prometheus metrics, in a registry of its own (several servers can share a
 * process, as the tests do). `/metrics` renders `render()`: this registry, or, in a worker of
 * `serve --workers N`, the sum over every worker's registry.
 */
export class ServingMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'model' | 'version' | 'api' | 'status'>;
  readonly latency: Histogram<'model' | 'version' | 'api'>;
  readonly batchSize: Histogram<'model' | 'version'>;
  readonly queueDepth: Gauge<'model' | 'version'>;
  readonly loadSeconds: Gauge<'model' | 'version'>;
  readonly predictions: Histogram<'model' | 'version'>;
  readonly anomalies: Counter<'model' | 'version' | 'feature'>;
  /** Per-request series, looked up once: prom-client hashes a label object on every call otherwise. */
  private readonly requestSeries = new Map<string, { requests: { inc(): void }; latency: { observe(v: number): void } }>();
  private readonly valueSeries = new Map<string, { observe(v: number): void }>();
  /** Read at each scrape for the queue-depth gauge (the model manager sets it). */
  queueDepths: () => { model: string; version: number; depth: number }[] = () => [];

  /** The text /metrics answers with. */
  readonly render: () => Promise<string>;

  constructor(options: { processMetrics?: boolean; cluster?: boolean } = {}) {
    const registers = [this.registry];
    this.requests = new Counter({
      name: 'atelier_requests_total',
      help: 'Inference requests by model, version, API and HTTP status.',
      labelNames: ['model', 'version', 'api', 'status'],
      registers,
    });
    this.latency = new Histogram({
      name: 'atelier_request_duration_seconds',
      help: 'Time from a request reaching the data plane to its answer, in seconds.',
      labelNames: ['model', 'version', 'api'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.batchSize = new Histogram({
      name: 'atelier_batch_size',
      help: 'Rows per model call after micro-batching.',
      labelNames: ['model', 'version'],
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
      registers,
    });
    const metrics = this;
    this.queueDepth = new Gauge({
      name: 'atelier_queue_depth',
      help: 'Requests waiting for a model call.',
      labelNames: ['model', 'version'],
      registers,
      collect() {
        this.reset();
        for (const q of metrics.queueDepths()) this.set({ model: q.model, version: String(q.version) }, q.depth);
      },
    });
    this.loadSeconds = new Gauge({
      name: 'atelier_model_load_seconds',
      help: 'Time to load and warm up a model version, in seconds.',
      labelNames: ['model', 'version'],
      registers,
      // Each worker loads every version; across workers the slowest load is the one to see.
      aggregator: 'max',
    });
    this.predictions = new Histogram({
      name: 'atelier_prediction_value',
      help: 'Predicted values (regression), or the probability of the predicted class (classifiers).',
      labelNames: ['model', 'version'],
      buckets: VALUE_BUCKETS,
      registers,
    });
    this.anomalies = new Counter({
      name: 'atelier_input_anomalies_total',
      help: 'Input values outside the training domain that were served (domain policy "accept").',
      labelNames: ['model', 'version', 'feature'],
      registers,
    });
    if (options.processMetrics !== false) processMetrics(this.registry);
    this.render = options.cluster ? clusterMetricsText(this.registry) : () => this.registry.metrics();
  }

  /** Counts one inference request and its latency. */
  observeRequest(model: string, version: string, api: string, status: string, seconds: number): void {
    const key = `${model}\u0000${version}\u0000${api}\u0000${status}`;
    let series = this.requestSeries.get(key);
    if (!series) {
      series = { requests: this.requests.labels(model, version, api, status), latency: this.latency.labels(model, version, api) };
      this.requestSeries.set(key, series);
    }
    series.requests.inc();
    series.latency.observe(seconds);
  }

  /** The histogram of predicted values of one model version. */
  predictionValues(model: string, version: string): { observe(v: number): void } {
    const key = `${model}\u0000${version}`;
    let series = this.valueSeries.get(key);
    if (!series) {
      const histogram = this.predictions.labels(model, version);
      // prom-client throws on NaN and Infinity; a model can predict them (an input of 1e39).
      series = { observe: (v: number) => Number.isFinite(v) && histogram.observe(v) };
      this.valueSeries.set(key, series);
    }
    return series;
  }
}
