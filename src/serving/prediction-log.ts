import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import type { Prediction } from '../bundle/load.js';
import type { RawColumn } from '../features/transform.js';

export interface PredictionLogOptions {
  dir: string;
  /** Fraction of requests logged, 0 to 1 (default 1). */
  sample?: number;
  /** A file is closed and a new one started past this size (default 64 MiB). */
  maxBytes?: number;
  /** Random numbers for sampling (tests pass a fixed one). */
  random?: () => number;
}

export interface LoggedRequest {
  model: string;
  version: number;
  requestId: string;
  columns: Map<string, RawColumn>;
  /** Inputs of type bool: logged as true/false, so that the import types them as training did. */
  boolInputs: ReadonlySet<string>;
  rows: number;
  predictions: Prediction[];
}

interface OpenFile {
  stream: WriteStream;
  bytes: number;
}

/** The longest string the log keeps (request ids, text features); longer ones are cut and marked. */
export const LOGGED_STRING_MAX = 512;

function bounded(text: string): string {
  return text.length <= LOGGED_STRING_MAX ? text : `${text.slice(0, LOGGED_STRING_MAX)}…(${text.length} chars)`;
}

/**
 * The prediction log: sampled requests with their answers as JSON Lines, one flat record per
 * instance (the feature columns, `prediction`, `model`, `version`, `request_id`, `time`) so that
 * `atelier data import` reads a log file as a dataset. One folder per model (its columns stay the
 * same); files rotate by size and are named by start time and process.
 */
export class PredictionLog {
  private readonly files = new Map<string, OpenFile>();
  private readonly sample: number;
  private readonly maxBytes: number;
  private readonly random: () => number;
  private sequence = 0;

  constructor(private readonly options: PredictionLogOptions) {
    this.sample = options.sample ?? 1;
    this.maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
    this.random = options.random ?? Math.random;
    mkdirSync(options.dir, { recursive: true });
  }

  /** Logs a request's rows; never throws (a log that cannot be written must not fail a prediction that succeeded). */
  record(entry: LoggedRequest): void {
    try {
      this.append(entry);
    } catch (error) {
      this.failed(error as Error);
    }
  }

  private failed(error: Error): void {
    this.failures++;
    if (this.failures === 1) process.stderr.write(`atelier: the prediction log could not be written (${error.message}); predictions are served on\n`);
  }

  /** Entries the log failed to write (also reported once on stderr). */
  failures = 0;

  private append(entry: LoggedRequest): void {
    if (this.sample < 1 && this.random() >= this.sample) return;
    // A request id or text value can be megabytes and is copied into every row: bound each.
    const requestId = bounded(entry.requestId);
    const time = new Date().toISOString();
    let text = '';
    for (let i = 0; i < entry.rows; i++) {
      const record: Record<string, unknown> = {};
      for (const [name, column] of entry.columns) {
        const v = column[i];
        record[name] =
          typeof v === 'number' && !Number.isFinite(v) ? null : entry.boolInputs.has(name) && v !== null ? v === 'true' : typeof v === 'string' ? bounded(v) : v;
      }
      const p = entry.predictions[i]!;
      if (typeof p === 'number') record.prediction = p;
      else {
        record.prediction = p.class;
        record.probability = Math.max(...p.probabilities);
      }
      record.model = entry.model;
      record.version = entry.version;
      record.request_id = requestId;
      record.time = time;
      text += JSON.stringify(record) + '\n';
    }
    this.write(entry.model, text);
  }

  private write(model: string, text: string): void {
    const bytes = Buffer.byteLength(text);
    let file = this.files.get(model);
    if (file && file.bytes > 0 && file.bytes + bytes > this.maxBytes) {
      file.stream.end();
      file = undefined;
    }
    if (!file) {
      const dir = join(this.options.dir, model);
      mkdirSync(dir, { recursive: true });
      const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
      const name = `predictions-${stamp}-${process.pid}-${String(this.sequence++).padStart(4, '0')}.jsonl`;
      const stream = createWriteStream(join(dir, name), { flags: 'a' });
      // A write that fails later (disk full) is reported, never thrown into the server.
      stream.on('error', (error) => this.failed(error));
      file = { stream, bytes: 0 };
      this.files.set(model, file);
    }
    file.bytes += bytes;
    file.stream.write(text);
  }

  async close(): Promise<void> {
    const open = [...this.files.values()];
    this.files.clear();
    await Promise.all(
      open.map(async (f) => {
        f.stream.end();
        await once(f.stream, 'finish');
      }),
    );
  }
}
