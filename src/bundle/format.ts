import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, relative, sep } from 'node:path';
import { AtelierError } from '../core/errors.js';
import { canonicalJson, sha256, sha256FileSync } from '../core/hash.js';
import { regularFileProblem, relativePathProblem } from '../core/safe-paths.js';

/** Written by this Atelier: the content hash covers the whole manifest. */
export const BUNDLE_FORMAT = 'atelier.bundle/2';
/**
 * Written before the manifest was hashed whole: its content hash covers the `files` map only.
 * Still read (files checked, paths checked), so the versions a workspace already registered keep
 * serving; its other fields are not covered. Retrain to get a format-2 bundle. See docs/bundle.md.
 */
export const LEGACY_BUNDLE_FORMAT = 'atelier.bundle/1';

export interface SignatureTensor {
  name: string;
  dtype: 'float32' | 'float64' | 'int64' | 'string' | 'bool';
  /** Shape of one instance; [] is a scalar. The batch dimension is implied. */
  shape: number[];
}

export interface BundleManifest {
  format: typeof BUNDLE_FORMAT | typeof LEGACY_BUNDLE_FORMAT;
  name: string;
  task: 'regression' | 'binary' | 'multiclass';
  family: string;
  label: string;
  /** Class names in the order of the model's probabilities (classifiers only). */
  classes?: string[];
  signature: { inputs: SignatureTensor[]; outputs: SignatureTensor[] };
  /**
   * Format 1 only. Format 2 keeps no time, so the same config, data and seed write the same
   * bundle byte for byte; the model version records when it was registered.
   */
  createdAt?: string;
  /** Every other file of the bundle with its sha256: the bundle is checked against this list. */
  files: Record<string, string>;
  /** sha256 of the canonical manifest less this field (format 1: of the `files` map): the bundle's identity. */
  contentHash: string;
}

/** The bundle's identity: what `contentHash` must equal. */
export function bundleContentHash(manifest: Omit<BundleManifest, 'contentHash'> & { contentHash?: string }): string {
  if (manifest.format === LEGACY_BUNDLE_FORMAT) return sha256(canonicalJson(manifest.files));
  const { contentHash: _itself, ...covered } = manifest;
  return sha256(canonicalJson(covered));
}

function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const full = join(d, entry.name);
      if (entry.isDirectory()) walk(full);
      else out.push(relative(dir, full).split(sep).join('/'));
    }
  };
  walk(dir);
  return out.filter((f) => f !== 'bundle.json').sort();
}

/** Hashes every file of a bundle folder (written, but without bundle.json yet). */
export function hashBundleFiles(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const f of listFiles(dir)) files[f] = sha256(readFileSync(join(dir, f)));
  return files;
}

const TASKS = ['regression', 'binary', 'multiclass'];
const DTYPES = ['float32', 'float64', 'int64', 'string', 'bool'];
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');

function tensorsProblem(value: unknown, field: string): string | undefined {
  if (!Array.isArray(value)) return `${field} is not a list`;
  for (const [i, t] of value.entries()) {
    if (!isObject(t) || typeof t.name !== 'string') return `${field}[${i}] has no name`;
    if (!DTYPES.includes(t.dtype as string)) return `${field}[${i}] ("${t.name}") has dtype ${JSON.stringify(t.dtype)}; expected one of ${DTYPES.join(', ')}`;
    if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isInteger(d) && d >= 0)) return `${field}[${i}] ("${t.name}") has no shape`;
  }
  return undefined;
}

/** What is wrong with the manifest's fields (their types; their values are the hash's business). */
function manifestProblem(m: Record<string, unknown>): string | undefined {
  for (const field of ['name', 'family', 'label', 'contentHash'] as const) {
    if (typeof m[field] !== 'string') return `field ${field} is not a string`;
  }
  if (!TASKS.includes(m.task as string)) return `field task is ${JSON.stringify(m.task)}; expected one of ${TASKS.join(', ')}`;
  if (m.classes !== undefined && !isStringArray(m.classes)) return 'field classes is not a list of class names';
  if (!isObject(m.signature)) return 'field signature is not an object';
  const tensors = tensorsProblem(m.signature.inputs, 'signature.inputs') ?? tensorsProblem(m.signature.outputs, 'signature.outputs');
  if (tensors) return tensors;
  if (!isObject(m.files) || !Object.values(m.files).every((h) => typeof h === 'string' && /^[0-9a-f]{64}$/.test(h))) {
    return 'field files is not a map of file paths to sha256 hashes';
  }
  for (const required of ['transform.json']) if (!(required in m.files)) return `field files does not list ${required}`;
  if (!Object.keys(m.files).some((f) => f.startsWith('model/'))) return 'field files lists no model/ file';
  return undefined;
}

/**
 * Reads bundle.json and checks it whole: its fields against the content hash, every listed path
 * (relative, plain, a regular file inside the folder), every file against its sha256, and a folder
 * named for a content hash against the manifest's. Every reader goes through here (load, serve,
 * predict, export, import), so a bundle that fails any check is used by none of them.
 */
export function verifyBundle(dir: string): BundleManifest {
  const manifestPath = join(dir, 'bundle.json');
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new AtelierError('BUNDLE_INVALID', `${dir}: no model bundle here (folder missing)`, { file: dir });
  }
  if (!existsSync(manifestPath)) throw new AtelierError('BUNDLE_INVALID', `${manifestPath}: missing; not a model bundle`, { file: manifestPath });
  const invalid = (message: string, facts: Record<string, unknown> = {}) => new AtelierError('BUNDLE_INVALID', `bundle ${dir}: ${message}`, { file: manifestPath, ...facts });
  const notFile = regularFileProblem(dir, 'bundle.json');
  if (notFile) throw invalid(`bundle.json ${notFile}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(manifestPath, 'utf8'));
  } catch (error) {
    throw new AtelierError('BUNDLE_INVALID', `${manifestPath}: not valid JSON (${(error as Error).message})`, { file: manifestPath });
  }
  if (!isObject(parsed)) throw invalid('bundle.json is not a JSON object');
  if (parsed.format !== BUNDLE_FORMAT && parsed.format !== LEGACY_BUNDLE_FORMAT) {
    throw new AtelierError('BUNDLE_INVALID', `${manifestPath}: format "${String(parsed.format)}" is not ${BUNDLE_FORMAT} (nor the older ${LEGACY_BUNDLE_FORMAT})`, {
      file: manifestPath,
      expected: BUNDLE_FORMAT,
    });
  }
  const problem = manifestProblem(parsed);
  if (problem) throw invalid(`bundle.json: ${problem}`);
  const manifest = parsed as unknown as BundleManifest;

  for (const file of Object.keys(manifest.files)) {
    const unsafe = relativePathProblem(file);
    if (unsafe) throw invalid(`bundle.json lists the file "${file}", whose path ${unsafe}; a bundle lists plain relative paths inside its folder`, { entry: file });
  }
  const computed = bundleContentHash(manifest);
  if (computed !== manifest.contentHash) {
    throw invalid(`bundle.json was altered: its fields hash to ${computed.slice(0, 12)}…, not to the bundle's content hash ${manifest.contentHash.slice(0, 12)}…`, {
      expected: manifest.contentHash,
      got: computed,
    });
  }
  // Stored bundles live in a folder named for their hash: a manifest rewritten with a fresh hash
  // no longer matches the name it was registered under.
  const folder = basename(dir);
  if (/^[0-9a-f]{64}$/.test(folder) && folder !== manifest.contentHash) {
    throw invalid(`bundle.json was replaced: it describes bundle ${manifest.contentHash.slice(0, 12)}…, but this folder holds bundle ${folder.slice(0, 12)}…`, {
      expected: folder,
      got: manifest.contentHash,
    });
  }
  for (const [file, expected] of Object.entries(manifest.files)) {
    const path = join(dir, file);
    const notRegular = regularFileProblem(dir, file);
    if (notRegular) throw invalid(`file ${file} ${notRegular}`, { file: path });
    const actual = sha256FileSync(path);
    if (actual !== expected) {
      throw invalid(`file ${file} was altered (sha256 ${actual.slice(0, 12)}…, expected ${expected.slice(0, 12)}…)`, { file: path, expected, got: actual });
    }
  }
  return manifest;
}
