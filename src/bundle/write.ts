import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { FittedTransform } from '../features/transform.js';
import type { TrainedModel } from '../models/family.js';
import { BUNDLE_FORMAT, bundleContentHash, hashBundleFiles, type BundleManifest } from './format.js';

export interface BundleContents {
  name: string;
  task: BundleManifest['task'];
  family: string;
  label: string;
  classes?: string[];
  schema: unknown;
  transform: FittedTransform;
  stats: unknown;
  model: TrainedModel;
  evaluation: Record<string, unknown>;
  /** More files, by path inside the bundle (the held-out report and charts under evaluation/). */
  files?: Record<string, string>;
}

/**
 * Writes a bundle into `stagingDir` (a local temp folder), bundle.json last. Storing it is the
 * artifact store's `putBundle`: a crash before that leaves only a temp folder, never a half bundle.
 */
export async function writeBundle(contents: BundleContents, stagingDir: string): Promise<BundleManifest> {
  mkdirSync(join(stagingDir, 'model'), { recursive: true });
  mkdirSync(join(stagingDir, 'evaluation'), { recursive: true });
  const json = (file: string, value: unknown) => writeFileSync(join(stagingDir, file), JSON.stringify(value, null, 2) + '\n');
  json('schema.json', contents.schema);
  json('transform.json', contents.transform);
  json('stats.json', contents.stats);
  json('evaluation/metrics.json', contents.evaluation);
  for (const [file, text] of Object.entries(contents.files ?? {})) {
    mkdirSync(dirname(join(stagingDir, file)), { recursive: true });
    writeFileSync(join(stagingDir, file), text);
  }
  await contents.model.save(join(stagingDir, 'model'));

  const files = hashBundleFiles(stagingDir);
  // No time in it: the same config, data and seed give the same bundle, and the hash covers it all.
  const fields: Omit<BundleManifest, 'contentHash'> = {
    format: BUNDLE_FORMAT,
    name: contents.name,
    task: contents.task,
    family: contents.family,
    label: contents.label,
    ...(contents.classes ? { classes: contents.classes } : {}),
    signature: {
      inputs: contents.transform.inputs.map((i) => ({
        name: i.name,
        dtype: i.dtype === 'int' ? 'int64' : i.dtype === 'float' ? 'float64' : i.dtype === 'bool' ? 'bool' : 'string',
        shape: [],
      })),
      outputs: contents.classes
        ? [
            { name: 'class', dtype: 'string', shape: [] },
            { name: 'probabilities', dtype: 'float64', shape: [contents.classes.length] },
          ]
        : [{ name: 'prediction', dtype: 'float64', shape: [] }],
    },
    files,
  };
  const contentHash = bundleContentHash(fields);
  const manifest: BundleManifest = { ...fields, contentHash };
  json('bundle.json', manifest);
  return manifest;
}
