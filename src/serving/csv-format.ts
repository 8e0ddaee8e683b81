/**
 * Values written as DuckDB's `COPY ... (FORMAT CSV)` writes them, so that the fast batch path's
 * prediction columns are byte for byte those of the DuckDB path.
 */

/**
 * A double as DuckDB writes it: the shortest text that reads back to the same double (as JS), in
 * fixed notation for decimal exponents -4..15 with ".0" on whole numbers, otherwise in scientific
 * notation with a signed exponent of at least two digits (1e-05, 1.5e+16); nan, inf, -inf.
 */
export function formatDouble(v: number): string {
  const a = Math.abs(v);
  // JS writes fixed notation for 1e-7 <= |v| < 1e21: the same digits, and the common case.
  if (a >= 1e-4 && a < 1e16) {
    const s = String(v);
    return Number.isInteger(v) ? `${s}.0` : s;
  }
  if (v === 0) return Object.is(v, -0) ? '-0.0' : '0.0';
  if (v !== v) return 'nan';
  if (a === Number.POSITIVE_INFINITY) return v > 0 ? 'inf' : '-inf';
  // toExponential() without digits gives the shortest round-tripping mantissa: "1.5e-7".
  const s = v.toExponential();
  const e = s.indexOf('e');
  const exponent = s.slice(e + 2);
  return `${s.slice(0, e)}e${s[e + 1]}${exponent.length < 2 ? `0${exponent}` : exponent}`;
}

/** A text field: quoted (quotes doubled) when empty or holding a comma, quote or line break. */
export function formatText(text: string): string {
  return text === '' || /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}
