import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { AtelierError } from '../core/errors.js';
import { rowsToColumns, transformColumns, TRANSFORM_FORMAT_VERSIONS, type FittedTransform, type RawColumn } from '../features/transform.js';
import type { PredictOptions, TrainedModel } from '../models/family.js';
import { modelFamily } from '../models/registry.js';
import { verifyBundle, type BundleManifest } from './format.js';

/** A classifier's answer for one row: the most likely class and every class's probability. */
export interface ClassPrediction {
  class: string;
  probabilities: number[];
}

/** A number for regression, a class with probabilities for classifiers. */
export type Prediction = number | ClassPrediction;

/** A loaded bundle: everything needed to answer predictions, with no metadata store. */
export interface LoadedBundle {
  readonly dir: string;
  readonly manifest: BundleManifest;
  readonly transform: FittedTransform;
  /** Values per row of `predictColumns`: 1, or the number of classes. */
  readonly outputWidth: number;
  /** Raw rows (objects keyed by feature name) in, one prediction per row out. */
  predict(rows: unknown[]): Promise<Prediction[]>;
  /** Raw feature columns in (batch and evaluation paths); row-major model outputs out. */
  predictColumns(columns: Map<string, RawColumn>, rows: number, options?: PredictOptions): Promise<Float64Array>;
  /** The same, synchronously (inside a DuckDB scalar function). */
  predictColumnsSync(columns: Map<string, RawColumn>, rows: number, options?: PredictOptions): Float64Array;
  /** Turns row-major model outputs into predictions (numbers, or classes with probabilities). */
  toPredictions(outputs: Float64Array, rows: number): Prediction[];
  dispose(): void;
}

class Bundle implements LoadedBundle {
  constructor(
    readonly dir: string,
    readonly manifest: BundleManifest,
    readonly transform: FittedTransform,
    private readonly model: TrainedModel,
  ) {}

  get outputWidth(): number {
    return this.model.outputWidth;
  }

  async predict(rows: unknown[]): Promise<Prediction[]> {
    return this.toPredictions(await this.predictColumns(rowsToColumns(this.transform, rows), rows.length), rows.length);
  }

  toPredictions(outputs: Float64Array, rows: number): Prediction[] {
    const classes = this.manifest.classes;
    if (!classes) {
      const out = new Array<number>(rows);
      for (let i = 0; i < rows; i++) out[i] = outputs[i]!;
      return out;
    }
    const width = this.model.outputWidth;
    const out: ClassPrediction[] = new Array(rows);
    for (let i = 0; i < rows; i++) {
      const probabilities = width === 1 ? [1 - outputs[i]!, outputs[i]!] : Array.from(outputs.subarray(i * width, (i + 1) * width));
      let best = 0;
      for (let k = 1; k < probabilities.length; k++) if (probabilities[k]! > probabilities[best]!) best = k;
      out[i] = { class: classes[best]!, probabilities };
    }
    return out;
  }

  async predictColumns(columns: Map<string, RawColumn>, rows: number, options?: PredictOptions): Promise<Float64Array> {
    return this.predictColumnsSync(columns, rows, options);
  }

  predictColumnsSync(columns: Map<string, RawColumn>, rows: number, options?: PredictOptions): Float64Array {
    if (rows === 0) return new Float64Array(0);
    return this.model.predict(transformColumns(this.transform, columns, rows), options);
  }

  dispose(): void {
    this.model.dispose();
  }
}

/** Loads a bundle folder after checking every file against the hashes in bundle.json. */
export async function loadBundle(uri: string): Promise<LoadedBundle> {
  const dir = resolve(uri.startsWith('file://') ? uri.slice('file://'.length) : uri);
  const manifest = verifyBundle(dir);
  const transform = JSON.parse(readFileSync(join(dir, 'transform.json'), 'utf8')) as FittedTransform;
  if (!TRANSFORM_FORMAT_VERSIONS.includes(transform.formatVersion)) {
    throw new AtelierError(
      'BUNDLE_INVALID',
      `bundle ${dir}: transform.json has format ${String(transform.formatVersion)}; this Atelier reads ${TRANSFORM_FORMAT_VERSIONS.join(', ')}`,
      { file: join(dir, 'transform.json'), expected: TRANSFORM_FORMAT_VERSIONS.join(' or '), got: String(transform.formatVersion) },
    );
  }
  let model: TrainedModel;
  try {
    model = await modelFamily(manifest.family).load(join(dir, 'model'));
  } catch (error) {
    throw new AtelierError('BUNDLE_INVALID', `bundle ${dir}: the ${manifest.family} model cannot be loaded: ${(error as Error).message}`, {
      file: dir,
    });
  }
  return new Bundle(dir, manifest, transform, model);
}
