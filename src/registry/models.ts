import { join, relative, resolve } from 'node:path';
import { parseRef } from '../core/config.js';
import { verifyBundle } from '../bundle/format.js';
import { AtelierError } from '../core/errors.js';
import { currentUser, nowIso } from '../core/identity.js';
import type { AtelierContext } from '../store/context.js';
import type { AliasRecord, ModelVersionRecord } from '../store/types.js';
import { aliasMoves, rollbackStack } from './aliases.js';
import { latestVerdict } from './verdicts.js';

export const DEFAULT_ALIAS = 'production';

export interface RegisterInput {
  model: string;
  runId: string | null;
  bundleDir: string;
  bundleHash: string;
  metrics: Record<string, number>;
  description?: string;
}

/** Records a new version of `model` pointing at a bundle; one transaction with its event. */
export async function registerModelVersion(ctx: AtelierContext, input: RegisterInput): Promise<ModelVersionRecord> {
  return ctx.store.transaction(async (tx) => {
    const latest = await tx.getModelVersion(input.model);
    const record: ModelVersionRecord = {
      model: input.model,
      version: (latest?.version ?? 0) + 1,
      runId: input.runId,
      // Stored relative to the artifact store so a workspace can move as a whole.
      bundleUri: bundleKeyOf(ctx, input.bundleDir),
      bundleHash: input.bundleHash,
      metrics: input.metrics,
      createdAt: nowIso(),
      createdBy: currentUser(),
      description: input.description ?? null,
    };
    await tx.insertModelVersion(record);
    await tx.appendEvent({
      kind: 'model.registered',
      subject: `${record.model}@${record.version}`,
      details: { runId: record.runId, bundleHash: record.bundleHash, metrics: record.metrics },
    });
    return record;
  });
}

/** A bundle folder's key in the artifact store (what versions and runs record). */
export function bundleKeyOf(ctx: AtelierContext, bundleDir: string): string {
  return relative(ctx.artifacts.root, bundleDir);
}

export function bundlePath(ctx: AtelierContext, version: ModelVersionRecord): string {
  return resolve(ctx.artifacts.root, version.bundleUri);
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
    const production = (await ctx.store.listAliases(name)).find((a) => a.alias === DEFAULT_ALIAS);
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
  const alias = (await ctx.store.listAliases(name)).find((a) => a.alias === selector);
  if (!alias) {
    throw new AtelierError('ALIAS_NOT_FOUND', `model ${name} has no alias (label) "${selector}"`, { field: 'alias' });
  }
  return (await ctx.store.getModelVersion(name, alias.version))!;
}

/**
 * Points `alias` at a version; the change and the previous holder go into the event log. The
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
    const previous = (await tx.listAliases(name)).find((a) => a.alias === alias);
    const record: AliasRecord = { model: name, alias, version, updatedAt: nowIso() };
    await tx.setAlias(record);
    await tx.appendEvent({
      kind: 'model.promoted',
      subject: `${name}@${version}`,
      details: { alias, previous: previous?.version ?? null, reason: reason ?? null, blessed, forced },
    });
    return { ...record, previous: previous?.version ?? null, blessed, forced };
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
 * Moves an alias back to the version it pointed at before its last move, as the event log tells
 * (`model.promoted`, `model.rolled_back`); rolling back again walks further back. One
 * transaction with its `model.rolled_back` event.
 */
export async function rollbackAlias(ctx: AtelierContext, name: string, alias: string = DEFAULT_ALIAS, reason?: string): Promise<RollbackResult> {
  return ctx.store.transaction(async (tx) => {
    if (!(await tx.getModelVersion(name))) {
      throw new AtelierError('MODEL_NOT_FOUND', `no model named "${name}"; \`atelier models list\` shows the registered ones`, { field: 'model' });
    }
    const aliases = await tx.listAliases(name);
    const current = aliases.find((a) => a.alias === alias);
    if (!current) {
      const known = aliases.map((a) => a.alias);
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
    const at = nowIso();
    const by = currentUser();
    await tx.setAlias({ model: name, alias, version: to, updatedAt: at });
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
  versions: (ModelVersionRecord & { aliases: string[] })[];
}

export async function listModels(ctx: AtelierContext, name?: string): Promise<ModelSummary[]> {
  const versions = await ctx.store.listModelVersions(name);
  const aliases = await ctx.store.listAliases(name);
  const byName = new Map<string, ModelSummary>();
  for (const v of versions) {
    const entry = byName.get(v.model) ?? { name: v.model, versions: [] };
    entry.versions.push({ ...v, aliases: aliases.filter((a) => a.model === v.model && a.version === v.version).map((a) => a.alias) });
    byName.set(v.model, entry);
  }
  return [...byName.values()];
}

/** Resolves "model@version" to the model/ folder of its bundle, checking the family matches. */
export async function warmStartSource(ctx: AtelierContext, ref: string, family: string): Promise<{ ref: string; dir: string }> {
  const { name, selector } = parseRef(ref);
  const version = await resolveModelVersion(ctx, name, selector);
  const manifest = verifyBundle(bundlePath(ctx, version));
  if (manifest.family !== family) {
    throw new AtelierError('CONFIG_INVALID', `--warm-start: ${name}@${version.version} is a ${manifest.family} model; this config trains ${family}`, {
      field: 'model.family',
    });
  }
  return { ref: `${name}@${version.version}`, dir: join(bundlePath(ctx, version), 'model') };
}

