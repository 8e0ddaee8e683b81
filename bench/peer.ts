import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Runs a Python peer (bench/SCRIPT, with Debian's /usr/bin/python3) on the same float32 data:
 * x and y are written to a temp folder and passed first, then `args`. The peer prints one JSON
 * line last; that line is returned parsed.
 */
export function runPythonPeer<T>(script: string, x: Float32Array, y: Float32Array, args: (string | number)[]): T {
  const dir = mkdtempSync(join(tmpdir(), 'atelier-peer-'));
  try {
    writeFileSync(join(dir, 'x.f32'), x);
    writeFileSync(join(dir, 'y.f32'), y);
    const out = execFileSync('/usr/bin/python3', [join(import.meta.dirname, script), join(dir, 'x.f32'), join(dir, 'y.f32'), ...args.map(String)], {
      encoding: 'utf8',
      maxBuffer: 1 << 20,
    });
    return JSON.parse(out.trim().split('\n').pop()!) as T;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
