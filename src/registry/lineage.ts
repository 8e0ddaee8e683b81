import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BundleManifest } from '../bundle/format.js';
import type { AtelierContext } from '../store/context.js';
import type { MetadataStore } from '../store/metadata-store.js';
import type { DatasetVersionRecord, EventRecord, ModelVersionRecord, RunRecord } from '../store/types.js';
import { allItems } from '../store/pages.js';
import { aliasesOf, aliasMoves, splitSubject, type AliasMove } from './aliases.js';
import { bundleDir } from './models.js';

/** What an archive carries of the run that trained a version, and what lineage shows. */
export interface RunSummary {
  id: string;
  model: string;
  status: string;
  user: string;
  host: string;
  startedAt: string;
  endedAt: string | null;
  configHash: string;
  config: unknown;
  family: string | null;
  seed: number | null;
  split: Record<string, unknown> | null;
  validation: Record<string, unknown> | null;
  warmStart: string | null;
  dataset: DatasetSummary | null;
}

export interface DatasetSummary {
  name: string;
  version: number;
  contentHash: string;
  source: string;
  rows: number;
}

export function datasetSummary(d: DatasetVersionRecord): DatasetSummary {
  return { name: d.dataset, version: d.version, contentHash: d.contentHash, source: d.source, rows: d.rowCount };
}

export function runSummary(run: RunRecord, dataset: DatasetVersionRecord | undefined): RunSummary {
  const p = run.params;
  const obj = (v: unknown) => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null);
  return {
    id: run.id,
    model: run.model,
    status: run.status,
    user: run.user,
    host: run.host,
    startedAt: run.startedAt,
    endedAt: run.endedAt,
    configHash: run.configHash,
    config: run.config,
    family: typeof p.family === 'string' ? p.family : null,
    seed: typeof p.seed === 'number' ? p.seed : null,
    split: obj(p.split),
    validation: obj(p.validation),
    warmStart: typeof p.warmStart === 'string' ? p.warmStart : null,
    dataset: dataset ? datasetSummary(dataset) : null,
  };
}

/** Where an imported version came from: the details of its `model.imported` event. */
export interface ImportOrigin {
  at: string;
  user: string;
  archive: string;
  original: string;
  source: { workspace: string; name: string; host: string } | null;
  run: RunSummary | null;
}

export async function importOrigins(store: MetadataStore, model?: string): Promise<Map<string, ImportOrigin>> {
  const out = new Map<string, ImportOrigin>();
  for (const e of await allItems((page) => store.listEvents({ kind: 'model.imported' }, page))) {
    const subject = splitSubject(e.subject);
    if (!subject || (model !== undefined && subject.model !== model)) continue;
    out.set(e.subject, importOrigin(e));
  }
  return out;
}

function importOrigin(e: EventRecord): ImportOrigin {
  const d = e.details;
  return {
    at: e.at,
    user: e.user,
    archive: String(d.archive ?? ''),
    original: String(d.original ?? ''),
    source: (d.source as ImportOrigin['source']) ?? null,
    run: (d.run as RunSummary | null) ?? null,
  };
}

/** The run behind a version: the recorded run, or for an imported one what its archive said. */
export async function provenance(
  ctx: AtelierContext,
  version: ModelVersionRecord,
  origins?: Map<string, ImportOrigin>,
): Promise<{ run: RunSummary | null; imported: ImportOrigin | null }> {
  if (version.runId) {
    const run = await ctx.store.getRun(version.runId);
    if (run) return { run: runSummary(run, await ctx.store.getDatasetVersionById(run.datasetVersionId)), imported: null };
  }
  const imported = (origins ?? (await importOrigins(ctx.store, version.model))).get(`${version.model}@${version.version}`) ?? null;
  return { run: imported?.run ?? null, imported };
}

export interface Lineage {
  model: string;
  version: number;
  bundle: { hash: string; path: string; family: string | null; task: string | null; present: boolean };
  metrics: Record<string, number>;
  createdAt: string;
  createdBy: string;
  description: string | null;
  dataset: DatasetSummary | null;
  run: RunSummary | null;
  imported: ImportOrigin | null;
  deployments: {
    aliases: string[];
    /** Alias moves onto this version (`direction: "to"`) or away from it (`"from"`), oldest first. */
    history: (AliasMove & { direction: 'to' | 'from' })[];
  };
}

/** Everything recorded about how a version came to be and where it has been deployed. */
export async function modelLineage(ctx: AtelierContext, version: ModelVersionRecord): Promise<Lineage> {
  const { run, imported } = await provenance(ctx, version);
  const path = ctx.artifacts.locationOf(version.bundleUri);
  const present = await ctx.artifacts.has(version.bundleUri);
  let manifest: Partial<BundleManifest> = {};
  if (present) {
    try {
      manifest = JSON.parse(readFileSync(join(await bundleDir(ctx, version), 'bundle.json'), 'utf8')) as BundleManifest;
    } catch {
      manifest = {}; // lineage reports what it can; loading the bundle names what is wrong
    }
  }
  const aliases = await aliasesOf(ctx.store, version);
  const history = (await aliasMoves(ctx.store, version.model))
    .filter((m) => m.to === version.version || m.from === version.version)
    .map((m) => ({ ...m, direction: m.to === version.version ? ('to' as const) : ('from' as const) }));
  return {
    model: version.model,
    version: version.version,
    bundle: { hash: version.bundleHash, path, family: manifest.family ?? null, task: manifest.task ?? null, present },
    metrics: version.metrics,
    createdAt: version.createdAt,
    createdBy: version.createdBy,
    description: version.description,
    dataset: run?.dataset ?? null,
    run,
    imported,
    deployments: { aliases, history },
  };
}
