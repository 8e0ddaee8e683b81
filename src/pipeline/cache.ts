import { canonicalJson, sha256 } from '../core/hash.js';
import { nowIso } from '../core/identity.js';
import type { MetadataStore } from '../store/metadata-store.js';
import { allItems } from '../store/pages.js';
import type { ArtifactRecord } from '../store/types.js';

/**
 * Step caching, as TFX does it over ML Metadata: a step's cache key is the hash of its name, its
 * settings and the identities of its input artifacts. A finished execution with the same key
 * lends its outputs, and the step is skipped.
 */

/** Bump when a step's code changes what it writes, so old cache entries stop matching. */
export const CACHE_VERSION = 1;

export function cacheKey(step: string, settings: unknown, inputs: Record<string, ArtifactRecord>): string {
  const ids = Object.fromEntries(Object.entries(inputs).map(([name, a]) => [name, a.id]));
  return sha256(canonicalJson({ v: CACHE_VERSION, step, settings: settings ?? null, inputs: ids }));
}

/** An artifact record whose id is its type and fingerprint: the same thing is recorded once. */
export function artifact(type: string, uri: string, fingerprint: string, properties: Record<string, unknown> = {}): ArtifactRecord {
  return { id: `${type}:${fingerprint}`, type, uri, fingerprint, properties, createdAt: nowIso() };
}

/**
 * The outputs of the latest finished execution with this cache key, by name; undefined when none
 * (or when one of its outputs is gone and `stillThere` says so).
 */
export async function cachedOutputs(
  store: MetadataStore,
  key: string,
  stillThere: (a: ArtifactRecord) => Promise<boolean> = async () => true,
): Promise<{ executionId: string; outputs: Record<string, ArtifactRecord> } | undefined> {
  const finished = (await allItems((page) => store.listExecutions({ cacheKey: key }, page))).filter((e) => e.state === 'complete');
  const last = finished.at(-1);
  if (!last) return undefined;
  const outputs: Record<string, ArtifactRecord> = {};
  for (const event of await allItems((page) => store.listExecutionEvents({ executionId: last.id }, page))) {
    if (event.kind !== 'output') continue;
    const found = await store.getArtifact(event.artifactId);
    if (!found || !(await stillThere(found))) return undefined;
    outputs[event.name] = found;
  }
  return { executionId: last.id, outputs };
}
