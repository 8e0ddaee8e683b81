/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}

/** A table of text cells; the first row holds the headers. */
export function htmlTable(headers: string[], rows: string[][]): string {
  return `<table><tr>${headers.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`)
    .join('')}</table>`;
}

const BASE_STYLE = `body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin-bottom: 2em; } td, th { padding: 2px 8px; border-bottom: 1px solid #ddd; text-align: left; }
td:nth-child(n+2) { font-variant-numeric: tabular-nums; }`;

/**
 * A self-contained page: inline style, inline SVG, no scripts, and a content security policy that
 * forbids fetching anything, so it opens offline exactly as written.
 */
export function htmlPage(title: string, body: string, style = ''): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>${escapeHtml(title)}</title>
<style>
${BASE_STYLE}
${style}
</style></head>
<body><h1>${escapeHtml(title)}</h1>
${body}
</body></html>
`;
}
