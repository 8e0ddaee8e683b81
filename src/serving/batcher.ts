import { AtelierError } from '../core/errors.js';
import type { RawColumn } from '../features/transform.js';

export interface BatchOptions {
  /** Most rows in one model call; a larger request runs alone. */
  maxBatch: number;
  /** Longest a request waits for others to join its batch, in microseconds (0: the next turn of the event loop). */
  waitUs: number;
  /** Most requests waiting; one more is refused with QUEUE_FULL (HTTP 429). */
  queueMax: number;
}

// waitUs 0: a batch takes what arrived in the same turn of the event loop. A 500 us timer (a 1 ms one in
// Node) cost every request at moderate load a millisecond and bought no throughput (docs/benchmarks.md).
export const DEFAULT_BATCH: BatchOptions = { maxBatch: 64, waitUs: 0, queueMax: 1024 };

interface Item {
  columns: Map<string, RawColumn>;
  rows: number;
  resolve(outputs: Float64Array): void;
  reject(error: unknown): void;
  cancelled: boolean;
}

export interface Ticket {
  result: Promise<Float64Array>;
  /** Drops the request if it has not reached the model yet (a timed-out client). */
  cancel(): void;
}

function concatColumns(items: Item[], total: number): Map<string, RawColumn> {
  if (items.length === 1) return items[0]!.columns;
  const out = new Map<string, RawColumn>();
  for (const name of items[0]!.columns.keys()) {
    const first = items[0]!.columns.get(name)!;
    if (first instanceof Float64Array) {
      const values = new Float64Array(total);
      let at = 0;
      for (const item of items) {
        values.set(item.columns.get(name) as Float64Array, at);
        at += item.rows;
      }
      out.set(name, values);
    } else {
      out.set(name, items.flatMap((item) => item.columns.get(name) as (string | null)[]));
    }
  }
  return out;
}

/**
 * Adaptive micro-batching for one model version: concurrent requests are joined into one model
 * call. A batch runs when it reaches `maxBatch` rows or its first request has waited `waitUs`;
 * while a batch runs, arrivals queue, so batches grow with load and stay at one request when idle.
 */
export class Batcher {
  private readonly queue: Item[] = [];
  private queuedRows = 0;
  private running = false;
  private timer: NodeJS.Timeout | NodeJS.Immediate | undefined;

  constructor(
    private readonly run: (columns: Map<string, RawColumn>, rows: number) => Promise<Float64Array>,
    private readonly width: number,
    private readonly options: BatchOptions,
    private readonly onBatch: (rows: number) => void = () => {},
  ) {}

  /** Requests waiting for the model. */
  get depth(): number {
    return this.queue.length;
  }

  submit(columns: Map<string, RawColumn>, rows: number): Ticket {
    if (this.queue.length >= this.options.queueMax) {
      throw new AtelierError('QUEUE_FULL', `the queue of this model is full (${this.options.queueMax} requests waiting); retry later`);
    }
    let item!: Item;
    const result = new Promise<Float64Array>((resolve, reject) => {
      item = { columns, rows, resolve, reject, cancelled: false };
    });
    this.queue.push(item);
    this.queuedRows += rows;
    this.schedule();
    return { result, cancel: () => (item.cancelled = true) };
  }

  private schedule(): void {
    if (this.running || this.queue.length === 0) return;
    if (this.queuedRows >= this.options.maxBatch) {
      this.clearTimer();
      void this.flush();
    } else if (!this.timer) {
      const fire = () => {
        this.timer = undefined;
        void this.flush();
      };
      this.timer = this.options.waitUs <= 0 ? setImmediate(fire) : setTimeout(fire, this.options.waitUs / 1000);
    }
  }

  private clearTimer(): void {
    if (!this.timer) return;
    if (this.options.waitUs <= 0) clearImmediate(this.timer as NodeJS.Immediate);
    else clearTimeout(this.timer as NodeJS.Timeout);
    this.timer = undefined;
  }

  private async flush(): Promise<void> {
    if (this.running) return;
    const batch: Item[] = [];
    let rows = 0;
    while (this.queue.length > 0) {
      const next = this.queue[0]!;
      if (batch.length > 0 && rows + next.rows > this.options.maxBatch) break;
      this.queue.shift();
      this.queuedRows -= next.rows;
      if (next.cancelled) continue;
      batch.push(next);
      rows += next.rows;
    }
    if (batch.length === 0) return this.schedule();
    this.running = true;
    try {
      this.onBatch(rows);
      const outputs = await this.run(concatColumns(batch, rows), rows);
      let at = 0;
      for (const item of batch) {
        item.resolve(outputs.slice(at * this.width, (at + item.rows) * this.width));
        at += item.rows;
      }
    } catch (error) {
      for (const item of batch) item.reject(error);
    } finally {
      this.running = false;
      this.schedule();
    }
  }

  /** Refuses what is still queued (the version is gone). */
  close(): void {
    this.clearTimer();
    for (const item of this.queue.splice(0)) item.reject(new AtelierError('MODEL_NOT_READY', 'the model version was unloaded; retry'));
    this.queuedRows = 0;
  }
}
