// AssemblyScript: one training step of a plain dense regression net (dense layers with bias and
// relu or linear activation, mean squared error, Adam) on f32x4 SIMD, built by `npm run
// build:wasm` into dist/wasm/dense-train.wasm. The TypeScript side (src/models/dnn/wasm-train.ts)
// lays out the imported, shared memory and writes the tables read here; this file allocates
// nothing (stub runtime, no GC) so two instances on two threads can share one memory.
//
// Shapes are padded by the caller: every layer's inputs K and units N are multiples of 4, batch
// rows too; padded weights, biases and inputs are zero and stay zero (their gradients are zero),
// and padded rows get a zero output gradient, so padding never changes the result.

// The net table (byte offsets).
const NET_LAYERS = 0; // i32 layer count
const NET_PARAMS = 4; // i32 parameter floats (all layers: kernel then bias, padded)
const NET_W = 8; // i32 pointer to the parameters
const NET_M = 12; // i32 Adam first moments, same layout
const NET_V = 16; // i32 Adam second moments
const NET_LANE0 = 20; // i32 the two halves' lane tables
const NET_LANE1 = 24;
const NET_HEAD = 28; // i32 the loss on the last layer's (linear) outputs: HEAD_* below
const NET_LR = 32; // f32 learning rate
const NET_BETA1 = 36; // f32
const NET_BETA2 = 40; // f32
const NET_OMB1 = 44; // f32 1 - beta1, rounded as TF.js rounds it (a float32 scalar)
const NET_OMB2 = 48; // f32 1 - beta2
const NET_ACC1 = 52; // f32 beta1^t, updated here after each step as tf.train.adam does
const NET_ACC2 = 56; // f32 beta2^t
const NET_EPS = 60; // f32
const NET_LAYER0 = 64; // the layer records, 32 bytes each:
const LAYER_SIZE = 32;
const L_K = 0; // i32 inputs (padded)
const L_N = 4; // i32 units (padded)
const L_RELU = 8; // i32 1 for relu, 0 for linear
const L_W = 12; // i32 byte offset of the kernel [K, N] in the parameters (and gradients, moments)
const L_B = 16; // i32 byte offset of the bias [N]
const L_WT = 20; // i32 pointer to the kernel transposed [N, K], refreshed after each update

// Heads: what the last layer's outputs z are fed to, and the loss on them. The kernel computes
// z; the head's activation is applied only in the loss (and by the caller at inference).
const HEAD_MSE: i32 = 0; // z itself, mean squared error over rows and outputs
const HEAD_SIGMOID: i32 = 1; // sigmoid(z), binary cross-entropy (one output, labels 0 or 1)
const HEAD_SOFTMAX: i32 = 2; // softmax(z), categorical cross-entropy (labels one-hot)
// TF.js clips probabilities to [EPSILON, 1 - EPSILON] before taking logs (its backend epsilon).
const EPSILON: f64 = 1e-7;

// A lane table: one half of the batch, with its own activations and gradients.
const LANE_ROWS = 0; // i32 rows (padded to 4)
const LANE_COUNT = 4; // i32 real rows
const LANE_GRAD = 8; // i32 pointer to this half's gradients (the parameters' layout)
const LANE_DZ0 = 12; // i32 two buffers for output gradients, [rows, widest N]
const LANE_DZ1 = 16;
const LANE_Y = 20; // i32 pointer to labels [rows, outputs]
const LANE_OUTPUTS = 24; // i32 real outputs of the last layer
const LANE_SCALE = 32; // f64 d(loss)/d(output) per unit of error: 2 / (batch rows * outputs) for MSE, 1 / batch rows for cross-entropy
const LANE_SQUARED = 40; // f64 result: this half's summed loss (squared errors, or cross-entropy per row)
// When LANE_DATA is not 0 the lane gathers its rows itself: row LANE_ORDER[i] of the training
// inputs [*, K0] and labels [*, outputs] for its i-th row. Else the caller wrote the rows.
const LANE_DATA = 48; // i32 pointer to the training inputs, or 0
const LANE_LABELS = 52; // i32 pointer to the training labels
const LANE_ORDER = 56; // i32 pointer to this lane's row numbers (u32)
const LANE_ACTS = 64; // i32 pointers: acts[0] the inputs [rows, K0], acts[l + 1] layer l's output

// Rows of the output gradient summed per pass of the weight-gradient kernel: a chunk of the
// activations and of the output gradient (64 rows x 64 floats each, 16 KiB) stays in L1.
const CHUNK: i32 = 64;

/**
 * a * b + c, lane by lane: one fused multiply-add where the build has relaxed SIMD (the -fma
 * build: V8 emits vfmadd on x64 with FMA3), else a multiply and an add (rounded twice).
 */
@inline function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(c, f32x4.mul(a, b));
}

// exp and log of our own: AssemblyScript's Math.exp and Math.log read lookup tables from static
// data, which this module must not have (it would be written into the shared memory at every
// instantiation). Accurate to a few ulps, which is all the losses need.
const LN2_HI: f64 = 6.93147180369123816490e-1;
const LN2_LO: f64 = 1.90821492927058770002e-10;

/** e^x: x = k ln 2 + r with |r| <= ln 2 / 2, a degree-13 Taylor polynomial for e^r, times 2^k. */
function expF64(x: f64): f64 {
  if (x > 709) return Infinity;
  if (x < -708) return 0;
  const k = Math.floor(x * 1.4426950408889634 + 0.5);
  const r = x - k * LN2_HI - k * LN2_LO;
  let p: f64 = 1;
  for (let i = 13; i >= 1; i--) p = 1 + (r * p) / <f64>i;
  return p * reinterpret<f64>((<i64>k + 1023) << 52);
}

/** ln x for x > 0 (normal): x = m 2^e with m in [sqrt(1/2), sqrt(2)), ln m = 2 atanh((m - 1) / (m + 1)). */
function logF64(x: f64): f64 {
  const bits = reinterpret<i64>(x);
  let e = <i32>((bits >> 52) & 0x7ff) - 1023;
  let m = reinterpret<f64>((bits & 0x000fffffffffffff) | 0x3ff0000000000000);
  if (m > 1.4142135623730951) {
    m *= 0.5;
    e++;
  }
  const s = (m - 1) / (m + 1);
  const s2 = s * s;
  let sum: f64 = 0;
  for (let i = 23; i >= 1; i -= 2) sum = 1 / <f64>i + s2 * sum;
  return 2 * s * sum + <f64>e * LN2_HI + <f64>e * LN2_LO;
}

@inline function layer(net: usize, l: i32): usize {
  return net + NET_LAYER0 + <usize>(l * LAYER_SIZE);
}

@inline function act(lane: usize, l: i32): usize {
  return <usize>load<i32>(lane + LANE_ACTS + <usize>(l * 4));
}

/**
 * out[rows, N] = a[rows, K] w[K, N], started from the bias (or zero), then relu (mode 1), or
 * masked by mask > 0 (mode 2: the relu derivative of the layer below), or as is (mode 0).
 * Register block: 4 rows x 8 columns (8 accumulators), a 4-column tail.
 */
function matmul(a: usize, w: usize, bias: usize, out: usize, mask: usize, rows: i32, K: i32, N: i32, mode: i32): void {
  const zero = f32x4.splat(0);
  const rowA = <usize>(K * 4);
  const rowW = <usize>(N * 4);
  const rowO = <usize>(N * 4);
  for (let r = 0; r < rows; r += 4) {
    const a0 = a + <usize>r * rowA;
    const a1 = a0 + rowA;
    const a2 = a1 + rowA;
    const a3 = a2 + rowA;
    const o0 = out + <usize>r * rowO;
    let j = 0;
    for (; j + 8 <= N; j += 8) {
      let c00 = zero, c01 = zero;
      if (bias) {
        c00 = v128.load(bias + <usize>(j * 4));
        c01 = v128.load(bias + <usize>(j * 4), 16);
      }
      let c10 = c00, c11 = c01, c20 = c00, c21 = c01, c30 = c00, c31 = c01;
      let wp = w + <usize>(j * 4);
      for (let k = 0; k < K; k++) {
        const w0 = v128.load(wp);
        const w1 = v128.load(wp, 16);
        const kk = <usize>(k * 4);
        let x = v128.load32_splat(a0 + kk);
        c00 = madd(x, w0, c00);
        c01 = madd(x, w1, c01);
        x = v128.load32_splat(a1 + kk);
        c10 = madd(x, w0, c10);
        c11 = madd(x, w1, c11);
        x = v128.load32_splat(a2 + kk);
        c20 = madd(x, w0, c20);
        c21 = madd(x, w1, c21);
        x = v128.load32_splat(a3 + kk);
        c30 = madd(x, w0, c30);
        c31 = madd(x, w1, c31);
        wp += rowW;
      }
      const p = o0 + <usize>(j * 4);
      if (mode == 1) {
        // pmax(0, x) is relu in one instruction (x for x > 0, else 0).
        c00 = f32x4.pmax(zero, c00); c01 = f32x4.pmax(zero, c01);
        c10 = f32x4.pmax(zero, c10); c11 = f32x4.pmax(zero, c11);
        c20 = f32x4.pmax(zero, c20); c21 = f32x4.pmax(zero, c21);
        c30 = f32x4.pmax(zero, c30); c31 = f32x4.pmax(zero, c31);
      } else if (mode == 2) {
        const m = mask + (p - out);
        c00 = v128.and(c00, f32x4.gt(v128.load(m), zero));
        c01 = v128.and(c01, f32x4.gt(v128.load(m, 16), zero));
        c10 = v128.and(c10, f32x4.gt(v128.load(m + rowO), zero));
        c11 = v128.and(c11, f32x4.gt(v128.load(m + rowO, 16), zero));
        c20 = v128.and(c20, f32x4.gt(v128.load(m + 2 * rowO), zero));
        c21 = v128.and(c21, f32x4.gt(v128.load(m + 2 * rowO, 16), zero));
        c30 = v128.and(c30, f32x4.gt(v128.load(m + 3 * rowO), zero));
        c31 = v128.and(c31, f32x4.gt(v128.load(m + 3 * rowO, 16), zero));
      }
      v128.store(p, c00); v128.store(p, c01, 16);
      v128.store(p + rowO, c10); v128.store(p + rowO, c11, 16);
      v128.store(p + 2 * rowO, c20); v128.store(p + 2 * rowO, c21, 16);
      v128.store(p + 3 * rowO, c30); v128.store(p + 3 * rowO, c31, 16);
    }
    if (j < N) {
      // The last 4 columns (N is a multiple of 4).
      let c0 = bias ? v128.load(bias + <usize>(j * 4)) : zero;
      let c1 = c0, c2 = c0, c3 = c0;
      let wp = w + <usize>(j * 4);
      for (let k = 0; k < K; k++) {
        const w0 = v128.load(wp);
        const kk = <usize>(k * 4);
        c0 = madd(v128.load32_splat(a0 + kk), w0, c0);
        c1 = madd(v128.load32_splat(a1 + kk), w0, c1);
        c2 = madd(v128.load32_splat(a2 + kk), w0, c2);
        c3 = madd(v128.load32_splat(a3 + kk), w0, c3);
        wp += rowW;
      }
      const p = o0 + <usize>(j * 4);
      if (mode == 1) {
        c0 = f32x4.pmax(zero, c0); c1 = f32x4.pmax(zero, c1);
        c2 = f32x4.pmax(zero, c2); c3 = f32x4.pmax(zero, c3);
      } else if (mode == 2) {
        const m = mask + (p - out);
        c0 = v128.and(c0, f32x4.gt(v128.load(m), zero));
        c1 = v128.and(c1, f32x4.gt(v128.load(m + rowO), zero));
        c2 = v128.and(c2, f32x4.gt(v128.load(m + 2 * rowO), zero));
        c3 = v128.and(c3, f32x4.gt(v128.load(m + 3 * rowO), zero));
      }
      v128.store(p, c0);
      v128.store(p + rowO, c1);
      v128.store(p + 2 * rowO, c2);
      v128.store(p + 3 * rowO, c3);
    }
  }
}

/**
 * Weight and bias gradients: gw[K, N] = a[rows, K]^T dz[rows, N], gb[N] = column sums of dz.
 * Rows are taken in chunks of CHUNK (always in the same order: the sums are deterministic);
 * register block 4 inputs x 8 units.
 */
function weightGradient(a: usize, dz: usize, gw: usize, gb: usize, rows: i32, K: i32, N: i32): void {
  memory.fill(gw, 0, <usize>(K * N * 4));
  memory.fill(gb, 0, <usize>(N * 4));
  const rowA = <usize>(K * 4);
  const rowD = <usize>(N * 4);
  for (let r0 = 0; r0 < rows; r0 += CHUNK) {
    const r1 = min(rows, r0 + CHUNK);
    for (let k = 0; k < K; k += 4) {
      const g0 = gw + <usize>(k * N * 4);
      let j = 0;
      for (; j + 8 <= N; j += 8) {
        const p = g0 + <usize>(j * 4);
        let c00 = v128.load(p), c01 = v128.load(p, 16);
        let c10 = v128.load(p + rowD), c11 = v128.load(p + rowD, 16);
        let c20 = v128.load(p + 2 * rowD), c21 = v128.load(p + 2 * rowD, 16);
        let c30 = v128.load(p + 3 * rowD), c31 = v128.load(p + 3 * rowD, 16);
        let ap = a + <usize>r0 * rowA + <usize>(k * 4);
        let dp = dz + <usize>r0 * rowD + <usize>(j * 4);
        for (let r = r0; r < r1; r++) {
          const d0 = v128.load(dp);
          const d1 = v128.load(dp, 16);
          let x = v128.load32_splat(ap);
          c00 = madd(x, d0, c00);
          c01 = madd(x, d1, c01);
          x = v128.load32_splat(ap, 4);
          c10 = madd(x, d0, c10);
          c11 = madd(x, d1, c11);
          x = v128.load32_splat(ap, 8);
          c20 = madd(x, d0, c20);
          c21 = madd(x, d1, c21);
          x = v128.load32_splat(ap, 12);
          c30 = madd(x, d0, c30);
          c31 = madd(x, d1, c31);
          ap += rowA;
          dp += rowD;
        }
        v128.store(p, c00); v128.store(p, c01, 16);
        v128.store(p + rowD, c10); v128.store(p + rowD, c11, 16);
        v128.store(p + 2 * rowD, c20); v128.store(p + 2 * rowD, c21, 16);
        v128.store(p + 3 * rowD, c30); v128.store(p + 3 * rowD, c31, 16);
      }
      if (j < N) {
        const p = g0 + <usize>(j * 4);
        let c0 = v128.load(p), c1 = v128.load(p + rowD), c2 = v128.load(p + 2 * rowD), c3 = v128.load(p + 3 * rowD);
        let ap = a + <usize>r0 * rowA + <usize>(k * 4);
        let dp = dz + <usize>r0 * rowD + <usize>(j * 4);
        for (let r = r0; r < r1; r++) {
          const d0 = v128.load(dp);
          c0 = madd(v128.load32_splat(ap), d0, c0);
          c1 = madd(v128.load32_splat(ap, 4), d0, c1);
          c2 = madd(v128.load32_splat(ap, 8), d0, c2);
          c3 = madd(v128.load32_splat(ap, 12), d0, c3);
          ap += rowA;
          dp += rowD;
        }
        v128.store(p, c0);
        v128.store(p + rowD, c1);
        v128.store(p + 2 * rowD, c2);
        v128.store(p + 3 * rowD, c3);
      }
    }
    // Bias: the chunk's column sums, 4 columns at a time, the chunk still in cache.
    for (let j = 0; j < N; j += 4) {
      let s = v128.load(gb + <usize>(j * 4));
      let dp = dz + <usize>r0 * rowD + <usize>(j * 4);
      for (let r = r0; r < r1; r++) {
        s = f32x4.add(s, v128.load(dp));
        dp += rowD;
      }
      v128.store(gb + <usize>(j * 4), s);
    }
  }
}

/** Copies the lane's rows (and labels) from the training set in memory; zero rows pad to `rows`. */
function gather(lane: usize, rows: i32, count: i32, K: i32, outputs: i32): void {
  const data = <usize>load<i32>(lane + LANE_DATA);
  const labels = <usize>load<i32>(lane + LANE_LABELS);
  const order = <usize>load<i32>(lane + LANE_ORDER);
  const x = act(lane, 0);
  const y = <usize>load<i32>(lane + LANE_Y);
  const rowBytes = <usize>(K * 4);
  for (let i = 0; i < count; i++) {
    const r = <usize>load<u32>(order + <usize>(i * 4));
    const src = data + r * rowBytes;
    const dst = x + <usize>i * rowBytes;
    for (let b: usize = 0; b < rowBytes; b += 16) v128.store(dst + b, v128.load(src + b));
    for (let o = 0; o < outputs; o++) store<f32>(y + <usize>(i * outputs + o) * 4, load<f32>(labels + (r * <usize>outputs + o) * 4));
  }
  memory.fill(x + <usize>count * rowBytes, 0, <usize>(rows - count) * rowBytes);
}

/**
 * The gradient of the batch's mean squared error from one lane's rows (a half of the batch):
 * gather (when the training set is in memory), forward, loss, backward. Writes the lane's gradients and its sum of squared errors, which it
 * also returns. Reads the parameters and their transposes, writes only the lane's own memory.
 */
export function gradient(net: usize, lane: usize): f64 {
  const layers = load<i32>(net + NET_LAYERS);
  const w = <usize>load<i32>(net + NET_W);
  const rows = load<i32>(lane + LANE_ROWS);
  const count = load<i32>(lane + LANE_COUNT);
  const grad = <usize>load<i32>(lane + LANE_GRAD);
  if (load<i32>(lane + LANE_DATA)) gather(lane, rows, count, load<i32>(layer(net, 0) + L_K), load<i32>(lane + LANE_OUTPUTS));
  for (let l = 0; l < layers; l++) {
    const rec = layer(net, l);
    const K = load<i32>(rec + L_K);
    const N = load<i32>(rec + L_N);
    matmul(act(lane, l), w + load<i32>(rec + L_W), w + load<i32>(rec + L_B), act(lane, l + 1), 0, rows, K, N, load<i32>(rec + L_RELU));
  }

  // d(loss)/d(output): zero on padded rows and columns.
  const last = layer(net, layers - 1);
  const N = load<i32>(last + L_N);
  const outputs = load<i32>(lane + LANE_OUTPUTS);
  const out = act(lane, layers);
  const y = <usize>load<i32>(lane + LANE_Y);
  const scale = load<f64>(lane + LANE_SCALE);
  const dz = <usize>load<i32>(lane + LANE_DZ0);
  const head = load<i32>(net + NET_HEAD);
  let loss: f64 = 0;
  memory.fill(dz, 0, <usize>(rows * N * 4));
  for (let r = 0; r < count; r++) {
    const o = out + <usize>(r * N) * 4;
    const d = dz + <usize>(r * N) * 4;
    const t = y + <usize>(r * outputs) * 4;
    if (head == HEAD_MSE) {
      // 2 (z - y) / (batch rows * outputs)
      for (let j = 0; j < outputs; j++) {
        const e = <f64>load<f32>(o + <usize>j * 4) - <f64>load<f32>(t + <usize>j * 4);
        loss += e * e;
        store<f32>(d + <usize>j * 4, <f32>(e * scale));
      }
    } else if (head == HEAD_SIGMOID) {
      // (p - y) / batch rows, p = sigmoid(z); no gradient where TF.js's clip holds p.
      const label = <f64>load<f32>(t);
      const p = 1 / (1 + expF64(-<f64>load<f32>(o)));
      const clipped = min(max(p, EPSILON), 1 - EPSILON);
      loss -= label * logF64(clipped) + (1 - label) * logF64(1 - clipped);
      store<f32>(d, clipped == p ? <f32>((p - label) * scale) : 0);
    } else {
      // (p - y) / batch rows, p = softmax(z) over the real outputs.
      let top = <f64>load<f32>(o);
      for (let j = 1; j < outputs; j++) top = max(top, <f64>load<f32>(o + <usize>j * 4));
      let sum: f64 = 0;
      for (let j = 0; j < outputs; j++) sum += expF64(<f64>load<f32>(o + <usize>j * 4) - top);
      for (let j = 0; j < outputs; j++) {
        const p = expF64(<f64>load<f32>(o + <usize>j * 4) - top) / sum;
        const label = <f64>load<f32>(t + <usize>j * 4);
        if (label != 0) loss -= label * logF64(min(max(p, EPSILON), 1 - EPSILON));
        store<f32>(d + <usize>j * 4, <f32>((p - label) * scale));
      }
    }
  }
  const squared = loss;
  let spare = <usize>load<i32>(lane + LANE_DZ1);
  let dzl = dz;

  for (let l = layers - 1; l >= 0; l--) {
    const rec = layer(net, l);
    const K = load<i32>(rec + L_K);
    const N = load<i32>(rec + L_N);
    const a = act(lane, l);
    weightGradient(a, dzl, grad + load<i32>(rec + L_W), grad + load<i32>(rec + L_B), rows, K, N);
    if (l > 0) {
      // Gradient into the layer below's output: dz W^T, times relu'(its output) when relu.
      const below = layer(net, l - 1);
      const mode = load<i32>(below + L_RELU) ? 2 : 0;
      matmul(dzl, <usize>load<i32>(rec + L_WT), 0, spare, a, rows, N, K, mode);
      const t = dzl;
      dzl = spare;
      spare = t;
    }
  }
  store<f64>(lane + LANE_SQUARED, squared);
  return squared;
}

/**
 * One Adam step with the sum of the two lanes' gradients (lane 0 + lane 1, always in that order),
 * in float32 op by op as tf.train.adam computes it, then refreshes the transposed kernels.
 */
export function update(net: usize): void {
  const n = load<i32>(net + NET_PARAMS);
  const w = <usize>load<i32>(net + NET_W);
  const m = <usize>load<i32>(net + NET_M);
  const v = <usize>load<i32>(net + NET_V);
  const g0 = <usize>load<i32>(<usize>load<i32>(net + NET_LANE0) + LANE_GRAD);
  const g1 = <usize>load<i32>(<usize>load<i32>(net + NET_LANE1) + LANE_GRAD);
  const acc1 = load<f32>(net + NET_ACC1);
  const acc2 = load<f32>(net + NET_ACC2);
  const b1 = f32x4.splat(load<f32>(net + NET_BETA1));
  const b2 = f32x4.splat(load<f32>(net + NET_BETA2));
  const omb1 = f32x4.splat(load<f32>(net + NET_OMB1));
  const omb2 = f32x4.splat(load<f32>(net + NET_OMB2));
  const c1 = f32x4.splat(<f32>1 - acc1);
  const c2 = f32x4.splat(<f32>1 - acc2);
  const eps = f32x4.splat(load<f32>(net + NET_EPS));
  const negLr = f32x4.splat(-load<f32>(net + NET_LR));
  for (let i = 0; i < n; i += 4) {
    const o = <usize>(i * 4);
    const g = f32x4.add(v128.load(g0 + o), v128.load(g1 + o));
    const mi = f32x4.add(f32x4.mul(v128.load(m + o), b1), f32x4.mul(g, omb1));
    const vi = f32x4.add(f32x4.mul(v128.load(v + o), b2), f32x4.mul(f32x4.mul(g, g), omb2));
    v128.store(m + o, mi);
    v128.store(v + o, vi);
    const step = f32x4.div(f32x4.div(mi, c1), f32x4.add(f32x4.sqrt(f32x4.div(vi, c2)), eps));
    v128.store(w + o, f32x4.add(f32x4.mul(step, negLr), v128.load(w + o)));
  }
  store<f32>(net + NET_ACC1, acc1 * load<f32>(net + NET_BETA1));
  store<f32>(net + NET_ACC2, acc2 * load<f32>(net + NET_BETA2));
  transposeKernels(net);
}

/** Writes each layer's kernel transposed ([N, K]) for the backward matmul. */
export function transposeKernels(net: usize): void {
  const layers = load<i32>(net + NET_LAYERS);
  const w = <usize>load<i32>(net + NET_W);
  for (let l = 0; l < layers; l++) {
    const rec = layer(net, l);
    const K = load<i32>(rec + L_K);
    const N = load<i32>(rec + L_N);
    const src = w + load<i32>(rec + L_W);
    const dst = <usize>load<i32>(rec + L_WT);
    for (let k = 0; k < K; k++) {
      for (let j = 0; j < N; j++) store<f32>(dst + <usize>(j * K + k) * 4, load<f32>(src + <usize>(k * N + j) * 4));
    }
  }
}

/**
 * Inference: the lane's input rows (acts[0], LANE_ROWS rows, written by the caller) through every
 * layer, as the training forward pass computes them; the outputs are acts[layers].
 */
export function forward(net: usize, lane: usize): void {
  const layers = load<i32>(net + NET_LAYERS);
  const w = <usize>load<i32>(net + NET_W);
  const rows = load<i32>(lane + LANE_ROWS);
  for (let l = 0; l < layers; l++) {
    const rec = layer(net, l);
    matmul(act(lane, l), w + load<i32>(rec + L_W), w + load<i32>(rec + L_B), act(lane, l + 1), 0, rows, load<i32>(rec + L_K), load<i32>(rec + L_N), load<i32>(rec + L_RELU));
  }
}

/** One whole training step on one thread: both lanes' gradients, then the update. */
export function step(net: usize): f64 {
  const squared = gradient(net, <usize>load<i32>(net + NET_LANE0)) + gradient(net, <usize>load<i32>(net + NET_LANE1));
  update(net);
  return squared;
}
