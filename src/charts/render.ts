import type { TopLevelSpec } from 'vega-lite';

/**
 * Renders a Vega-Lite spec to a standalone SVG string in Node (no browser, no canvas, no network):
 * pages embed the SVG, so they open offline.
 */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const [vega, vegaLite] = await Promise.all([import('vega'), import('vega-lite')]);
  const compiled = vegaLite.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** A small bar chart of histogram buckets. */
/** `domain` fixes the x axis (two histograms drawn to be compared share one). */
export function histogramSpec(
  title: string,
  buckets: { low: number; high: number; count: number }[],
  domain?: [number, number],
  size: { width: number; height: number } = { width: 260, height: 120 },
): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    width: size.width,
    height: size.height,
    data: { values: buckets },
    mark: { type: 'bar', tooltip: true },
    encoding: {
      x: { field: 'low', bin: { binned: true }, type: 'quantitative', title: null, ...(domain ? { scale: { domain, nice: false } } : {}) },
      x2: { field: 'high' },
      // Buckets never overlap: each bar stands on zero, never on another (Vega-Lite stacks bars at one x by default).
      y: { field: 'count', type: 'quantitative', title: 'rows', stack: null },
    },
  };
}

/** Horizontal bars of value counts (categorical features). */
export function valueCountsSpec(title: string, counts: { value: string; count: number }[], width = 260): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    width,
    height: { step: 14 },
    data: { values: counts },
    mark: { type: 'bar', tooltip: true },
    encoding: {
      y: { field: 'value', type: 'nominal', sort: '-x', title: null },
      x: { field: 'count', type: 'quantitative', title: 'rows' },
    },
  };
}
