import cluster from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';

/**
 * Prometheus across `atelier serve --workers N`. The workers share one port, so a scrape lands on
 * whichever worker the kernel picks; each worker's /metrics therefore asks the primary, which
 * gathers every worker's registry (prom-client's cluster aggregator: counters and histograms
 * summed, gauges by the aggregator each declares) and answers with the whole server.
 *
 *   worker /metrics --atelier:metrics--> primary --prom-client:getMetricsReq--> every worker
 */

const REQUEST = 'atelier:metrics';
const ANSWER = 'atelier:metrics-answer';
/** prom-client gives up on a silent worker after 5 s; past this, the primary itself is not answering. */
const ANSWER_TIMEOUT_MS = 10_000;

interface MetricsRequest {
  type: typeof REQUEST;
  id: number;
}
interface MetricsAnswer {
  type: typeof ANSWER;
  id: number;
  text?: string;
  error?: string;
}

const isRequest = (m: unknown): m is MetricsRequest => (m as MetricsRequest | null)?.type === REQUEST;
const isAnswer = (m: unknown): m is MetricsAnswer => (m as MetricsAnswer | null)?.type === ANSWER;

/** In the primary: answers the workers' requests for the whole server's metrics. */
export function aggregateWorkerMetrics(): void {
  const aggregator = new AggregatorRegistry();
  cluster.on('message', (worker, message: unknown) => {
    if (!isRequest(message)) return;
    aggregator.clusterMetrics().then(
      (text) => worker.isConnected() && worker.send({ type: ANSWER, id: message.id, text } satisfies MetricsAnswer),
      (error: Error) => worker.isConnected() && worker.send({ type: ANSWER, id: message.id, error: error.message } satisfies MetricsAnswer),
    );
  });
}

/**
 * In a worker: offers `registry` to the primary's aggregation and returns what /metrics renders,
 * the metrics of every worker.
 */
export function clusterMetricsText(registry: Registry): () => Promise<string> {
  // The constructor installs prom-client's worker-side listener that answers the primary.
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([registry]);
  const pending = new Map<number, { resolve(text: string): void; reject(error: Error): void }>();
  let next = 0;
  process.on('message', (message: unknown) => {
    if (!isAnswer(message)) return;
    const waiter = pending.get(message.id);
    pending.delete(message.id);
    if (message.error !== undefined) waiter?.reject(new Error(`metrics of the other server workers: ${message.error}`));
    else waiter?.resolve(message.text ?? '');
  });
  return () =>
    new Promise<string>((resolve, reject) => {
      const id = next++;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`the serve primary process did not answer a metrics request within ${ANSWER_TIMEOUT_MS / 1000} s`));
      }, ANSWER_TIMEOUT_MS);
      const settle = <T>(done: (value: T) => void) => (value: T) => {
        clearTimeout(timer);
        done(value);
      };
      pending.set(id, { resolve: settle(resolve), reject: settle(reject) });
      process.send!({ type: REQUEST, id } satisfies MetricsRequest);
    });
}
