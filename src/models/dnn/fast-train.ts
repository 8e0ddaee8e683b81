import type * as TF from '@tensorflow/tfjs';
import type { DenseHead } from './wasm-layout.js';

/**
 * A purpose-built training step for plain dense regression nets (Dense layers with relu or linear
 * activation, a linear output, mean squared error, Adam) on TF.js's wasm backend. Training now
 * runs these nets on our own kernel (wasm-train.ts); this path stays as the reference that kernel
 * is tested against and as bench/dnn.ts's comparison. fastPathUnsupported and the layer
 * read/write helpers here serve both.
 *
 * Why not `network.trainOnBatch`: the layers path records a tape, runs ~10 tf ops per weight for
 * Adam and, above all, computes the weight gradients with transposed matmuls, which the wasm
 * backend (4.22) runs in a scalar C++ loop (`slow_batch_matmul`) instead of XNNPACK: only
 * `matMul(a, b)` with neither operand transposed reaches XNNPACK.
 *
 * Here: forward with `tf.fused.matMul` (bias and relu fused), backward by hand with
 * non-transposed matmuls only (the activations transposed explicitly), the relu mask, the bias
 * gradients and the loss computed in JS on views of the wasm heap, and Adam in JS on Float32Array
 * master copies of the weights (the same formula as `tf.train.adam`).
 *
 * The weights are uploaded as fresh tensors every step and never mutated in place: the wasm
 * backend caches XNNPACK operators (with packed weights) by the id of the `b` tensor, so writing
 * into a tensor it has seen as weights would run on stale packed values.
 *
 * The layers model itself is only touched by `syncToNetwork()` (setWeights), so the saved
 * model.json/weights.bin stay exactly the layers format.
 */

interface WasmHeapBackend {
  typedArrayFromHeap(t: { shape: number[]; dtype: string; dataId: unknown }): Float32Array;
}

/** One dense layer's weights as the gradient code reads them. */
export interface DenseWeights {
  inputs: number;
  units: number;
  relu: boolean;
  kernel: Float32Array;
  bias: Float32Array;
  /** Kernel transposed ([units, inputs]), kept up to date for the backward matmul. */
  kernelT: Float32Array;
}

/** A layer's gradient, written by denseGradients. */
export interface DenseGradient {
  kernel: Float32Array;
  bias: Float32Array;
}

interface DenseState extends DenseWeights {
  mKernel: Float32Array;
  vKernel: Float32Array;
  mBias: Float32Array;
  vBias: Float32Array;
}

export type Elementwise = 'js' | 'tf';

/** Room for the activation transposes of the 'js' path, reused across steps (calls are synchronous). */
let scratch = new Float32Array(0);

function transposeScratch(n: number): Float32Array {
  if (scratch.length < n) scratch = new Float32Array(n);
  return scratch.subarray(0, n);
}

/**
 * Gradients of the batch's mean squared error over `total` rows, from the `count` rows given
 * (`xs` row-major [count, inputs], `ys` [count, outputs], already scaled): with `total` the whole
 * batch, gradients of two halves add up to the batch's. Writes `grads`; returns the rows' sum of
 * squared errors.
 */
export function denseGradients(
  tf: typeof TF,
  layers: DenseWeights[],
  xs: Float32Array,
  ys: Float32Array,
  count: number,
  total: number,
  elementwise: Elementwise,
  grads: DenseGradient[],
): number {
  const heap = tf.backend() as unknown as WasmHeapBackend;
  const depth = layers.length;
  const inputs = layers[0]!.inputs;
  const outputs = layers[depth - 1]!.units;
  let squared = 0;
  tf.tidy(() => {
    const x = tf.tensor2d(xs.subarray(0, count * inputs), [count, inputs]);
    const acts: TF.Tensor[] = [x];
    for (const layer of layers) {
      const w = tf.tensor2d(layer.kernel, [layer.inputs, layer.units]);
      const b = tf.tensor1d(layer.bias);
      acts.push(tf.fused.matMul({ a: acts[acts.length - 1]!, b: w, bias: b, activation: layer.relu ? 'relu' : 'linear' }));
    }
    // d(loss)/d(output) for the mean over the batch's rows and outputs of (out - y)^2.
    const out = heap.typedArrayFromHeap(acts[depth]!);
    const d = new Float32Array(count * outputs);
    const scale = 2 / (total * outputs);
    for (let i = 0; i < count * outputs; i++) {
      const e = out[i]! - ys[i]!;
      squared += e * e;
      d[i] = e * scale;
    }
    let dz: TF.Tensor = tf.tensor2d(d, [count, outputs]);
    for (let l = depth - 1; l >= 0; l--) {
      const layer = layers[l]!;
      const a = acts[l]!;
      // Weight gradient a^T dz, with a transposed explicitly so the matmul runs on XNNPACK.
      let aT: TF.Tensor;
      if (elementwise === 'tf') aT = tf.transpose(a);
      else aT = tf.tensor2d(transposeInto(heap.typedArrayFromHeap(a), count, layer.inputs, transposeScratch(count * layer.inputs)), [layer.inputs, count]);
      grads[l]!.kernel.set(heap.typedArrayFromHeap(tf.matMul(aT, dz)));
      const gb = grads[l]!.bias;
      if (elementwise === 'tf') gb.set(tf.sum(dz, 0).dataSync() as Float32Array);
      else {
        gb.fill(0);
        const dv = heap.typedArrayFromHeap(dz);
        for (let r = 0; r < count; r++) {
          const o = r * layer.units;
          for (let c = 0; c < layer.units; c++) gb[c]! += dv[o + c]!;
        }
      }
      if (l > 0) {
        // Gradient into the previous activation: dz W^T (W^T kept in JS), times relu'(a).
        const dh = tf.matMul(dz, tf.tensor2d(layer.kernelT, [layer.units, layer.inputs]));
        const relu = layers[l - 1]!.relu;
        if (!relu) dz = dh;
        else if (elementwise === 'tf') dz = tf.mul(dh, tf.step(a));
        else {
          // dh is this step's own output: masking it in place is safe.
          const av = heap.typedArrayFromHeap(a);
          const hv = heap.typedArrayFromHeap(dh);
          for (let i = 0; i < hv.length; i++) if (!(av[i]! > 0)) hv[i] = 0;
          dz = dh;
        }
      }
    }
  });
  return squared;
}

export interface FastTrainOptions {
  learningRate: number;
  beta1?: number;
  beta2?: number;
  /** tf.train.adam's default: the backend epsilon, 1e-7 in float32. */
  epsilon?: number;
  /**
   * 'js': relu mask, bias sums and activation transposes in JS on heap views;
   * 'tf' (default, faster in bench/dnn.ts): the same with tf ops (step, mul, sum, transpose).
   */
  elementwise?: Elementwise;
}

interface LayerLike {
  getClassName(): string;
  getConfig(): Record<string, unknown>;
  getWeights(): TF.Tensor[];
  countParams(): number;
}

/** The head each task's network ends in (buildNetwork): its output activation. */
const TASK_HEADS: Record<string, DenseHead> = { regression: 'linear', binary: 'sigmoid', multiclass: 'softmax' };

/**
 * Why the wasm kernel cannot train this network, or undefined when it can: only Dense layers
 * (relu or linear hidden, no regularizer), the task's own head (linear with mean squared error,
 * sigmoid or softmax with cross-entropy) and Adam.
 */
export function fastPathUnsupported(network: TF.LayersModel, task: string, optimizer: string): string | undefined {
  if (optimizer !== 'adam') return `optimizer ${optimizer}`;
  const why = plainDenseUnsupported(network, true);
  if (why) return why;
  if (denseHead(network) !== TASK_HEADS[task]) return `task ${task} with a ${denseHead(network)} output`;
  return undefined;
}

/** The output activation of a plain dense net (see plainDenseUnsupported). */
export function denseHead(network: TF.LayersModel): DenseHead {
  const layers = network.layers as unknown as LayerLike[];
  return layers[layers.length - 1]!.getConfig()['activation'] as DenseHead;
}

/**
 * Why the net is not a plain dense one (Dense layers only, relu or linear hidden, a linear,
 * sigmoid (one unit) or softmax output, with biases; for training, no regularizer either), or
 * undefined when it is: the nets the wasm kernel trains and predicts.
 */
export function plainDenseUnsupported(network: TF.LayersModel, training: boolean): string | undefined {
  const layers = network.layers as unknown as LayerLike[];
  for (let i = 0; i < layers.length; i++) {
    const layer = layers[i]!;
    if (layer.getClassName() !== 'Dense') return `layer ${layer.getClassName()}`;
    const config = layer.getConfig();
    const activation = config['activation'];
    const last = i === layers.length - 1;
    const heads = config['units'] === 1 ? ['linear', 'sigmoid'] : ['linear', 'softmax'];
    if (last ? !heads.includes(String(activation)) : activation !== 'relu' && activation !== 'linear') return `activation ${String(activation)}`;
    if (training && (config['kernelRegularizer'] || config['biasRegularizer'] || config['activityRegularizer'])) return 'regularizer';
    if (config['useBias'] === false) return 'dense without bias';
  }
  return undefined;
}

/** A dense layer's sizes, activation and weights ([inputs, units] row-major, and [units]). */
export interface DenseLayerWeights {
  inputs: number;
  units: number;
  relu: boolean;
  kernel: Float32Array;
  bias: Float32Array;
}

/** The dense layers of a network the fast paths accept (see fastPathUnsupported), with copies of their weights. */
export function readDenseLayers(network: TF.LayersModel): DenseLayerWeights[] {
  return (network.layers as unknown as LayerLike[]).map((layer) => {
    const [k, b] = layer.getWeights();
    const [inputs, units] = k!.shape as [number, number];
    return { inputs, units, relu: layer.getConfig()['activation'] === 'relu', kernel: Float32Array.from(k!.dataSync()), bias: Float32Array.from(b!.dataSync()) };
  });
}

/** Sets the network's weights from dense layers' kernels and biases. */
export function writeDenseLayers(tf: typeof TF, network: TF.LayersModel, layers: readonly Pick<DenseLayerWeights, 'inputs' | 'units' | 'kernel' | 'bias'>[]): void {
  const tensors = layers.flatMap((l) => [tf.tensor2d(l.kernel, [l.inputs, l.units]), tf.tensor1d(l.bias)]);
  network.setWeights(tensors);
  tensors.forEach((t) => t.dispose());
}

function transposeInto(src: Float32Array, rows: number, cols: number, dst: Float32Array): Float32Array {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    for (let c = 0; c < cols; c++) dst[c * rows + r] = src[o + c]!;
  }
  return dst;
}

export class FastDenseTrainer {
  private readonly layers: DenseState[];
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly epsilon: number;
  readonly elementwise: Elementwise;
  private accBeta1: number;
  private accBeta2: number;
  learningRate: number;
  private grads: DenseGradient[] | undefined;

  constructor(
    private readonly tf: typeof TF,
    private readonly network: TF.LayersModel,
    options: FastTrainOptions,
  ) {
    this.learningRate = options.learningRate;
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.epsilon = options.epsilon ?? tf.backend().epsilon();
    this.elementwise = options.elementwise ?? 'tf';
    this.accBeta1 = this.beta1;
    this.accBeta2 = this.beta2;
    this.layers = readDenseLayers(network).map(({ inputs, units, relu, kernel, bias }) => {
      return {
        inputs,
        units,
        relu,
        kernel,
        bias,
        kernelT: transposeInto(kernel, inputs, units, new Float32Array(inputs * units)),
        mKernel: new Float32Array(inputs * units),
        vKernel: new Float32Array(inputs * units),
        mBias: new Float32Array(units),
        vBias: new Float32Array(units),
      };
    });
  }

  get inputs(): number {
    return this.layers[0]!.inputs;
  }

  get outputs(): number {
    return this.layers[this.layers.length - 1]!.units;
  }

  /** The weights the gradient code reads. */
  get weights(): DenseWeights[] {
    return this.layers;
  }

  /** Room for one gradient per layer. */
  newGradients(): DenseGradient[] {
    return this.layers.map((l) => ({ kernel: new Float32Array(l.inputs * l.units), bias: new Float32Array(l.units) }));
  }

  /**
   * One Adam step on a batch: `xs` row-major [size, inputs], `ys` [size, outputs] (already
   * scaled). Returns the batch's mean squared error before the step (what trainOnBatch returns).
   */
  step(xs: Float32Array, ys: Float32Array, size: number): number {
    this.grads ??= this.newGradients();
    const squared = denseGradients(this.tf, this.layers, xs, ys, size, size, this.elementwise, this.grads);
    this.apply(this.grads);
    return squared / (size * this.outputs);
  }

  /** Applies one Adam step with the batch's gradients. */
  apply(grads: DenseGradient[]): void {
    this.layers.forEach((layer, l) => {
      this.adam(layer.kernel, layer.mKernel, layer.vKernel, grads[l]!.kernel);
      this.adam(layer.bias, layer.mBias, layer.vBias, grads[l]!.bias);
      transposeInto(layer.kernel, layer.inputs, layer.units, layer.kernelT);
    });
    this.accBeta1 *= this.beta1;
    this.accBeta2 *= this.beta2;
  }

  /** tf.train.adam's update for one weight, on the JS master copy. */
  private adam(w: Float32Array, m: Float32Array, v: Float32Array, g: Float32Array): void {
    const b1 = this.beta1;
    const b2 = this.beta2;
    const c1 = 1 / (1 - this.accBeta1);
    const c2 = 1 / (1 - this.accBeta2);
    const lr = this.learningRate;
    const eps = this.epsilon;
    for (let i = 0; i < w.length; i++) {
      const gi = g[i]!;
      const mi = b1 * m[i]! + (1 - b1) * gi;
      const vi = b2 * v[i]! + (1 - b2) * gi * gi;
      m[i] = mi;
      v[i] = vi;
      w[i] = w[i]! - (lr * (mi * c1)) / (Math.sqrt(vi * c2) + eps);
    }
  }

  /** Writes the trained weights into the layers model (for predict, save, early stopping). */
  syncToNetwork(): void {
    writeDenseLayers(this.tf, this.network, this.layers);
  }

  /** Reloads the master copies from the layers model (after a warm start or a restore). */
  syncFromNetwork(): void {
    readDenseLayers(this.network).forEach(({ kernel, bias }, i) => {
      const state = this.layers[i]!;
      state.kernel.set(kernel);
      state.bias.set(bias);
      transposeInto(state.kernel, state.inputs, state.units, state.kernelT);
    });
  }
}
