import { escapeHtml, htmlPage, htmlTable } from '../charts/page.js';
import { histogramSpec, renderSvg, valueCountsSpec } from '../charts/render.js';
import type { DatasetStatistics, FeatureStatistics } from './statistics.js';

const BARS = '▁▂▃▄▅▆▇█';

/** A histogram as eight-level unicode bars, one per bucket. */
export function sparkline(counts: number[]): string {
  const max = Math.max(...counts, 0);
  if (max === 0) return ' '.repeat(counts.length);
  return counts.map((c) => (c === 0 ? ' ' : BARS[Math.min(7, Math.floor((c / max) * 7.999))]!)).join('');
}

function num(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '-';
  if (value !== 0 && (Math.abs(value) >= 1e6 || Math.abs(value) < 1e-3)) return value.toExponential(2);
  return String(Number(value.toPrecision(5)));
}

/** One text row per feature: the table `atelier data stats` prints. */
export function statisticsRows(stats: DatasetStatistics): string[][] {
  return Object.values(stats.features).map((f: FeatureStatistics) => {
    const numeric = f.type === 'int' || f.type === 'float';
    const shape = numeric
      ? sparkline((f.histogram ?? []).map((b) => b.count))
      : (f.topValues ?? [])
          .slice(0, 3)
          .map((v) => `${v.value} ${Math.round((v.count / Math.max(1, f.count)) * 100)}%`)
          .join(', ');
    return [
      f.name,
      f.type,
      String(f.count),
      f.missing > 0 ? `${f.missing} (${((f.missing / Math.max(1, stats.rowCount)) * 100).toFixed(1)}%)` : '0',
      numeric ? num(f.mean) : '-',
      numeric ? num(f.std) : '-',
      numeric ? num(f.min) : '-',
      numeric ? num(f.median) : '-',
      numeric ? num(f.max) : '-',
      `${f.unique}${f.uniqueExact ? '' : '~'}`,
      shape,
    ];
  });
}

export const STATISTICS_HEADERS = ['FEATURE', 'TYPE', 'COUNT', 'MISSING', 'MEAN', 'STD', 'MIN', 'MEDIAN', 'MAX', 'UNIQUE', 'HISTOGRAM / TOP VALUES'];

/**
 * A self-contained HTML page: a summary table and, per feature, its equal-width histogram
 * (numbers) or value counts (categories) as inline SVG rendered from Vega-Lite, with its quantiles
 * as text. Quantile buckets are not drawn: many share a bound (a value held by a tenth of the
 * rows makes a bucket of zero width), and their heights would be counts over unequal widths.
 * The label column, when known, is marked.
 */
export async function statisticsPage(title: string, stats: DatasetStatistics, label?: string): Promise<string> {
  const rows = statisticsRows(stats).map((row) => (row[0] === label ? [`${row[0]} (label)`, ...row.slice(1)] : row));
  const cards: string[] = [];
  for (const f of Object.values(stats.features)) {
    const charts: string[] = [];
    const isLabel = f.name === label;
    const name = `${f.name}${isLabel ? ' (label)' : ''}`;
    if (f.histogram && f.histogram.length > 0) charts.push(await renderSvg(histogramSpec(`${name}: ${f.histogram.length} equal-width buckets`, f.histogram, undefined, CHART_SIZE)));
    if (f.type !== 'int' && f.type !== 'float' && f.topValues && f.topValues.length > 0) {
      charts.push(await renderSvg(valueCountsSpec(`${name}: top values`, f.topValues, CHART_SIZE.width)));
    }
    const quantiles = f.quantiles
      ? Object.entries(f.quantiles)
          .map(([q, v]) => `${q} ${num(v)}`)
          .join(' · ')
      : '';
    cards.push(
      `<section${isLabel ? ' class="label"' : ''}><h2>${escapeHtml(f.name)} <small>${f.type}${isLabel ? ' · label' : ''}</small></h2><p>${escapeHtml(quantiles)}</p><div class="charts">${charts.join('')}</div></section>`,
    );
  }
  return htmlPage(
    title,
    `<p>${stats.rowCount} rows · ${Object.keys(stats.features).length} features${label ? ` · label ${escapeHtml(label)}` : ''}</p>\n${htmlTable(STATISTICS_HEADERS, rows)}\n${cards.join('\n')}`,
    `td:nth-child(2) { font-variant-numeric: normal; }
section { display: inline-block; vertical-align: top; margin: 0 2em 2em 0; } h2 small { color: #888; font-weight: normal; }
section.label { outline: 2px solid #e45756; outline-offset: 6px; }
.charts svg { display: block; margin-bottom: 0.5em; }`,
  );
}

/** Large enough to read tick labels and bars at a glance. */
const CHART_SIZE = { width: 420, height: 180 };
