import { LineCounter, parseDocument } from '#yaml';
import { AtelierError } from './errors.js';

/** Where in a YAML text a field path points (the nearest node that exists), for error messages. */
export function yamlLineOf(doc: ReturnType<typeof parseDocument>, counter: LineCounter, path: (string | number)[]): number | undefined {
  for (let depth = path.length; depth >= 0; depth--) {
    const node = doc.getIn(path.slice(0, depth), true) as { range?: [number, number, number] } | undefined;
    if (node && node.range) return counter.linePos(node.range[0]).line;
  }
  return undefined;
}

/** Parses YAML text, keeping line positions for error messages; a syntax error names the file and line. */
export function parseYamlText(text: string, file: string): { doc: ReturnType<typeof parseDocument>; counter: LineCounter; raw: unknown } {
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: false });
  if (doc.errors.length > 0) {
    const err = doc.errors[0]!;
    const line = err.linePos?.[0]?.line ?? counter.linePos(err.pos[0]).line;
    throw new AtelierError('CONFIG_INVALID', `${file}${line ? `:${line}` : ''}: not valid YAML: ${err.message.split('\n')[0]}`, { file, line });
  }
  return { doc, counter, raw: doc.toJS() };
}
