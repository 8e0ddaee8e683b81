import { join } from 'node:path';
import { parseRef } from '../core/config.js';
import { verifyBundle } from '../bundle/format.js';
import { AtelierError } from '../core/errors.js';
import { currentUser, nowIso } from '../core/identity.js';
import type { AtelierContext } from '../store/context.js';
import { allItems } from '../store/pages.js';
import type { AliasRecord, ModelVersionRecord, PageRequest } from '../store/types.js';
import { aliasMoves, rollbackStack } from './aliases.js';
import { latestVerdict } from './verdicts.js';

export const DEFAULT_ALIAS = 'production';

export interface RegisterInput {
  model: string;
  runId: string | null;
  /** The bundle's key in the artifact store (`bundles/<contentHash>`, from `ctx.artifacts.putBundle`). */
  bundleUri: string;
  bundleHash: string;
  metrics: Record<string, number>;
  description?: string;
}

/**
 * Records a new version of `model` pointing at a bundle; one transaction with its event. The
 * store numbers it atomically; a run registers at most one version, so registering again for the
 * same run id (a retried job) returns the version it registered the first time.
 */
export async function registerModelVersion(ctx: AtelierContext, input: RegisterInput): Promise<ModelVersionRecord> {
  return ctx.store.transaction(async (tx) => {
    const { record, created } = await tx.addModelVersion({
      model: input.model,
      runId: input.runId,
      // A key of the artifact store (the same on file:// and s3://), so a workspace can move as a whole.
      bundleUri: input.bundleUri,
      bundleHash: input.bundleHash,
      metrics: input.metrics,
      createdAt: nowIso(),
      createdBy: currentUser(),
      description: input.description ?? null,
    });
    if (created) {
      await tx.appendEvent({
        kind: 'model.registered',
        subject: `${record.model}@${record.version}`,
        details: { runId: record.runId, bundleHash: record.bundleHash, metrics: record.metrics },
      });
    }
    return record;
  });
}

/** A local folder holding the version's bundle (fetched into the cache when the store is remote). */
export async function bundleDir(ctx: AtelierContext, version: ModelVersionRecord): Promise<string> {
  return ctx.artifacts.bundleDir(version.bundleUri);
}

/**
 * Resolves "name", "name@3", "name@production" or "name@latest". A bare name means the
 * `production` alias when it is set, else the latest version.
 */
export async function resolveModelVersion(ctx: AtelierContext, name: string, selector?: string): Promise<ModelVersionRecord> {
  const latest = await ctx.store.getModelVersion(name);
  if (!latest) {
    throw new AtelierError('MODEL_NOT_FOUND', `no model named "${name}"; \`atelier models list\` shows the registered ones`, { field: 'model' });
  }
  if (selector === undefined || selector === '') {
    const production = await ctx.store.getAlias(name, DEFAULT_ALIAS);
    return production ? (await ctx.store.getModelVersion(name, production.version))! : latest;
  }
  if (selector === 'latest') return latest;
  if (/^\d+$/.test(selector)) {
    const found = await ctx.store.getModelVersion(name, Number(selector));
    if (!found) {
      throw new AtelierError('VERSION_NOT_FOUND', `model ${name} has no version ${selector}; the latest is ${latest.version}`, {
        field: 'version',
      });
    }
    return found;
  }
  const alias = await ctx.store.getAlias(name, selector);
  if (!alias) {
    throw new AtelierError('ALIAS_NOT_FOUND', `model ${name} has no alias (label) "${selector}"`, { field: 'alias' });
  }
  return (await ctx.store.getModelVersion(name, alias.version))!;
}

/**
 * Points `alias` at a version; the move (with the previous holder) goes into the alias history
 * and the event log, and servers following the registry hear of it on commit. The
 * version must be blessed (its latest `model.validated` verdict), unless `force`, which is recorded.
 */
export async function promoteModelVersion(
  ctx: AtelierContext,
  name: string,
  version: number,
  alias: string = DEFAULT_ALIAS,
  reason?: string,
  options: { force?: boolean } = {},
): Promise<AliasRecord & { previous: number | null; blessed: boolean; forced: boolean }> {
  if (!/^[A-Za-z][A-Za-z0-9_-]*$/.test(alias) || alias === 'latest') {
    throw new AtelierError('USAGE', `alias "${alias}" is not allowed; expected letters, digits, _ or -, starting with a letter, and not "latest"`, {
      field: 'alias',
    });
  }
  return ctx.store.transaction(async (tx) => {
    await tx.lockAlias(name, alias);
    const target = await tx.getModelVersion(name, version);
    if (!target) {
      const any = await tx.getModelVersion(name);
      throw any
        ? new AtelierError('VERSION_NOT_FOUND', `model ${name} has no version ${version}`, { field: 'version' })
        : new AtelierError('MODEL_NOT_FOUND', `no model named "${name}"`, { field: 'model' });
    }
    const verdict = await latestVerdict(tx, name, version);
    const blessed = verdict?.blessed === true;
    if (!blessed && !options.force) {
      const why = verdict
        ? `it failed validation: ${verdict.checks.flatMap((c) => c.failures).join('; ')}`
        : `it has no validation verdict (\`atelier models validate ${name}@${version}\` checks it)`;
      throw new AtelierError('MODEL_NOT_BLESSED', `${name}@${version} is not blessed, so it cannot become ${alias}: ${why}; --force promotes it anyway (recorded)`, {
        field: 'version',
      });
    }
    const forced = !blessed;
    const previous = (await tx.getAlias(name, alias))?.version ?? null;
    const move = await tx.moveAlias({ kind: 'promoted', model: name, alias, from: previous, to: version, reason: reason ?? null });
    await tx.appendEvent({
      kind: 'model.promoted',
      subject: `${name}@${version}`,
      at: move.at,
      user: move.user,
      details: { alias, previous, reason: reason ?? null, blessed, forced },
    });
    return { model: name, alias, version, updatedAt: move.at, previous, blessed, forced };
  });
}

export interface RollbackResult {
  model: string;
  alias: string;
  from: number;
  to: number;
  reason: string | null;
  at: string;
  by: string;
}

/**
 * Moves an alias back to the version it pointed at before its last move, as the alias history
 * tells; rolling back again walks further back. One transaction with its history row and its
 * `model.rolled_back` event.
 */
export async function rollbackAlias(ctx: AtelierContext, name: string, alias: string = DEFAULT_ALIAS, reason?: string): Promise<RollbackResult> {
  return ctx.store.transaction(async (tx) => {
    await tx.lockAlias(name, alias);
    if (!(await tx.getModelVersion(name))) {
      throw new AtelierError('MODEL_NOT_FOUND', `no model named "${name}"; \`atelier models list\` shows the registered ones`, { field: 'model' });
    }
    const current = await tx.getAlias(name, alias);
    if (!current) {
      const known = (await allItems((page) => tx.listAliases({ model: name }, page))).map((a) => a.alias);
      throw new AtelierError(
        'ALIAS_NOT_FOUND',
        `model ${name} has no alias "${alias}" to roll back${known.length ? ` (its aliases: ${[...new Set(known)].join(', ')})` : ' (it has no aliases yet)'}`,
        { field: 'alias' },
      );
    }
    const stack = rollbackStack(await aliasMoves(tx, name, alias));
    if (stack.at(-1) !== current.version) stack.push(current.version);
    if (stack.length < 2) {
      throw new AtelierError(
        'VERSION_NOT_FOUND',
        `nothing to roll back to: ${name}@${alias} is at version ${current.version}, the first version it pointed at`,
        { field: 'alias', alias, version: current.version },
      );
    }
    const to = stack[stack.length - 2]!;
    if (!(await tx.getModelVersion(name, to))) {
      throw new AtelierError('VERSION_NOT_FOUND', `cannot roll back ${name}@${alias}: version ${to} no longer exists`, { field: 'version' });
    }
    const { at, user: by } = await tx.moveAlias({ kind: 'rolled_back', model: name, alias, from: current.version, to, reason: reason ?? null });
    await tx.appendEvent({
      kind: 'model.rolled_back',
      subject: `${name}@${to}`,
      at,
      user: by,
      details: { alias, from: current.version, to, reason: reason ?? null, by, at },
    });
    return { model: name, alias, from: current.version, to, reason: reason ?? null, at, by };
  });
}

export interface ModelSummary {
  name: string;
  versions: VersionWithAliases[];
}

type VersionWithAliases = ModelVersionRecord & { aliases: string[] };

function withAliases(versions: ModelVersionRecord[], aliases: AliasRecord[]): VersionWithAliases[] {
  return versions.map((v) => ({ ...v, aliases: aliases.filter((a) => a.model === v.model && a.version === v.version).map((a) => a.alias) }));
}

/** Every version of one model, oldest first, with the aliases pointing at each. */
export async function modelVersions(ctx: AtelierContext, name: string): Promise<VersionWithAliases[]> {
  const aliases = await allItems((p) => ctx.store.listAliases({ model: name }, p));
  return withAliases(await allItems((p) => ctx.store.listModelVersions({ model: name }, p)), aliases);
}

/**
 * One page of registered versions (by model, then version), grouped by model, with the aliases
 * pointing at each. `next` continues the listing.
 */
export async function listModels(ctx: AtelierContext, name?: string, page?: PageRequest): Promise<{ models: ModelSummary[]; next: string | null }> {
  const versions = await ctx.store.listModelVersions({ model: name }, page);
  const aliases = await allItems((p) => ctx.store.listAliases({ model: [...new Set(versions.items.map((v) => v.model))] }, p));
  const byName = new Map<string, ModelSummary>();
  for (const v of withAliases(versions.items, aliases)) {
    const entry = byName.get(v.model) ?? { name: v.model, versions: [] };
    entry.versions.push(v);
    byName.set(v.model, entry);
  }
  return { models: [...byName.values()], next: versions.next };
}

/** Resolves "model@version" to the model/ folder of its bundle, checking the family matches. */
export async function warmStartSource(ctx: AtelierContext, ref: string, family: string): Promise<{ ref: string; dir: string }> {
  const { name, selector } = parseRef(ref);
  const version = await resolveModelVersion(ctx, name, selector);
  const dir = await bundleDir(ctx, version);
  const manifest = verifyBundle(dir);
  if (manifest.family !== family) {
    throw new AtelierError('CONFIG_INVALID', `--warm-start: ${name}@${version.version} is a ${manifest.family} model; this config trains ${family}`, {
      field: 'model.family',
    });
  }
  return { ref: `${name}@${version.version}`, dir: join(dir, 'model') };
}

