/**
 * Our own wasm kernels (wasm/*.ts, AssemblyScript), built by `npm run build:wasm` into dist/wasm/.
 * Each is compiled once per thread, on first use; nothing happens at import time.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

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
