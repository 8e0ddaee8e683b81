import type * as TF from '@tensorflow/tfjs';

/**
 * Inference for plain dense networks in JavaScript on Float32Arrays, for small batches.
 *
 * Why: one `tf.tidy` + `model.predict` + `dataSync` on the wasm backend costs tens of
 * microseconds of per-op overhead (a tensor per layer, kernel dispatch, a copy out of the wasm
 * heap) however small the batch, while a single row of a housing-sized net (12-64-32-1) is about
 * 3,000 multiply-adds: a few microseconds in a plain loop. Large batches stay on TF.js, whose
 * XNNPACK matmul is faster per row (see `DnnModel.predict`).
 *
 * The arithmetic is TF.js's: float32 weights, each layer's output rounded to float32 (it is
 * stored in a Float32Array), sums accumulated in doubles. Answers agree with `model.predict` to
 * float32 rounding (a test pins 1e-6).
 */

type Activation = 'linear' | 'relu' | 'elu' | 'selu' | 'sigmoid' | 'tanh' | 'softmax';
const ACTIVATIONS = new Set<string>(['linear', 'relu', 'elu', 'selu', 'sigmoid', 'tanh', 'softmax']);
/** TF.js's selu constants. */
const SELU_ALPHA = 1.6732632423543772848170429916717;
const SELU_SCALE = 1.0507009873554804934193349852946;

/** y = act(x K + b); `kernelT` is K transposed, row-major [units, inputs]: one unit's weights are contiguous. */
interface DenseStep {
  kind: 'dense';
  inputs: number;
  units: number;
  kernelT: Float32Array;
  bias: Float32Array;
  activation: Activation;
}

/** Batch normalization at inference, folded: y = x * scale + shift. */
interface AffineStep {
  kind: 'affine';
  units: number;
  scale: Float32Array;
  shift: Float32Array;
}

type Step = DenseStep | AffineStep;

interface LayerLike {
  getClassName(): string;
  getConfig(): Record<string, unknown>;
  getWeights(): TF.Tensor[];
}

function copyOf(t: TF.Tensor): Float32Array {
  return Float32Array.from(t.dataSync() as Float32Array);
}

export class DenseForward {
  private constructor(
    private readonly steps: Step[],
    readonly inputs: number,
    readonly outputs: number,
    private readonly widest: number,
  ) {}

  /**
   * The network's weights copied out of TF.js, or undefined when a layer is not one this path
   * knows (Dense with linear, relu, elu, selu, sigmoid, tanh or softmax; Dropout, an identity at inference;
   * BatchNormalization over the last axis with its moving statistics).
   */
  static from(network: TF.LayersModel): DenseForward | undefined {
    const steps: Step[] = [];
    let width = 0;
    let widest = 0;
    for (const layer of network.layers as unknown as LayerLike[]) {
      const config = layer.getConfig();
      const kind = layer.getClassName();
      if (kind === 'Dropout') continue;
      if (kind === 'Dense') {
        const activation = String(config['activation']);
        if (!ACTIVATIONS.has(activation)) return undefined;
        const [k, b] = layer.getWeights();
        if (!k || k.shape.length !== 2) return undefined;
        const [inputs, units] = k.shape as [number, number];
        if (width !== 0 && inputs !== width) return undefined;
        const bias = config['useBias'] === false || !b ? new Float32Array(units) : copyOf(b);
        const kernel = k.dataSync() as Float32Array;
        const kernelT = new Float32Array(inputs * units);
        for (let i = 0; i < inputs; i++) for (let j = 0; j < units; j++) kernelT[j * inputs + i] = kernel[i * units + j]!;
        steps.push({ kind: 'dense', inputs, units, kernelT, bias, activation: activation as Activation });
        if (width === 0) width = inputs;
        width = units;
        widest = Math.max(widest, units);
        continue;
      }
      if (kind === 'BatchNormalization') {
        const axis = config['axis'];
        if (!(axis === -1 || (Array.isArray(axis) && axis.length === 1 && axis[0] === -1))) return undefined;
        if (config['center'] === false || config['scale'] === false || width === 0) return undefined;
        const [gamma, beta, mean, variance] = layer.getWeights().map(copyOf);
        if (!gamma || !beta || !mean || !variance || gamma.length !== width) return undefined;
        const epsilon = Number(config['epsilon'] ?? 1e-3);
        const scale = new Float32Array(width);
        const shift = new Float32Array(width);
        for (let j = 0; j < width; j++) {
          scale[j] = gamma[j]! / Math.sqrt(variance[j]! + epsilon);
          shift[j] = beta[j]! - mean[j]! * scale[j]!;
        }
        steps.push({ kind: 'affine', units: width, scale, shift });
        continue;
      }
      return undefined;
    }
    const first = steps[0];
    if (!first || first.kind !== 'dense') return undefined;
    return new DenseForward(steps, first.inputs, width, widest);
  }

  /** Rows of `x` (row-major, `inputs` values each) through the network: `rows * outputs` values. */
  predict(x: Float32Array | Float64Array, rows: number): Float32Array {
    const out = new Float32Array(rows * this.outputs);
    const size = Math.max(this.widest, this.inputs);
    // Every step reads and writes Float32Arrays only (one element kind keeps the loops monomorphic).
    const row = new Float32Array(this.inputs);
    let a = new Float32Array(size);
    let b = new Float32Array(size);
    const acc = new Float64Array(size);
    const last = this.steps.length - 1;
    for (let r = 0; r < rows; r++) {
      const from = r * this.inputs;
      for (let i = 0; i < this.inputs; i++) row[i] = x[from + i]!;
      let input = row;
      for (let s = 0; s <= last; s++) {
        const step = this.steps[s]!;
        const target = s === last ? out : a;
        const at = s === last ? r * this.outputs : 0;
        if (step.kind === 'dense') dense(step, input, acc, target, at);
        else affine(step, input, target, at);
        input = a;
        a = b;
        b = input;
      }
    }
    return out;
  }
}

function dense(step: DenseStep, x: Float32Array, acc: Float64Array, out: Float32Array, at: number): void {
  const { inputs, units, kernelT, bias } = step;
  // One dot product per unit, summed in a local (two partial sums for instruction-level parallelism).
  const even = inputs & ~1;
  for (let j = 0, w = 0; j < units; j++, w += inputs) {
    let s0 = 0;
    let s1 = 0;
    let i = 0;
    for (; i < even; i += 2) {
      s0 += x[i]! * kernelT[w + i]!;
      s1 += x[i + 1]! * kernelT[w + i + 1]!;
    }
    if (i < inputs) s0 += x[i]! * kernelT[w + i]!;
    acc[j] = s0 + s1 + bias[j]!;
  }
  switch (step.activation) {
    case 'relu':
      for (let j = 0; j < units; j++) out[at + j] = acc[j]! > 0 ? acc[j]! : 0;
      break;
    case 'elu':
      for (let j = 0; j < units; j++) {
        const v = Math.fround(acc[j]!);
        out[at + j] = v > 0 ? v : Math.expm1(v);
      }
      break;
    case 'selu':
      for (let j = 0; j < units; j++) {
        const v = Math.fround(acc[j]!);
        out[at + j] = v > 0 ? SELU_SCALE * v : SELU_SCALE * SELU_ALPHA * Math.expm1(v);
      }
      break;
    case 'sigmoid':
      for (let j = 0; j < units; j++) out[at + j] = 1 / (1 + Math.exp(-Math.fround(acc[j]!)));
      break;
    case 'tanh':
      for (let j = 0; j < units; j++) out[at + j] = Math.tanh(Math.fround(acc[j]!));
      break;
    case 'softmax': {
      let max = Number.NEGATIVE_INFINITY;
      for (let j = 0; j < units; j++) max = Math.max(max, Math.fround(acc[j]!));
      let sum = 0;
      for (let j = 0; j < units; j++) sum += acc[j] = Math.exp(Math.fround(acc[j]!) - max);
      for (let j = 0; j < units; j++) out[at + j] = acc[j]! / sum;
      break;
    }
    default:
      for (let j = 0; j < units; j++) out[at + j] = acc[j]!;
  }
}

function affine(step: AffineStep, x: Float32Array, out: Float32Array, at: number): void {
  for (let j = 0; j < step.units; j++) out[at + j] = x[j]! * step.scale[j]! + step.shift[j]!;
}
