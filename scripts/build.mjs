// Builds dist/ beside itself and swaps it in, so that an `atelier` command started while the
// project rebuilds (npm test does) runs the old build or the new one, never a half-written mix.
// Plain JavaScript: it runs on `npm ci` (prepare), before anything is compiled.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => join(root, 'node_modules', '.bin', name);
const next = join(root, 'dist.next');
const dist = join(root, 'dist');
const old = join(root, `dist.old-${process.pid}`);
const run = (command, args) => execFileSync(command, args, { cwd: root, stdio: 'inherit' });

rmSync(next, { recursive: true, force: true });
run(bin('tsc'), ['-p', 'tsconfig.json', '--outDir', next]);
// The kernels: source, config, target, output (the fused multiply-add build runs where the CPU allows).
const kernels = [
  ['dense-train', 'wasm/asconfig.json', 'release', 'dense-train'],
  ['dense-train', 'wasm/asconfig.json', 'fma', 'dense-train-fma'],
  ['forest', 'wasm/forest.asconfig.json', 'release', 'forest'],
];
for (const [source, config, target, output] of kernels) {
  run(bin('asc'), [`wasm/${source}.ts`, '--config', config, '--target', target, '--outFile', join(next, 'wasm', `${output}.wasm`)]);
}
// Kysely, zod and yaml are hundreds of small ES modules each: loading them file by file took most of a
// command's start (about 150 ms of CPU of a `models list`). One bundled file each loads in a
// fraction of that; the sources import them as #kysely, #zod and #yaml (package.json "imports").
const { build } = await import('esbuild');
// yaml's build for Node is CommonJS, whose names a bundle cannot re-export; its ES build is the same code.
const entries = { kysely: 'kysely', zod: 'zod', yaml: join(root, 'node_modules', 'yaml', 'browser', 'index.js') };
for (const [name, entry] of Object.entries(entries)) {
  await build({ entryPoints: [entry], bundle: true, format: 'esm', platform: 'node', target: 'node20', outfile: join(next, 'vendor', `${name}.js`), logLevel: 'warning', absWorkingDir: root });
}
chmodSync(join(next, 'cli', 'main.js'), 0o755);
// Two renames: the only moment without a dist/ is between them (microseconds), where an in-place
// rebuild left it half-written for the whole compile.
if (existsSync(dist)) renameSync(dist, old);
renameSync(next, dist);
rmSync(old, { recursive: true, force: true });
