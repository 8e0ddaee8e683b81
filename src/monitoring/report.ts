import { htmlPage, htmlTable, escapeHtml } from '../charts/page.js';
import { histogramSpec, renderSvg, valueCountsSpec } from '../charts/render.js';
import type { FeatureDistance } from '../data/drift.js';
import type { FeatureStatistics } from '../data/statistics.js';
import type { MonitorReport } from './monitor.js';

const show = (d: FeatureDistance | null | undefined) => (d?.distance == null ? '-' : `${d.distance.toFixed(4)}${d.crossed ? ' !' : ''}`);

/** One row per compared feature: skew against training, drift against the previous window. */
export function monitorRows(report: MonitorReport): string[][] {
  const names = [...new Set([...Object.keys(report.skew?.features ?? {}), ...Object.keys(report.drift?.features ?? {})])].filter((n) => n !== 'prediction');
  const rows = names.map((n) => {
    const f = report.skew?.features[n] ?? report.drift?.features[n];
    return [n, f?.metric ?? '-', show(report.skew?.features[n]), show(report.drift?.features[n])];
  });
  rows.push(['prediction', report.prediction.skew?.metric ?? report.prediction.drift?.metric ?? '-', show(report.prediction.skew), show(report.prediction.drift)]);
  return rows;
}

export const MONITOR_HEADERS = ['FEATURE', 'METRIC', 'SKEW (vs training)', 'DRIFT (vs previous window)'];

function chart(title: string, f: FeatureStatistics | undefined, domain?: [number, number]) {
  if (!f) return undefined;
  if (f.histogram && f.histogram.length > 0) return histogramSpec(title, f.histogram, domain);
  if (f.topValues && f.topValues.length > 0) return valueCountsSpec(title, f.topValues);
  return undefined;
}

/** A self-contained page: the table, then per feature the training and served histograms side by side (inline SVG). */
export async function monitorPage(report: MonitorReport): Promise<string> {
  const training = report.statistics.training?.features ?? {};
  const served = report.statistics.window?.features ?? {};
  const sections: string[] = [];
  for (const name of Object.keys(served)) {
    const base = name === 'prediction' ? (report.label ? training[report.label] : undefined) : training[name];
    // Both histograms on one x axis, so a shift shows as a shift.
    const buckets = [...(base?.histogram ?? []), ...(served[name]?.histogram ?? [])];
    const domain: [number, number] | undefined = buckets.length
      ? [Math.min(...buckets.map((b) => b.low)), Math.max(...buckets.map((b) => b.high))]
      : undefined;
    const specs = [chart(`${name}: training`, base, domain), chart(`${name}: served`, served[name], domain)].filter((s) => s !== undefined);
    const svgs = await Promise.all(specs.map((s) => renderSvg(s)));
    sections.push(`<h3>${escapeHtml(name)}</h3><div class="charts">${svgs.join('')}</div>`);
  }
  const head = `<p>${report.window.rows} instances from ${escapeHtml(report.window.from ?? '-')} to ${escapeHtml(report.window.to ?? '-')}; training data ${escapeHtml(report.trainingData ?? 'unknown')}.
${report.crossed.length ? `<strong>Thresholds crossed: ${escapeHtml(report.crossed.join(', '))}</strong>` : 'No threshold crossed.'}</p>`;
  return htmlPage(`${report.model}@${report.version}: served traffic`, head + htmlTable(MONITOR_HEADERS, monitorRows(report)) + sections.join('\n'), '.charts{display:flex;gap:1em}');
}
