import type { FastifyInstance } from 'fastify';
import { AtelierError } from '../core/errors.js';
import type { LoadedBundle } from '../bundle/load.js';
import type { SignatureTensor } from '../bundle/format.js';
import { missingRules } from '../features/transform.js';
import type { DataPlane, ModelTarget } from './dataplane.js';

/**
 * The Open Inference Protocol v2 (KServe, Triton, MLServer) over the data plane:
 *   GET  /v2, /v2/health/live, /v2/health/ready
 *   GET  /v2/models/{m}[/versions/{v}]          metadata
 *   GET  /v2/models/{m}[/versions/{v}]/ready
 *   POST /v2/models/{m}[/versions/{v}]/infer    {inputs: [{name, shape, datatype, data}]} -> {outputs: [...]}
 */

const DATATYPES: Record<SignatureTensor['dtype'], string> = { float64: 'FP64', float32: 'FP32', int64: 'INT64', string: 'BYTES', bool: 'BOOL' };
/** Integer datatypes and their ranges; (U)INT64 within what a JSON number (a double) holds exactly. */
const RANGES: Record<string, [number, number]> = {
  INT8: [-128, 127],
  INT16: [-32768, 32767],
  INT32: [-(2 ** 31), 2 ** 31 - 1],
  INT64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  UINT8: [0, 255],
  UINT16: [0, 65535],
  UINT32: [0, 2 ** 32 - 1],
  UINT64: [0, Number.MAX_SAFE_INTEGER],
};
const INTEGER = new Set(Object.keys(RANGES));
const NUMERIC = new Set(['FP16', 'FP32', 'FP64', ...INTEGER]);
const KNOWN = new Set([...NUMERIC, 'BOOL', 'BYTES']);

interface RequestTensor {
  name: string;
  shape: number[];
  datatype: string;
  data: unknown;
}

function tensorMetadata(t: SignatureTensor) {
  return { name: t.name, datatype: DATATYPES[t.dtype], shape: [-1, ...t.shape] };
}

/**
 * Row-major flattening of nested data, at most as deep as the tensor's shape: a level at a time,
 * so data nested deeper (100,000 levels) is refused instead of recursed into.
 */
function flatten(data: unknown, rank: number, where: string): unknown[] {
  let values: unknown[] = Array.isArray(data) ? data : [data];
  for (let level = 1; level < rank && values.some(Array.isArray); level++) values = values.flat(1) as unknown[];
  if (values.some(Array.isArray)) {
    throw new AtelierError('REQUEST_INVALID', `${where}: "data" is nested deeper than its shape's ${rank} dimension${rank === 1 ? '' : 's'}`);
  }
  return values;
}

/** Whether a tensor's datatype fits an input of the signature. */
function accepts(input: SignatureTensor, datatype: string): boolean {
  if (input.dtype === 'string') return datatype === 'BYTES';
  if (input.dtype === 'bool') return datatype === 'BOOL';
  if (input.dtype === 'int64') return INTEGER.has(datatype);
  return NUMERIC.has(datatype);
}

/**
 * A tensor's values held to its datatype: integers whole and in range, BOOL also as 0 and 1 (some
 * clients send those). Null and NaN pass as missing, and a value of another JSON type is left to
 * the input check, which names the instance as for the TF Serving formats.
 */
function typedValues(values: unknown[], datatype: string, where: string, feature: string): unknown[] {
  const range = RANGES[datatype];
  if (range) {
    for (const v of values) {
      if (typeof v !== 'number' || Number.isNaN(v)) continue;
      if (!Number.isInteger(v)) throw new AtelierError('INPUT_INVALID', `${where}: ${v} is not a whole number; ${datatype} takes integers`, { feature, expected: datatype });
      if (v < range[0] || v > range[1]) throw new AtelierError('INPUT_INVALID', `${where}: ${v} is outside ${datatype}'s range [${range[0]}, ${range[1]}]`, { feature, expected: datatype });
    }
  }
  return datatype === 'BOOL' ? values.map((v) => (v === 1 ? true : v === 0 ? false : v)) : values;
}

/** The infer body as rows keyed by input name: one row per entry of each tensor's first dimension. */
export function inferRows(body: unknown, bundle: LoadedBundle): unknown[] {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new AtelierError('REQUEST_INVALID', 'the request body must be an object with "inputs"');
  const inputs = (body as { inputs?: unknown }).inputs;
  if (!Array.isArray(inputs) || inputs.length === 0) throw new AtelierError('REQUEST_INVALID', '"inputs" must be a non-empty list of tensors {name, shape, datatype, data}');
  const signature = new Map(bundle.manifest.signature.inputs.map((t) => [t.name, t]));
  let rows = -1;
  const columns = new Map<string, unknown[]>();
  inputs.forEach((raw, index) => {
    const t = raw as Partial<RequestTensor>;
    const where = `inputs[${index}]${typeof t?.name === 'string' ? ` ("${t.name}")` : ''}`;
    if (t === null || typeof t !== 'object' || typeof t.name !== 'string') throw new AtelierError('REQUEST_INVALID', `${where}: expected {name, shape, datatype, data}`);
    if (!Array.isArray(t.shape) || t.shape.length === 0 || !t.shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new AtelierError('REQUEST_INVALID', `${where}: "shape" must be a list of sizes, the first being the number of rows`);
    }
    if (typeof t.datatype !== 'string' || !KNOWN.has(t.datatype)) {
      throw new AtelierError('REQUEST_INVALID', `${where}: datatype ${JSON.stringify(t.datatype)} is not one of ${[...KNOWN].join(', ')}`);
    }
    const input = signature.get(t.name);
    if (!input) throw new AtelierError('INPUT_INVALID', `${where}: unknown input "${t.name}"; the model takes ${[...signature.keys()].join(', ')}`, { feature: t.name });
    if (!accepts(input, t.datatype)) {
      throw new AtelierError('INPUT_INVALID', `${where}: input "${t.name}" is ${DATATYPES[input.dtype]}; got datatype ${t.datatype}`, { feature: t.name, expected: DATATYPES[input.dtype], got: t.datatype });
    }
    const values = flatten(t.data, t.shape.length, where);
    const size = t.shape.reduce((a, b) => a * b, 1);
    if (values.length !== size) {
      throw new AtelierError('INPUT_INVALID', `${where}: shape [${t.shape.join(', ')}] holds ${size} values; data has ${values.length}`, { feature: t.name });
    }
    if (size !== t.shape[0]) {
      throw new AtelierError('INPUT_INVALID', `${where}: input "${t.name}" takes one value per row; shape [${t.shape.join(', ')}] has ${size / t.shape[0]!} per row`, { feature: t.name });
    }
    if (rows >= 0 && t.shape[0] !== rows) throw new AtelierError('INPUT_INVALID', `${where}: ${t.shape[0]} rows; the inputs before it have ${rows}`, { feature: t.name });
    rows = t.shape[0]!;
    columns.set(t.name, typedValues(values, t.datatype, where, t.name));
  });
  // With no rows the input check has no row to miss a feature in: a missing tensor is named here.
  const rules = missingRules(bundle.transform);
  const absent = rows === 0 ? [...signature.keys()].find((name) => !columns.has(name) && rules.get(name) !== 'omit') : undefined;
  if (absent !== undefined) throw new AtelierError('INPUT_INVALID', `missing input "${absent}"; the model takes ${[...signature.keys()].join(', ')}`, { feature: absent });
  return Array.from({ length: rows }, (_v, i) => Object.fromEntries([...columns].map(([name, values]) => [name, values[i]])));
}

function versionOf(params: { version?: string }): number | undefined {
  if (params.version === undefined) return undefined;
  if (!/^\d+$/.test(params.version)) throw new AtelierError('REQUEST_INVALID', `version "${params.version}" is not a number`);
  return Number(params.version);
}

function targetOf(params: { model: string; version?: string }): ModelTarget {
  const version = versionOf(params);
  return version === undefined ? { model: params.model } : { model: params.model, version };
}

export function registerV2Routes(app: FastifyInstance, plane: DataPlane): void {
  app.get('/v2', async () => plane.serverMetadata());
  app.get('/v2/health/live', async () => ({ live: plane.live() }));
  app.get('/v2/health/ready', async (_request, reply) => {
    const ready = plane.ready();
    return reply.status(ready ? 200 : 503).send({ ready });
  });

  const metadata = async (request: { params: unknown }) => {
    const { model, version, versions, manifest } = plane.metadata(targetOf(request.params as { model: string; version?: string }));
    return {
      name: model,
      versions: versions.map(String),
      platform: `atelier-${manifest.family}`,
      inputs: manifest.signature.inputs.map(tensorMetadata),
      outputs: manifest.signature.outputs.map(tensorMetadata),
      parameters: { version: String(version), task: manifest.task },
    };
  };
  app.get('/v2/models/:model', metadata);
  app.get('/v2/models/:model/versions/:version', metadata);

  const ready = async (request: { params: unknown }, reply: { status(code: number): { send(body: unknown): unknown } }) => {
    const target = targetOf(request.params as { model: string; version?: string });
    const isReady = plane.modelReady(target);
    return reply.status(isReady ? 200 : 503).send({ name: target.model, ready: isReady });
  };
  app.get('/v2/models/:model/ready', ready);
  app.get('/v2/models/:model/versions/:version/ready', ready);

  const infer = async (request: { params: unknown; body: unknown; id: string }) => {
    const body = request.body as { id?: unknown; outputs?: { name?: unknown }[] } | null;
    if (body?.id !== undefined && body.id !== null && typeof body.id !== 'string') throw new AtelierError('REQUEST_INVALID', '"id" must be a string');
    // Without an id, the request's: its x-request-id header, else one generated (server.ts genReqId).
    const id = typeof body?.id === 'string' ? body.id : request.id;
    const result = await plane.infer(targetOf(request.params as { model: string; version?: string }), {
      api: 'infer',
      requestId: id,
      decode: (bundle) => inferRows(body, bundle),
    });
    const n = result.predictions.length;
    const { bundle, outputs } = result;
    const classes = bundle.manifest.classes;
    let tensors: { name: string; shape: number[]; datatype: string; data: unknown[] }[];
    if (!classes) tensors = [{ name: 'prediction', shape: [n], datatype: 'FP64', data: Array.from(outputs) }];
    else {
      const rows = result.predictions as { class: string; probabilities: number[] }[];
      tensors = [
        { name: 'class', shape: [n], datatype: 'BYTES', data: rows.map((p) => p.class) },
        { name: 'probabilities', shape: [n, classes.length], datatype: 'FP64', data: rows.flatMap((p) => p.probabilities) },
      ];
    }
    const wanted = Array.isArray(body?.outputs) ? body.outputs.map((o) => o?.name) : undefined;
    if (wanted) {
      const unknown = wanted.find((w) => !tensors.some((t) => t.name === w));
      if (unknown !== undefined) throw new AtelierError('REQUEST_INVALID', `unknown output ${JSON.stringify(unknown)}; the model answers ${tensors.map((t) => t.name).join(', ')}`);
      tensors = tensors.filter((t) => wanted.includes(t.name));
    }
    return { model_name: result.model, model_version: String(result.version), id, parameters: {}, outputs: tensors };
  };
  app.post('/v2/models/:model/infer', infer);
  app.post('/v2/models/:model/versions/:version/infer', infer);
}
