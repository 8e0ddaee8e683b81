import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { CV_EXAMPLES, cvFigure, cvFigureIn } from '../scripts/cv-table.js';
import { cli, ROOT, tempDir } from './helpers.js';

/** The cross-validation figures of docs/training.md come from the command (npm run docs:cv); the fast rows are rerun here. */
describe('docs/training.md: cross-validation figures', () => {
  let ws: string;
  const page = readFileSync(join(ROOT, 'docs', 'training.md'), 'utf8');
  before(async () => {
    ws = tempDir('atelier-cv-');
    for (const args of [['init', '.'], ['data', 'import', join(ROOT, 'examples', 'housing', 'housing.csv'), '--name', 'housing'], ['data', 'import', join(ROOT, 'examples', 'iris', 'iris.csv'), '--name', 'iris']]) {
      const result = await cli(args, { cwd: ws });
      assert.equal(result.code, 0, result.stderr);
    }
  });

  for (const example of CV_EXAMPLES.filter((e) => e.fast)) {
    test(`${example.config}: the table shows what \`atelier train --cv 5\` gives`, { timeout: 180_000 }, async () => {
      const result = await cli(['train', join(ROOT, 'examples', example.config), '--cv', '5', '--json'], { cwd: ws });
      assert.equal(result.code, 0, result.stderr);
      assert.equal(cvFigureIn(page, example.config), cvFigure(example, result.json.cv[example.metric].mean), 'rerun `npm run docs:cv`');
    });
  }
});
