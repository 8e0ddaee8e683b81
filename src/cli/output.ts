/** Rendering helpers for human output; --json output is the command's result object as is. */
import { formatNumber } from '../core/format.js';

export { formatNumber };

export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_h, j) => Math.max(...cells.map((r) => (r[j] ?? '').length)));
  return cells.map((r) => r.map((c, j) => c.padEnd(widths[j]!)).join('  ').trimEnd()).join('\n');
}


export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

/** Indents every line of a block, for tables nested under a heading line. */
/** 1536 -> "1.5 KiB". */
export function formatBytes(bytes: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} bytes` : `${value.toFixed(1)} ${units[unit]}`;
}

export function indent(text: string, prefix = '  '): string {
  return text
    .split('\n')
    .map((line) => prefix + line)
    .join('\n');
}

export function columnsTable(columns: { name: string; type: string; sourceType: string }[]): string {
  return indent(table(['COLUMN', 'TYPE', 'READ AS'], columns.map((c) => [c.name, c.type, c.sourceType])));
}

const METRIC_LABELS: Record<string, string> = { rmse: 'RMSE', mae: 'MAE', r2: 'R²', accuracy: 'accuracy', logloss: 'log loss', auc: 'ROC AUC' };

/** "RMSE 2.887 · MAE 2.115 · R² 0.894" or "accuracy 0.967 · log loss 0.121". */
export function formatMetrics(metrics: object): string {
  return Object.entries(metrics)
    .filter(([key, value]) => key in METRIC_LABELS && typeof value === 'number')
    .map(([key, value]) => `${METRIC_LABELS[key]} ${formatNumber(value as number)}`)
    .join(' · ');
}
