/**
 * One block of CSV lines in, the same lines with their predictions appended out: parse the model's
 * columns (csv-fast-reader), predict through the bundle (the transform and model of the server),
 * format the predictions as DuckDB writes them. Runs on the main thread or in a worker.
 */
import type { LoadedBundle } from '../bundle/load.js';
import type { RawColumn } from '../features/transform.js';
import { formatDouble, formatText } from './csv-format.js';
import { parseBlock, type CsvLayout, type PassThroughCounts } from './csv-fast-reader.js';

export interface BlockResult {
  rows: number;
  /** The output lines (each ending in LF); empty when a required cell is empty. */
  output: Uint8Array;
  present: Float64Array;
  passThrough: PassThroughCounts;
  /** The first empty required cell (row in the block, input index), row -1 if none. */
  emptyRow: number;
  emptyInput: number;
}

/** The columns the output adds, in order: prediction, then a probability per class. */
export function addedColumns(classes: string[] | undefined): string[] {
  return classes ? ['prediction', ...classes.map((c) => `probability_${c}`)] : ['prediction'];
}

/** The header line of the output: the input's header line and the added names. */
export function outputHeader(header: string, classes: string[] | undefined): string {
  return `${header},${addedColumns(classes).map(formatText).join(',')}\n`;
}

/** The text each row gets after its line and a comma: "prediction" or "class,p1,p2...". */
function suffixes(bundle: LoadedBundle, outputs: Float64Array, rows: number): string[] {
  const out = new Array<string>(rows);
  if (!bundle.manifest.classes) {
    for (let i = 0; i < rows; i++) out[i] = formatDouble(outputs[i]!);
    return out;
  }
  const predictions = bundle.toPredictions(outputs, rows) as { class: string; probabilities: number[] }[];
  for (let i = 0; i < rows; i++) {
    const p = predictions[i]!;
    let text = formatText(p.class);
    for (const q of p.probabilities) text += `,${formatDouble(q)}`;
    out[i] = text;
  }
  return out;
}

export async function predictBlock(bundle: LoadedBundle, layout: CsvLayout, block: Uint8Array, expectedRows?: number): Promise<BlockResult> {
  const parsed = parseBlock(block, layout, expectedRows);
  const { rows, present, passThrough, emptyRow, emptyInput } = parsed;
  if (emptyRow >= 0) return { rows, output: new Uint8Array(0), present, passThrough, emptyRow, emptyInput };
  const columns = new Map<string, RawColumn>(layout.inputs.map(({ name }, k) => [name, parsed.columns[k]!]));
  // One code path for every block size: the last block is short, and a row's answer must not
  // depend on the block it fell in, nor on the way (DuckDB's chunks give the same).
  const outputs = await bundle.predictColumns(columns, rows, { uniform: true });
  const text = suffixes(bundle, outputs, rows);
  const ascii = !bundle.manifest.classes || bundle.manifest.classes.every((c) => /^[\x20-\x7e]*$/.test(c));
  const { bytes, lineStart, lineEnd } = parsed;
  let size = 0;
  for (let i = 0; i < rows; i++) size += lineEnd[i]! - lineStart[i]! + 2 + (ascii ? text[i]!.length : Buffer.byteLength(text[i]!));
  // Not from Buffer's shared pool: the block may be transferred to another thread.
  const output = Buffer.allocUnsafeSlow(size);
  const source = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  for (let i = 0; i < rows; i++) {
    at += source.copy(output, at, lineStart[i]!, lineEnd[i]!);
    output[at++] = 44;
    const t = text[i]!;
    // Short ASCII text: a byte loop beats a call into Buffer.write per row (2-3x here).
    if (ascii) for (let k = 0; k < t.length; k++) output[at++] = t.charCodeAt(k);
    else at += output.write(t, at, 'utf8');
    output[at++] = 10;
  }
  return { rows, output, present, passThrough, emptyRow, emptyInput };
}
