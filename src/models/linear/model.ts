import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { AtelierError } from '../../core/errors.js';
import type { Matrix } from '../../features/transform.js';
import type { Task, TrainedModel } from '../family.js';
import { sigmoid } from './logistic.js';

export const MODEL_FILE = 'linear.json';

/** What a fit records besides the coefficients: the penalties used and how the solver ended. */
export interface LinearFitInfo {
  l1: number;
  l2: number;
  fitIntercept: boolean;
  solver: string;
  iterations: number;
  converged: boolean;
}

/** model/linear.json. Coefficients are one row per output; numbers are written exactly (JSON doubles). */
export interface LinearModelJSON {
  format: 'atelier-linear';
  formatVersion: 1;
  task: Task;
  /** Classes (2 for binary); 0 for regression. */
  numClasses: number;
  features: number;
  outputs: number;
  intercepts: number[];
  coefficients: number[][];
  fit: LinearFitInfo;
}

export interface LinearCoefficients {
  outputs: number;
  features: number;
  /** outputs × features, row-major: the coefficients of output k are [k·features, (k+1)·features). */
  weights: Float64Array;
  intercepts: Float64Array;
}

export class LinearModel implements TrainedModel {
  readonly family = 'linear';
  readonly outputWidth: number;

  constructor(
    readonly task: Task,
    readonly numClasses: number,
    readonly features: number,
    private readonly weights: Float64Array,
    private readonly intercepts: Float64Array,
    readonly fit: LinearFitInfo,
  ) {
    this.outputWidth = intercepts.length;
    if (weights.length !== this.outputWidth * features) throw new Error(`linear model: ${weights.length} coefficients for ${this.outputWidth}×${features}`);
  }

  /** A copy of the learned coefficients and intercepts (in the standardized feature space). */
  coefficients(): LinearCoefficients {
    return { outputs: this.outputWidth, features: this.features, weights: this.weights.slice(), intercepts: this.intercepts.slice() };
  }

  predict(x: Matrix): Float64Array {
    const p = this.features;
    if (x.cols !== p) throw new AtelierError('INPUT_INVALID', `the linear model expects ${p} features, got ${x.cols}`, { expected: String(p), got: String(x.cols) });
    const k = this.outputWidth;
    const out = new Float64Array(x.rows * k);
    const { data } = x;
    for (let i = 0; i < x.rows; i++) {
      const base = i * p;
      for (let c = 0; c < k; c++) {
        let z = this.intercepts[c]!;
        const wc = c * p;
        for (let j = 0; j < p; j++) z += this.weights[wc + j]! * data[base + j]!;
        out[i * k + c] = z;
      }
      if (this.task === 'binary') out[i] = sigmoid(out[i]!);
      else if (this.task === 'multiclass') {
        const o = i * k;
        let top = Number.NEGATIVE_INFINITY;
        for (let c = 0; c < k; c++) top = Math.max(top, out[o + c]!);
        let sum = 0;
        for (let c = 0; c < k; c++) {
          const e = Math.exp(out[o + c]! - top);
          out[o + c] = e;
          sum += e;
        }
        for (let c = 0; c < k; c++) out[o + c] /= sum;
      }
    }
    return out;
  }

  toJSON(): LinearModelJSON {
    const coefficients: number[][] = [];
    for (let c = 0; c < this.outputWidth; c++) coefficients.push(Array.from(this.weights.subarray(c * this.features, (c + 1) * this.features)));
    return {
      format: 'atelier-linear',
      formatVersion: 1,
      task: this.task,
      numClasses: this.numClasses,
      features: this.features,
      outputs: this.outputWidth,
      intercepts: Array.from(this.intercepts),
      coefficients,
      fit: this.fit,
    };
  }

  static fromJSON(json: LinearModelJSON, file = MODEL_FILE): LinearModel {
    const bad = (why: string) => new AtelierError('BUNDLE_INVALID', `${file}: ${why}`, { file });
    if (json?.format !== 'atelier-linear' || json.formatVersion !== 1) throw bad('not an atelier-linear model (format version 1)');
    if (!['regression', 'binary', 'multiclass'].includes(json.task)) throw bad(`unknown task "${json.task}"`);
    const outputs = json.task === 'multiclass' ? json.numClasses : 1;
    if (json.outputs !== outputs || json.intercepts?.length !== outputs || json.coefficients?.length !== outputs) throw bad('output count does not match the task');
    if (json.coefficients.some((row) => row.length !== json.features)) throw bad(`every coefficient row must have ${json.features} entries`);
    const weights = new Float64Array(outputs * json.features);
    json.coefficients.forEach((row, c) => weights.set(row, c * json.features));
    return new LinearModel(json.task, json.numClasses, json.features, weights, Float64Array.from(json.intercepts), json.fit);
  }

  async save(dir: string): Promise<void> {
    writeFileSync(join(dir, MODEL_FILE), JSON.stringify(this.toJSON()));
  }

  static load(dir: string): LinearModel {
    const file = join(dir, MODEL_FILE);
    if (!existsSync(file)) throw new AtelierError('BUNDLE_INVALID', `${file}: missing`, { file });
    return LinearModel.fromJSON(JSON.parse(readFileSync(file, 'utf8')) as LinearModelJSON, file);
  }

  parameterSummary(): Record<string, unknown> {
    let nonzero = 0;
    let l1Norm = 0;
    let squares = 0;
    let maxAbs = 0;
    for (const w of this.weights) {
      if (w !== 0) nonzero++;
      l1Norm += Math.abs(w);
      squares += w * w;
      maxAbs = Math.max(maxAbs, Math.abs(w));
    }
    return {
      parameters: this.weights.length + (this.fit.fitIntercept ? this.outputWidth : 0),
      coefficients: this.weights.length,
      intercepts: this.fit.fitIntercept ? this.outputWidth : 0,
      shape: [this.outputWidth, this.features],
      nonzero,
      l1_norm: l1Norm,
      l2_norm: Math.sqrt(squares),
      max_abs: maxAbs,
      ...this.fit,
    };
  }

  dispose(): void {}
}
