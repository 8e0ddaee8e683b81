import { NAME_PATTERN } from '../core/config.js';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { gzipSync } from 'node:zlib';
import { verifyBundle, type BundleManifest } from '../bundle/format.js';
import { diskFullError } from '../core/disk-full.js';
import { AtelierError, isAtelierError } from '../core/errors.js';
import { currentUser, nowIso } from '../core/identity.js';
import type { StoredBundle } from '../store/artifacts.js';
import type { AtelierContext } from '../store/context.js';
import type { ModelVersionRecord } from '../store/types.js';
import { ArchiveRefused, extractArchive, IN_MEMORY, writeTar, type TarEntry } from './archive.js';
import { aliasesOf } from './aliases.js';
import { provenance, type RunSummary } from './lineage.js';
import { bundleDir, registerModelVersion } from './models.js';
import { latestVerdict, recordVerdict, type Verdict } from './verdicts.js';

export const EXPORT_FORMAT = 'atelier.export/1';
/** The archive's own manifest, next to the `bundle/` folder. */
export const EXPORT_MANIFEST = 'atelier-export.json';
const BUNDLE_PREFIX = 'bundle/';

export interface ExportManifest {
  format: typeof EXPORT_FORMAT;
  model: string;
  version: number;
  bundleHash: string;
  metrics: Record<string, number>;
  description: string | null;
  createdAt: string;
  createdBy: string;
  aliases: string[];
  exportedAt: string;
  exportedBy: string;
  source: { workspace: string; name: string; host: string };
  /** The run that trained it (for a version that was itself imported: the original run). */
  run: RunSummary | null;
  /** Its latest validation verdict in the source workspace (null: never validated). */
  verdict?: Verdict | null;
}

export interface ExportResult {
  model: string;
  version: number;
  file: string;
  bytes: number;
  files: number;
  bundleHash: string;
}

/** Writes `model@version` as a .tgz: the manifest plus the bundle folder (checked first). */
export async function exportModelVersion(ctx: AtelierContext, version: ModelVersionRecord, out: string): Promise<ExportResult> {
  const file = resolve(out);
  const folder = dirname(file);
  if (!existsSync(folder) || !statSync(folder).isDirectory()) {
    throw new AtelierError('FILE_NOT_FOUND', `${out}: no folder ${folder} to write into`, { file: out });
  }
  if (existsSync(file) && statSync(file).isDirectory()) {
    throw new AtelierError('FILE_NOT_FOUND', `${out}: is a folder; name the archive file to write`, { file: out });
  }
  const dir = await bundleDir(ctx, version);
  const bundle = verifyBundle(dir); // never export a damaged bundle
  const { run } = await provenance(ctx, version);
  const aliases = await aliasesOf(ctx.store, version);
  const manifest: ExportManifest = {
    format: EXPORT_FORMAT,
    model: version.model,
    version: version.version,
    bundleHash: version.bundleHash,
    metrics: version.metrics,
    description: version.description,
    createdAt: version.createdAt,
    createdBy: version.createdBy,
    aliases,
    exportedAt: nowIso(),
    exportedBy: currentUser(),
    source: { workspace: ctx.workspace.root, name: ctx.workspace.settings.name, host: hostname() },
    run,
    verdict: (await latestVerdict(ctx.store, version.model, version.version)) ?? null,
  };
  const entries: TarEntry[] = [
    { name: EXPORT_MANIFEST, data: Buffer.from(JSON.stringify(manifest, null, 2) + '\n') },
    { name: `${BUNDLE_PREFIX}bundle.json`, data: readFileSync(join(dir, 'bundle.json')) },
    ...Object.keys(bundle.files)
      .sort()
      .map((f) => ({ name: BUNDLE_PREFIX + f, data: readFileSync(join(dir, f)) })),
  ];
  const bytes = gzipSync(writeTar(entries));
  // Written beside the target and renamed over it: a reader never sees half an archive.
  const temp = join(folder, `.${basename(file)}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    writeFileSync(temp, bytes);
    renameSync(temp, file);
  } catch (error) {
    rmSync(temp, { force: true });
    throw diskFullError(error) ?? new AtelierError('FILE_NOT_FOUND', `${out}: cannot write the archive (${(error as Error).message})`, { file: out });
  }
  return { model: version.model, version: version.version, file, bytes: bytes.length, files: entries.length - 1, bundleHash: version.bundleHash };
}

export interface ImportResult {
  model: string;
  version: number;
  bundleHash: string;
  bundle: string;
  original: string;
  source: ExportManifest['source'] | null;
  /** False when the workspace already held this bundle (same content hash). */
  bundleWritten: boolean;
}

function invalid(archive: string, message: string, facts: Record<string, unknown> = {}): AtelierError {
  return new AtelierError('BUNDLE_INVALID', `${archive}: ${message}`, { file: archive, ...facts });
}

function isNumberRecord(v: unknown): v is Record<string, number> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'number');
}

/** Checks the archive's own manifest (kept in memory by the unpacking) and that a bundle came with it. */
function exportManifestOf(archive: string, entry: Buffer | undefined, files: string[]): ExportManifest {
  if (!entry) throw invalid(archive, `not a model archive (no ${EXPORT_MANIFEST}; make one with \`atelier models export\`)`);
  let manifest: ExportManifest;
  try {
    manifest = JSON.parse(entry.toString('utf8')) as ExportManifest;
  } catch (error) {
    throw invalid(archive, `${EXPORT_MANIFEST} is not valid JSON (${(error as Error).message})`);
  }
  if (manifest?.format !== EXPORT_FORMAT) throw invalid(archive, `${EXPORT_MANIFEST}: format "${manifest?.format}" is not ${EXPORT_FORMAT}`);
  if (typeof manifest.model !== 'string' || !NAME_PATTERN.test(manifest.model)) throw invalid(archive, `${EXPORT_MANIFEST}: field model is not a model name`);
  if (typeof manifest.bundleHash !== 'string') throw invalid(archive, `${EXPORT_MANIFEST}: field bundleHash is missing`);
  if (!files.includes('bundle.json')) throw invalid(archive, 'file bundle/bundle.json is missing; not a model archive');
  return manifest;
}

/**
 * Unpacks an archive's bundle/ into `staging` (streamed and capped, each entry checked as it
 * arrives: see extractArchive) and reads its manifest. Refused: `staging` is removed.
 */
async function readArchive(archive: string, staging: string): Promise<{ manifest: ExportManifest; files: string[] }> {
  const path = resolve(archive);
  if (!existsSync(path) || !statSync(path).isFile()) throw new AtelierError('FILE_NOT_FOUND', `${archive}: no such file`, { file: archive });
  try {
    const { files, memory } = await extractArchive(path, staging, {
      place: (name) => {
        if (name === EXPORT_MANIFEST) return IN_MEMORY;
        if (name.startsWith(BUNDLE_PREFIX)) return name.slice(BUNDLE_PREFIX.length);
        throw new ArchiveRefused(`unexpected entry "${name}" (a model archive holds ${EXPORT_MANIFEST} and bundle/ only)`);
      },
    });
    return { manifest: exportManifestOf(archive, memory.get(EXPORT_MANIFEST), files), files };
  } catch (error) {
    rmSync(staging, { recursive: true, force: true });
    throw error instanceof ArchiveRefused ? invalid(archive, error.message) : error;
  }
}

/** Turns verifyBundle's message about the staging folder into one about the archive. */
function restate(archive: string, staging: string, error: unknown): unknown {
  if (!isAtelierError(error) || error.code !== 'BUNDLE_INVALID') return error;
  const message = error.message
    .replace(`bundle ${staging}: `, '')
    .replace(/^file /, 'file bundle/')
    .split(staging + sep)
    .join('bundle/')
    .split(staging)
    .join('bundle');
  const file = typeof error.facts.file === 'string' && error.facts.file.startsWith(staging) ? 'bundle/' + relative(staging, error.facts.file).split(sep).join('/') : undefined;
  return invalid(archive, message, { ...error.facts, file: archive, ...(file ? { entry: file } : {}) });
}

/**
 * Imports an archive written by `exportModelVersion` as the next version of `name` (default: the
 * archive's model). Every bundle file is checked against bundle.json's hashes in a staging folder
 * before anything is recorded; the bundle is then stored (`putBundle`, content-addressed) and
 * registered in one transaction, and removed again if that transaction fails and it was new.
 */
export async function importModelArchive(ctx: AtelierContext, archive: string, options: { name?: string } = {}): Promise<ImportResult> {
  const name = options.name ?? undefined;
  if (name !== undefined && !NAME_PATTERN.test(name)) {
    throw new AtelierError('USAGE', `--name "${name}" is not a model name; expected letters, digits, _ . - starting with a letter`, { field: 'name' });
  }
  const staging = ctx.artifacts.tempPath('-import');
  const { manifest, files } = await readArchive(archive, staging);
  const model = name ?? manifest.model;

  let bundle: BundleManifest;
  try {
    try {
      bundle = verifyBundle(staging);
    } catch (error) {
      throw restate(archive, staging, error);
    }
    const unlisted = files.filter((f) => f !== 'bundle.json' && !(f in bundle.files));
    if (unlisted.length > 0) throw invalid(archive, `file bundle/${unlisted[0]} is not listed in bundle.json`, { entry: `bundle/${unlisted[0]}` });
    if (bundle.contentHash !== manifest.bundleHash) {
      throw invalid(archive, `${EXPORT_MANIFEST} names bundle ${manifest.bundleHash.slice(0, 12)}… but the bundle is ${bundle.contentHash.slice(0, 12)}…`);
    }
  } catch (error) {
    rmSync(staging, { recursive: true, force: true });
    throw error;
  }

  let metrics: Record<string, number> = isNumberRecord(manifest.metrics) ? manifest.metrics : {};
  if (!isNumberRecord(manifest.metrics)) {
    try {
      const evaluation = JSON.parse(readFileSync(join(staging, 'evaluation', 'metrics.json'), 'utf8')) as { metrics?: unknown };
      if (isNumberRecord(evaluation.metrics)) metrics = evaluation.metrics;
    } catch {
      /* no metrics then */
    }
  }

  const original = `${manifest.model}@${manifest.version}`;
  let stored: StoredBundle | undefined;
  try {
    // Stored before the transaction (an upload can take a while); unreferenced if it fails, so removed then.
    stored = await ctx.artifacts.putBundle(staging);
    const { key, dir } = stored;
    return await ctx.store.transaction(async (tx) => {
      const record = await registerModelVersion(
        { ...ctx, store: tx },
        {
          model,
          runId: null,
          bundleUri: key,
          bundleHash: bundle.contentHash,
          metrics,
          description: `imported from ${original}${manifest.source?.workspace ? ` of ${manifest.source.workspace}` : ''}`,
        },
      );
      await tx.appendEvent({
        kind: 'model.imported',
        subject: `${record.model}@${record.version}`,
        details: {
          archive: resolve(archive),
          original,
          bundleHash: bundle.contentHash,
          source: manifest.source ?? null,
          run: manifest.run ?? null,
        },
      });
      // The blessing travels with the bundle: the verdict the source workspace gave it.
      const verdict = manifest.verdict;
      if (verdict && typeof verdict === 'object' && typeof verdict.blessed === 'boolean') {
        await recordVerdict(tx, record.model, record.version, { ...verdict, model: record.model, version: record.version, importedFrom: original });
      }
      return {
        model: record.model,
        version: record.version,
        bundleHash: bundle.contentHash,
        bundle: dir,
        original,
        source: manifest.source ?? null,
        bundleWritten: stored!.written,
      };
    });
  } catch (error) {
    if (stored?.written) await ctx.artifacts.deleteKey(stored.key);
    throw error;
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}
