import type { FastifyInstance, FastifyRequest } from 'fastify';
import { NAME_PATTERN, NAME_RULE } from '../core/config.js';
import { AtelierError } from '../core/errors.js';
import type { LoadedBundle } from '../bundle/load.js';
import type { SignatureTensor } from '../bundle/format.js';
import { missingRules } from '../features/transform.js';
import type { DataPlane, InferResult, ModelTarget } from './dataplane.js';

/**
 * TF Serving's REST API over the data plane (messages as tensorflow_serving's json_tensor.cc and
 * http_rest_api_handler.cc word them):
 *   GET  /v1/models/{m}[/versions/{v}|/labels/{l}]            model_version_status
 *   GET  /v1/models/{m}[/versions/{v}|/labels/{l}]/metadata   signature_def
 *   POST /v1/models/{m}[/versions/{v}|/labels/{l}]:predict    instances -> predictions, inputs -> outputs
 *   POST ...:classify, ...:regress                            examples (+ context) -> results
 */
const PATH = /^([^/:]+)(?:\/versions\/([^/:]+)|\/labels\/([^/:]+))?(\/metadata|:[A-Za-z]+)?$/;

/** `rest` is the route's wildcard, which the router has already percent-decoded: decoding it again would misread `%25`. */
export function parseModelPath(method: string, rest: string): { target: ModelTarget; action: string } {
  const match = PATH.exec(rest);
  if (!match) throw new AtelierError('REQUEST_INVALID', `Malformed request: ${method} /v1/models/${rest}`);
  const [, model, version, label, action] = match;
  if (!NAME_PATTERN.test(model!)) {
    throw new AtelierError('REQUEST_INVALID', `Malformed request: ${method} /v1/models/${rest}: "${model}" is not a model name (${NAME_RULE})`);
  }
  const target: ModelTarget = { model: model! };
  if (version !== undefined) {
    if (!/^\d+$/.test(version)) throw new AtelierError('REQUEST_INVALID', `Failed to convert version: ${version} to numeric.`);
    target.version = Number(version);
  }
  if (label !== undefined) target.label = label;
  return { target, action: action ?? '' };
}

const show = (value: unknown) => JSON.stringify(value)?.slice(0, 200) ?? String(value);

function requestObject(body: unknown): Record<string, unknown> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new AtelierError('REQUEST_INVALID', `JSON Value: ${show(body)} Is not object`);
  return body as Record<string, unknown>;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** The one signature our metadata lists; TF Serving takes an absent or empty name for it too. */
const SIGNATURE = 'serving_default';

function checkSignature(request: Record<string, unknown>): void {
  const name = request.signature_name;
  if (name === undefined || name === '' || name === SIGNATURE) return;
  if (typeof name !== 'string') throw new AtelierError('REQUEST_INVALID', `JSON Value: ${show(request)} not formatted correctly. 'signature_name' key must be a string value.`);
  throw new AtelierError('REQUEST_INVALID', `Serving signature name: ${JSON.stringify(name)} not found in signature def`);
}

/** TF Serving's JSON form for the bytes of a string: an object with a single "b64" key holding base64. */
const isB64 = (v: unknown): v is { b64: string } => isObject(v) && typeof v.b64 === 'string' && Object.keys(v).length === 1;
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Rows with the b64 values of string inputs decoded (to UTF-8 text: categories are text). */
function decodeB64(rows: unknown[], bundle: LoadedBundle): unknown[] {
  const strings = bundle.manifest.signature.inputs.filter((t) => t.dtype === 'string').map((t) => t.name);
  return rows.map((row, i) => {
    if (!isObject(row) || !strings.some((name) => isB64(row[name]))) return row;
    const out = { ...row };
    for (const name of strings) {
      const value = row[name];
      if (!isB64(value)) continue;
      let text: string | undefined;
      try {
        if (BASE64.test(value.b64) && value.b64.length % 4 !== 1) text = utf8.decode(Buffer.from(value.b64, 'base64'));
      } catch {
        // not UTF-8: refused below
      }
      if (text === undefined) throw new AtelierError('INPUT_INVALID', `instance ${i}: feature "${name}": Unable to base64 decode to UTF-8 text`, { row: i, feature: name });
      out[name] = text;
    }
    return out;
  });
}

/** The predict body as rows keyed by input name, and which format it came in. */
export function predictRows(body: unknown, bundle: LoadedBundle): { rows: unknown[]; columnar: boolean } {
  const decoded = predictBodyRows(body, bundle);
  return { rows: decodeB64(decoded.rows, bundle), columnar: decoded.columnar };
}

function predictBodyRows(body: unknown, bundle: LoadedBundle): { rows: unknown[]; columnar: boolean } {
  const request = requestObject(body);
  checkSignature(request);
  const inputNames = bundle.manifest.signature.inputs.map((t) => t.name);
  const hasInstances = 'instances' in request;
  const hasInputs = 'inputs' in request;
  if (hasInstances && hasInputs) {
    throw new AtelierError('REQUEST_INVALID', `JSON Value: ${show(body)} Not formatted correctly expecting only one of 'inputs' or 'instances' keys to exist `);
  }
  if (hasInstances) {
    const instances = request.instances;
    if (!Array.isArray(instances)) throw new AtelierError('REQUEST_INVALID', `JSON Value: ${show(body)} Excepting 'instances' to be an list/array`);
    if (instances.length === 0) throw new AtelierError('REQUEST_INVALID', `JSON Value: ${show(body)} No values in 'instances' array`);
    if (!isObject(instances[0]) || isB64(instances[0])) {
      // A plain list: allowed when the signature has one input.
      if (inputNames.length > 1) {
        throw new AtelierError('REQUEST_INVALID', 'instances is a plain list, but expecting list of objects as multiple input tensors required as per tensorinfo_map');
      }
      return {
        rows: instances.map((v, i) => {
          if (isObject(v) && !isB64(v)) throw new AtelierError('REQUEST_INVALID', `Expecting value/list but got object at item ${i} of input list`);
          return { [inputNames[0]!]: v };
        }),
        columnar: false,
      };
    }
    instances.forEach((v, i) => {
      if (!isObject(v)) throw new AtelierError('REQUEST_INVALID', `Expecting object but got list at item ${i} of input list`);
    });
    return { rows: instances, columnar: false };
  }
  if (hasInputs) {
    const inputs = request.inputs;
    if (!isObject(inputs) || isB64(inputs)) {
      if (inputNames.length > 1) {
        throw new AtelierError('REQUEST_INVALID', 'inputs is a plain value/list, but expecting an object as multiple input tensors required as per tensorinfo_map');
      }
      const values = Array.isArray(inputs) ? inputs : [inputs];
      return { rows: values.map((v) => ({ [inputNames[0]!]: v })), columnar: true };
    }
    let n = -1;
    const rules = missingRules(bundle.transform);
    for (const name of inputNames) {
      const values = inputs[name];
      // An input the transform fills may be left out, as in the row format.
      if (values === undefined && rules.get(name) === 'omit') continue;
      if (values === undefined) throw new AtelierError('INPUT_INVALID', `Missing named input: ${name} in 'inputs' object.`, { feature: name });
      if (!Array.isArray(values)) throw new AtelierError('INPUT_INVALID', `input "${name}" must be a list with one value per instance`, { feature: name });
      if (n >= 0 && values.length !== n) {
        throw new AtelierError('INPUT_INVALID', `input "${name}" has ${values.length} values; the other inputs have ${n}`, { feature: name });
      }
      n = values.length;
    }
    // Every key goes into the rows, so that the input check names an unknown one.
    const names = Object.keys(inputs);
    const rows = Array.from({ length: Math.max(n, 0) }, (_v, i) => Object.fromEntries(names.map((name) => [name, (inputs[name] as unknown[] | undefined)?.[i]])));
    return { rows, columnar: true };
  }
  throw new AtelierError('REQUEST_INVALID', "Missing 'inputs' or 'instances' key");
}

/** classify/regress: `examples` (tf.Example-like objects; one-element lists unwrapped) with optional `context` merged into each. */
export function exampleRows(body: unknown, bundle: LoadedBundle, method: 'classify' | 'regress'): unknown[] {
  const request = requestObject(body);
  checkSignature(request);
  const unwrap = (example: unknown, where: string): Record<string, unknown> => {
    if (!isObject(example)) throw new AtelierError('REQUEST_INVALID', `Example must be JSON object but got JSON ${Array.isArray(example) ? 'Array' : typeof example} (${where})`);
    const out: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(example)) {
      if (Array.isArray(value)) {
        if (value.length !== 1) throw new AtelierError('INPUT_INVALID', `${where}: feature "${name}" has ${value.length} values; the model takes one per example`, { feature: name });
        out[name] = value[0];
      } else out[name] = value;
    }
    return out;
  };
  const context = request.context === undefined ? {} : unwrap(request.context, 'context');
  const examples = request.examples;
  if (examples === undefined) throw new AtelierError('REQUEST_INVALID', `JSON Value: ${show(body)} When method is ${method}, key 'examples' is expected and was not found`);
  if (!Array.isArray(examples)) throw new AtelierError('REQUEST_INVALID', `JSON Value: ${show(body)} Expecting 'examples' value to be an list/array`);
  if (examples.length === 0) throw new AtelierError('REQUEST_INVALID', `JSON Value: ${show(body)} 'examples' value is an empty array`);
  return decodeB64(examples.map((e, i) => ({ ...context, ...unwrap(e, `example ${i}`) })), bundle);
}

const DTYPES: Record<SignatureTensor['dtype'], string> = { float64: 'DT_DOUBLE', float32: 'DT_FLOAT', int64: 'DT_INT64', string: 'DT_STRING', bool: 'DT_BOOL' };

function metadataBody(model: string, version: number, signature: { inputs: SignatureTensor[]; outputs: SignatureTensor[] }) {
  const tensor = (t: SignatureTensor) => ({
    dtype: DTYPES[t.dtype],
    tensor_shape: { dim: [{ size: '-1', name: '' }, ...t.shape.map((s) => ({ size: String(s), name: '' }))], unknown_rank: false },
    name: t.name,
  });
  return {
    model_spec: { name: model, signature_name: '', version: String(version) },
    metadata: {
      signature_def: {
        '@type': 'type.googleapis.com/tensorflow.serving.SignatureDefMap',
        signature_def: {
          [SIGNATURE]: {
            inputs: Object.fromEntries(signature.inputs.map((t) => [t.name, tensor(t)])),
            outputs: Object.fromEntries(signature.outputs.map((t) => [t.name, tensor(t)])),
            method_name: 'tensorflow/serving/predict',
          },
        },
      },
    },
  };
}

/** The answer in TF Serving's shapes: one output is plain values, several are objects keyed by output name. */
function predictBody(result: InferResult, columnar: boolean) {
  const { predictions, bundle } = result;
  if (!bundle.manifest.classes) return columnar ? { outputs: predictions } : { predictions };
  const rows = predictions as { class: string; probabilities: number[] }[];
  if (!columnar) return { predictions: rows.map((p) => ({ class: p.class, probabilities: p.probabilities })) };
  return { outputs: { class: rows.map((p) => p.class), probabilities: rows.map((p) => p.probabilities) } };
}

function requestId(request: FastifyRequest): string {
  return String(request.id);
}

export function registerTfServingRoutes(app: FastifyInstance, plane: DataPlane): void {
  app.get('/v1/models/*', async (request) => {
    const { target, action } = parseModelPath('GET', (request.params as { '*': string })['*']);
    if (action === '/metadata') {
      const { model, version, manifest } = plane.metadata(target);
      return metadataBody(model, version, manifest.signature);
    }
    if (action !== '') throw new AtelierError('REQUEST_INVALID', `Malformed request: GET ${request.url}`);
    return {
      model_version_status: plane.status(target).map((s) => ({
        version: String(s.version),
        state: s.state,
        status: s.error ? { error_code: s.error.status === 404 ? 'NOT_FOUND' : 'UNKNOWN', error_message: s.error.message } : { error_code: 'OK', error_message: '' },
      })),
    };
  });

  app.post('/v1/models/*', async (request) => {
    const { target, action } = parseModelPath('POST', (request.params as { '*': string })['*']);
    const id = requestId(request);
    if (action === ':predict') {
      let columnar = false;
      const result = await plane.infer(target, {
        api: 'predict',
        requestId: id,
        decode: (bundle) => {
          const decoded = predictRows(request.body, bundle);
          columnar = decoded.columnar;
          return decoded.rows;
        },
      });
      return predictBody(result, columnar);
    }
    if (action === ':classify') {
      const result = await plane.infer(target, {
        api: 'classify',
        requestId: id,
        decode: (bundle) => {
          if (!bundle.manifest.classes) {
            throw new AtelierError('REQUEST_INVALID', `${target.model} is a ${bundle.manifest.task} model; :classify needs a classifier (use :regress or :predict)`);
          }
          return exampleRows(request.body, bundle, 'classify');
        },
      });
      const classes = result.bundle.manifest.classes!;
      return { results: (result.predictions as { probabilities: number[] }[]).map((p) => classes.map((c, k) => [c, p.probabilities[k]!])) };
    }
    if (action === ':regress') {
      const result = await plane.infer(target, {
        api: 'regress',
        requestId: id,
        decode: (bundle) => {
          if (bundle.manifest.task === 'multiclass') {
            throw new AtelierError('REQUEST_INVALID', `${target.model} is a multiclass model; :regress needs a regression or binary model (use :classify)`);
          }
          return exampleRows(request.body, bundle, 'regress');
        },
      });
      // Regression: the value; binary: the probability of the positive (second) class.
      return { results: result.predictions.map((p) => (typeof p === 'number' ? p : p.probabilities[1]!)) };
    }
    throw new AtelierError('REQUEST_INVALID', `Malformed request: POST ${request.url}`);
  });
}
