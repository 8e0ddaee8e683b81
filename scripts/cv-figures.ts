// Regenerates the cross-validation table of docs/training.md (npm run docs:cv): runs
// `atelier train CONFIG --cv 5` on each example in a fresh workspace and writes the mean of the
// headline metric between the <!-- cv-table --> markers. test/cv-figures.test.ts checks the fast rows.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CV_EXAMPLES, cvTable, replaceCvTable } from './cv-table.js';

const root = join(import.meta.dirname, '..');
const cli = join(root, 'dist', 'cli', 'main.js');
const ws = mkdtempSync(join(tmpdir(), 'atelier-cv-'));
const run = (args: string[]) => JSON.parse(execFileSync(process.execPath, [cli, ...args, '--json'], { cwd: ws, encoding: 'utf8' }));
try {
  run(['init', '.']);
  run(['data', 'import', join(root, 'examples', 'housing', 'housing.csv'), '--name', 'housing']);
  run(['data', 'import', join(root, 'examples', 'iris', 'iris.csv'), '--name', 'iris']);
  const figures: Record<string, number> = {};
  for (const example of CV_EXAMPLES) {
    process.stderr.write(`${example.config}…\n`);
    figures[example.config] = run(['train', join(root, 'examples', example.config), '--cv', '5']).cv[example.metric].mean;
  }
  const page = join(root, 'docs', 'training.md');
  writeFileSync(page, replaceCvTable(readFileSync(page, 'utf8'), cvTable(figures)));
} finally {
  rmSync(ws, { recursive: true, force: true });
}
