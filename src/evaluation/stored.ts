import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Chart } from './charts.js';
import type { TaskReport } from './task-report.js';
import type { ImportanceResult } from './importance.js';

/** The bundle's evaluation folder: metrics.json (summary), report.json (everything), charts/*.svg. */
export const EVALUATION_DIR = 'evaluation';

/** The held-out evaluation as bundle files (path inside the bundle → content). */
export function evaluationFiles(report: TaskReport, charts: Chart[], importance?: ImportanceResult): Record<string, string> {
  return {
    [`${EVALUATION_DIR}/report.json`]: JSON.stringify(report, null, 2) + '\n',
    ...(importance ? { [`${EVALUATION_DIR}/importance.json`]: JSON.stringify(importance, null, 2) + '\n' } : {}),
    ...Object.fromEntries(charts.map((c) => [`${EVALUATION_DIR}/charts/${c.name}.svg`, c.svg])),
  };
}

export interface StoredEvaluation {
  /** The full held-out report; absent in bundles written before it was stored. */
  report?: TaskReport;
  /** Permutation importance on the held-out rows (absent in older bundles). */
  importance?: ImportanceResult;
  /** Chart name → SVG file path. */
  charts: Record<string, string>;
}

/** Reads what training stored about the held-out split in a bundle. */
export function readStoredEvaluation(bundleDir: string): StoredEvaluation {
  const dir = join(bundleDir, EVALUATION_DIR);
  const reportFile = join(dir, 'report.json');
  const chartsDir = join(dir, 'charts');
  const charts = existsSync(chartsDir)
    ? Object.fromEntries(
        readdirSync(chartsDir)
          .filter((f) => f.endsWith('.svg'))
          .sort()
          .map((f) => [f.slice(0, -4), join(chartsDir, f)]),
      )
    : {};
  const importanceFile = join(dir, 'importance.json');
  return {
    ...(existsSync(reportFile) ? { report: JSON.parse(readFileSync(reportFile, 'utf8')) as TaskReport } : {}),
    ...(existsSync(importanceFile) ? { importance: JSON.parse(readFileSync(importanceFile, 'utf8')) as ImportanceResult } : {}),
    charts,
  };
}
