// AssemblyScript: gradient-boosted trees walked over a block of rows, built by `npm run
// build:wasm` into dist/wasm/forest.wasm. The TypeScript side (src/models/gbdt/forest-wasm.ts)
// lays out the memory; this file allocates nothing (stub runtime).
//
// Trees are complete and heap-ordered (children of node p are 2p+1 and 2p+2), as in
// src/models/gbdt/forest.ts. A node is 8 bytes: the byte offset of its feature in a row (i32) and
// its threshold (f32, rounded down from the model's double: for a float32 x, x > t exactly when
// x > the largest float32 not above t). The block holds no NaN (the caller walks such blocks in
// JavaScript, where a NaN takes the direction the tree learned). A row goes right when x > t.
//
// Eight rows walk each tree side by side: eight independent chains of loads the CPU overlaps
// (measured here: 4 rows 5.4 ns per tree and row, 8 rows 4.4, 12 rows 5.0; the JavaScript walk
// with 4 rows 10.5).

@inline function step(node: usize, row: usize, p: i32): i32 {
  const n = node + (<usize>p << 3);
  return 2 * p + 1 + i32(load<f32>(row + <usize>load<i32>(n)) > load<f32>(n, 4));
}

/**
 * Adds tree t's leaf value to raw[i * outputs + t % outputs] (f64) for rows [0, rows) of `data`
 * (f32, rowBytes per row), for trees [0, count) of `depth` levels: inner nodes at `nodes`
 * ((2^depth - 1) per tree), leaf values (f64) at `leaves` (2^depth per tree).
 */
export function addTrees(nodes: usize, leaves: usize, count: i32, depth: i32, outputs: i32, data: usize, rows: i32, rowBytes: i32, raw: usize): void {
  const inner = (1 << depth) - 1;
  const width = 1 << depth;
  const rawStride = <usize>outputs << 3;
  const rowStride = <usize>rowBytes;
  for (let t = 0; t < count; t++) {
    const o = nodes + <usize>(t * inner) * 8;
    // Leaf p (counted from the root, p >= inner) is at l + 8p.
    const l = leaves + <usize>(t * width) * 8 - <usize>inner * 8;
    const out = raw + (<usize>(t % outputs) << 3);
    let i = 0;
    for (; i + 7 < rows; i += 8) {
      const b0 = data + <usize>i * rowStride;
      const b1 = b0 + rowStride;
      const b2 = b1 + rowStride;
      const b3 = b2 + rowStride;
      const b4 = b3 + rowStride;
      const b5 = b4 + rowStride;
      const b6 = b5 + rowStride;
      const b7 = b6 + rowStride;
      let p0 = 0, p1 = 0, p2 = 0, p3 = 0, p4 = 0, p5 = 0, p6 = 0, p7 = 0;
      for (let d = 0; d < depth; d++) {
        p0 = step(o, b0, p0);
        p1 = step(o, b1, p1);
        p2 = step(o, b2, p2);
        p3 = step(o, b3, p3);
        p4 = step(o, b4, p4);
        p5 = step(o, b5, p5);
        p6 = step(o, b6, p6);
        p7 = step(o, b7, p7);
      }
      const r = out + <usize>i * rawStride;
      store<f64>(r, load<f64>(r) + load<f64>(l + (<usize>p0 << 3)));
      store<f64>(r + rawStride, load<f64>(r + rawStride) + load<f64>(l + (<usize>p1 << 3)));
      store<f64>(r + 2 * rawStride, load<f64>(r + 2 * rawStride) + load<f64>(l + (<usize>p2 << 3)));
      store<f64>(r + 3 * rawStride, load<f64>(r + 3 * rawStride) + load<f64>(l + (<usize>p3 << 3)));
      store<f64>(r + 4 * rawStride, load<f64>(r + 4 * rawStride) + load<f64>(l + (<usize>p4 << 3)));
      store<f64>(r + 5 * rawStride, load<f64>(r + 5 * rawStride) + load<f64>(l + (<usize>p5 << 3)));
      store<f64>(r + 6 * rawStride, load<f64>(r + 6 * rawStride) + load<f64>(l + (<usize>p6 << 3)));
      store<f64>(r + 7 * rawStride, load<f64>(r + 7 * rawStride) + load<f64>(l + (<usize>p7 << 3)));
    }
    for (; i < rows; i++) {
      const b = data + <usize>i * rowStride;
      let p = 0;
      for (let d = 0; d < depth; d++) p = step(o, b, p);
      const r = out + <usize>i * rawStride;
      store<f64>(r, load<f64>(r) + load<f64>(l + (<usize>p << 3)));
    }
  }
}
