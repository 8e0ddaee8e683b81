import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { cli, HOUSING, ROOT, tempDir } from './helpers.js';

/**
 * Skew of served traffic against the training data: served values are counted on the training
 * statistics' own buckets, so rows taken from the training data come out near zero.
 */
describe('monitor: skew of an unchanged sample', () => {
  let ws: string;
  const rows = readFileSync(HOUSING, 'utf8').trim().split('\n');
  const header = rows[0]!.split(',').map((name) => name.replaceAll('"', ''));
  /** 200 rows drawn at random (seeded): the file is ordered by town, so its first rows are no sample. */
  function sample(lines: string[], n: number): string[] {
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const pool = [...lines];
    for (let i = pool.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [pool[i], pool[j]] = [pool[j]!, pool[i]!];
    }
    return pool.slice(0, n);
  }

  /** A prediction log of these CSV lines, as the server writes it. */
  function writeLog(dir: string, lines: string[]): string {
    mkdirSync(join(dir, 'housing-linear'), { recursive: true });
    const time = new Date().toISOString();
    const records = lines.map((line, i) => {
      const values = line.split(',').map(Number);
      const record: Record<string, unknown> = Object.fromEntries(header.map((name, k) => [name, values[k]]));
      record.prediction = record.MEDV;
      delete record.MEDV;
      return JSON.stringify({ ...record, model: 'housing-linear', version: 1, request_id: `r${i}`, time });
    });
    writeFileSync(join(dir, 'housing-linear', 'predictions-1.jsonl'), records.join('\n') + '\n');
    return dir;
  }

  before(async () => {
    ws = tempDir('atelier-monitor-');
    for (const args of [['init', '.'], ['data', 'import', HOUSING, '--name', 'housing'], ['train', join(ROOT, 'examples', 'housing', 'linear.yaml')]]) {
      const result = await cli(args, { cwd: ws });
      assert.equal(result.code, 0, `atelier ${args.join(' ')}: ${result.stderr}`);
    }
  });

  test('200 rows of the training data: skew near zero on every numeric feature', { timeout: 120_000 }, async () => {
    const log = writeLog(join(ws, 'log-sample'), sample(rows.slice(1), 200));
    const result = await cli(['monitor', 'housing-linear', '--log', log, '--since', '1970-01-01T00:00:00Z', '--json'], { cwd: ws });
    const report = result.json as { skew: { features: Record<string, { distance: number | null }> } };
    assert.ok(report?.skew, result.stderr);
    const features = Object.entries(report.skew.features);
    assert.equal(features.length, header.length - 1);
    // Re-binned on its own range, this sample gave 0.13 on CRIM and PTRATIO; on the training buckets about 0.006.
    for (const [feature, { distance }] of features) assert.ok(distance !== null && distance < 0.03, `${feature}: skew ${distance}`);
  });

  test('a feature whose served values all sit on the most common training value (CHAS = 0) does not score 1.0', { timeout: 120_000 }, async () => {
    const chas = header.indexOf('CHAS');
    const zeros = rows.slice(1).filter((line) => line.split(',')[chas] === '0').slice(0, 200);
    assert.equal(zeros.length, 200);
    const log = writeLog(join(ws, 'log-chas'), zeros);
    const result = await cli(['monitor', 'housing-linear', '--log', log, '--since', '1970-01-01T00:00:00Z', '--json'], { cwd: ws });
    const report = result.json as { skew: { features: Record<string, { distance: number | null }> } };
    assert.ok(report?.skew, result.stderr);
    const distance = report.skew.features.CHAS!.distance!;
    // Training holds about 7% ones: the divergence of all zeros against it is about 0.04.
    assert.ok(distance > 0 && distance < 0.1, `CHAS: skew ${distance}`);
  });

  test('served values outside the training range count as their own bucket, so they show as skew', { timeout: 120_000 }, async () => {
    const rm = header.indexOf('RM');
    const shifted = sample(rows.slice(1), 200).map((line) => line.split(',').map((v, k) => (k === rm ? String(Number(v) + 100) : v)).join(','));
    const log = writeLog(join(ws, 'log-shifted'), shifted);
    const html = join(ws, 'shifted.html');
    const result = await cli(['monitor', 'housing-linear', '--log', log, '--since', '1970-01-01T00:00:00Z', '--html', html, '--json'], { cwd: ws });
    const report = result.json as { skew: { features: Record<string, { distance: number | null }> }; crossed: string[] };
    // The page draws training and served histograms on one x axis: the same tick labels in both.
    const page = readFileSync(html, 'utf8');
    const section = page.slice(page.indexOf('<h3>RM</h3>'), page.indexOf('<h3>', page.indexOf('<h3>RM</h3>') + 4));
    const xTicks = [...section.matchAll(/<svg[\s\S]*?<\/svg>/g)].map((svg) => {
      const axis = /role-axis-label[\s\S]*?<\/g><\/g>/.exec(svg[0])![0];
      return [...axis.matchAll(/>([^<]+)<\/text>/g)].map((m) => m[1]);
    });
    assert.equal(xTicks.length, 2);
    assert.ok(xTicks[0]!.length >= 3);
    assert.deepEqual(xTicks[0], xTicks[1]);
    assert.ok(report?.skew, result.stderr);
    assert.ok(report.skew.features.RM!.distance! > 0.9, `RM: skew ${report.skew.features.RM!.distance}`);
    assert.ok(report.crossed.includes('skew:RM'));
  });
});
