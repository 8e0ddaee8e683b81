/**
 * Our own wasm kernels (wasm/*.ts, AssemblyScript), built by `npm run build:wasm` into dist/wasm/.
 * Each is compiled once per thread, on first use; nothing happens at import time.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';

const compiled = new Map<string, WebAssembly.Module>();

/** dist/wasm/<name>.wasm, compiled (a Module can be posted to a worker). `what` names it in errors. */
export function wasmModule(name: string, what: string): WebAssembly.Module {
  let module = compiled.get(name);
  if (!module) {
    // The same relative path from src/models (tests, tsx) and dist/models (the package).
    const url = new URL(`../../dist/wasm/${name}.wasm`, import.meta.url);
    let bytes: Uint8Array<ArrayBuffer>;
    try {
      bytes = new Uint8Array(readFileSync(url));
    } catch {
      throw new Error(`${what} ${fileURLToPath(url)} is not built: run \`npm run build:wasm\` (npm install, npm run build and npm test do it)`);
    }
    module = new WebAssembly.Module(bytes);
    compiled.set(name, module);
  }
  return module;
}

/** (module (func (param v128 v128 v128) (result v128) local.get 0 local.get 1 local.get 2 f32x4.relaxed_madd)) */
const RELAXED_SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 8, 1, 96, 3, 123, 123, 123, 1, 123, 3, 2, 1, 0, 10, 13, 1, 11, 0, 32, 0, 32, 1, 32, 2, 253, 133, 2, 11,
]);
let relaxed: boolean | undefined;

/**
 * Whether kernels may use relaxed SIMD (fused multiply-add). Node 20's V8 has it behind a flag,
 * which is turned on here (before any kernel is compiled; later Nodes have it on). The
 * environment variable ATELIER_WASM_FMA=0 keeps the plain SIMD build (a multiply and an add,
 * rounded twice), whose results do not depend on the machine's FMA.
 */
export function relaxedSimd(): boolean {
  if (relaxed === undefined) {
    if (process.env['ATELIER_WASM_FMA'] === '0') relaxed = false;
    else {
      if (!WebAssembly.validate(RELAXED_SIMD_PROBE)) setFlagsFromString('--experimental-wasm-relaxed-simd');
      relaxed = WebAssembly.validate(RELAXED_SIMD_PROBE);
    }
  }
  return relaxed;
}
