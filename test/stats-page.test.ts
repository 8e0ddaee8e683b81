import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { chromium } from 'playwright-core';
import { cli, HOUSING, tempDir } from './helpers.js';

/** Debian's chromium; CI installs it (.ci/run). */
const CHROMIUM = '/usr/bin/chromium';

describe('data stats --html: the page in a browser', () => {
  let ws: string;
  before(async () => {
    ws = tempDir('atelier-stats-page-');
    for (const args of [
      ['init', '.'],
      ['data', 'import', HOUSING, '--name', 'housing'],
      ['data', 'schema', 'infer', 'housing@1', '--label', 'MEDV'],
      ['data', 'schema', 'save', 'housing.schema.yaml', '--dataset', 'housing'],
      ['data', 'stats', 'housing', '--html', 'stats.html'],
    ]) {
      const result = await cli(args, { cwd: ws });
      assert.equal(result.code, 0, `atelier ${args.join(' ')}: ${result.stderr}`);
    }
  });

  test('every histogram has bars, every bar stands on the axis (none stacked or floating), the label is marked', { timeout: 120_000 }, async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: install Debian's chromium package`);
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    try {
      const page = await browser.newPage();
      const problems: string[] = [];
      page.on('pageerror', (e) => problems.push(e.message));
      await page.goto(`file://${join(ws, 'stats.html')}`, { waitUntil: 'load' });
      assert.deepEqual(problems, []);
      const charts = await page.locator('section svg').evaluateAll((svgs) =>
        svgs.map((svg) => {
          const title = svg.querySelector('.role-title-text')?.textContent ?? '';
          const bars = [...svg.querySelectorAll('.mark-rect path')].map((bar) => {
            const box = (bar as SVGGraphicsElement).getBoundingClientRect();
            return { top: box.top, bottom: box.bottom, left: box.left, right: box.right };
          });
          const frame = svg.getBoundingClientRect();
          return { title, bars, width: frame.width, height: frame.height };
        }),
      );
      // 14 numeric columns: one equal-width histogram each (the quantile buckets are listed as text, not drawn).
      assert.equal(charts.length, 14, charts.map((c) => c.title).join(' | '));
      for (const chart of charts) {
        assert.ok(chart.width >= 400 && chart.height >= 180, `${chart.title}: ${chart.width}x${chart.height}`);
        const drawn = chart.bars.filter((b) => b.bottom - b.top > 0.5);
        assert.ok(drawn.length > 0, `${chart.title}: no bar with data`);
        // One baseline: a stacked or floating bar would end above it.
        const baseline = Math.max(...drawn.map((b) => b.bottom));
        for (const bar of drawn) assert.ok(Math.abs(bar.bottom - baseline) < 0.5, `${chart.title}: a bar ends at ${bar.bottom}, the axis is at ${baseline}`);
        // Buckets do not overlap.
        const sorted = [...drawn].sort((a, b) => a.left - b.left);
        for (let i = 1; i < sorted.length; i++) assert.ok(sorted[i]!.left >= sorted[i - 1]!.right - 0.5, `${chart.title}: bars overlap`);
      }
      assert.match(charts.find((c) => c.title.startsWith('MEDV'))!.title, /^MEDV \(label\)/);
      assert.equal(await page.locator('section.label h2').innerText(), 'MEDV float · label');
    } finally {
      await browser.close();
    }
  });
});
