import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { canonicalJson, sha256 } from '../core/hash.js';
import { importDataset } from '../data/datasets.js';
import { sqlString, withDuckDb } from '../data/duckdb.js';
import type { AtelierContext } from '../store/context.js';
import type { DatasetVersionRecord } from '../store/types.js';
import { artifact } from './cache.js';

export interface WindowSettings {
  versions?: number;
  days?: number;
}

/**
 * The versions a sliding window holds: of `candidates` (oldest first, the newest last), the last
 * `versions` of them and only those imported within `days` of the newest.
 */
export function windowMembers(candidates: DatasetVersionRecord[], window: WindowSettings): DatasetVersionRecord[] {
  const sorted = [...candidates].sort((a, b) => a.version - b.version);
  const newest = sorted.at(-1);
  if (!newest) return [];
  let members = sorted;
  if (window.days !== undefined) {
    const from = Date.parse(newest.createdAt) - window.days * 86_400_000;
    members = members.filter((v) => Date.parse(v.createdAt) >= from);
  }
  if (window.versions !== undefined) members = members.slice(-window.versions);
  return members;
}

/**
 * One dataset version holding the rows of all `members` (DuckDB's union by column name of their
 * Parquet files), as a version of `<dataset>-window`. The same members give back the same version:
 * the merge is remembered as a `window` artifact keyed by the members' ids.
 */
export async function mergeWindow(ctx: AtelierContext, members: DatasetVersionRecord[]): Promise<DatasetVersionRecord> {
  if (members.length === 1) return members[0]!;
  const fingerprint = sha256(canonicalJson(members.map((m) => m.id)));
  const known = await ctx.store.getArtifact(`window:${fingerprint}`);
  const existing = known && (await ctx.store.getDatasetVersionById(String(known.properties.datasetVersionId)));
  if (existing) return existing;
  const dataset = members[0]!.dataset;
  const dir = ctx.artifacts.tempPath('-window');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${dataset}-v${members.map((m) => m.version).join('-v')}.parquet`);
  try {
    const files = (await Promise.all(members.map((m) => ctx.artifacts.localPath(m.artifact)))).map(sqlString).join(', ');
    await withDuckDb((con) => con.run(`COPY (SELECT * FROM read_parquet([${files}], union_by_name = true)) TO ${sqlString(file)} (FORMAT parquet)`));
    const { version } = await importDataset(ctx, file, `${dataset}-window`);
    await ctx.store.putArtifact(
      artifact('window', `${version.dataset}@${version.version}`, fingerprint, { datasetVersionId: version.id, members: members.map((m) => `${m.dataset}@${m.version}`) }),
    );
    return version;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
