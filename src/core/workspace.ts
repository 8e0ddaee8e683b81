import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parse, stringify } from '#yaml';
import { z } from '#zod';
import { AtelierError } from './errors.js';
import { writeFileAtomic } from './files.js';

/**
 * A workspace is a folder with atelier.yaml and a .atelier/ folder of local state (run folders,
 * temp files, caches). Its metadata store and artifact store are URLs: by default SQLite and a
 * folder inside .atelier/, at team scale PostgreSQL and S3 shared by many machines.
 */
export interface Workspace {
  root: string;
  stateDir: string;
  /** The metadata store: `sqlite:PATH` (relative to root) or `postgres://...`. */
  storeUrl: string;
  /** The artifact store: `file:///abs/path` or `s3://bucket/prefix`. */
  artifactsUrl: string;
  /** The SQLite file when the store is SQLite (undefined for PostgreSQL). */
  databasePath: string | undefined;
  /** The artifact folder when the artifacts are local files (undefined for S3). */
  artifactsDir: string | undefined;
  settings: WorkspaceSettings;
}

/** Where the store and artifact URLs come from, highest first: flags, then the environment, then atelier.yaml. */
export interface StoreOverrides {
  store?: string;
  artifacts?: string;
}

const settingsSchema = z.object({
  name: z.string().default('atelier'),
  metadata: z.object({ url: z.string().default('sqlite:.atelier/metadata.db') }).default({ url: 'sqlite:.atelier/metadata.db' }),
  // `url` (file:// or s3://) wins over `path` (a folder relative to the workspace, the embedded default).
  artifacts: z
    .object({ path: z.string().default('.atelier/artifacts'), url: z.string().optional() })
    .default({ path: '.atelier/artifacts' }),
});
export type WorkspaceSettings = z.infer<typeof settingsSchema>;

export const WORKSPACE_FILE = 'atelier.yaml';

function readSettings(file: string): WorkspaceSettings {
  const parsed = settingsSchema.safeParse(parse(readFileSync(file, 'utf8')) ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new AtelierError('CONFIG_INVALID', `${file}: field ${issue.path.join('.')}: ${issue.message}`, {
      file,
      field: issue.path.join('.'),
    });
  }
  return parsed.data;
}

const fromEnv = (name: string) => process.env[name] || undefined;

/** Resolves the store and artifact URLs of a workspace rooted at `root`. */
function workspaceWith(root: string, settings: WorkspaceSettings, overrides: StoreOverrides): Workspace {
  const storeSetting = overrides.store ?? fromEnv('ATELIER_STORE_URL') ?? settings.metadata.url;
  const artifactsSetting =
    overrides.artifacts ?? fromEnv('ATELIER_ARTIFACTS_URL') ?? settings.artifacts.url ?? pathToFileURL(resolve(root, settings.artifacts.path)).href;
  const storeUrl = normalizeStoreUrl(storeSetting, root);
  const artifactsUrl = normalizeArtifactsUrl(artifactsSetting, root);
  return {
    root,
    stateDir: join(root, '.atelier'),
    storeUrl,
    artifactsUrl,
    databasePath: storeUrl.startsWith('sqlite:') ? storeUrl.slice('sqlite:'.length) : undefined,
    artifactsDir: artifactsUrl.startsWith('file:') ? fileURLToPath(artifactsUrl) : undefined,
    settings,
  };
}

/** `sqlite:relative/path` becomes absolute against the workspace; postgres URLs pass through. */
export function normalizeStoreUrl(url: string, root: string): string {
  if (url.startsWith('sqlite:')) return `sqlite:${resolve(root, url.slice('sqlite:'.length))}`;
  if (/^postgres(ql)?:\/\//.test(url)) return url;
  throw new AtelierError('CONFIG_INVALID', `store URL "${redactUrl(url)}": expected sqlite:PATH or postgres://user@host:port/database`, {
    field: 'metadata.url',
  });
}

/** A bare folder becomes a file:// URL against the workspace; file:// and s3:// pass through. */
export function normalizeArtifactsUrl(url: string, root: string): string {
  if (url.startsWith('file:') || url.startsWith('s3://')) return url;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    throw new AtelierError('CONFIG_INVALID', `artifact store URL "${redactUrl(url)}": expected file:///path or s3://bucket/prefix`, {
      field: 'artifacts.url',
    });
  }
  return pathToFileURL(resolve(root, url)).href;
}

/** A URL safe to print: the password, if any, replaced by ***. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*:)[^@/]*@/i, '$1***@');
}

function workspaceAt(root: string, overrides: StoreOverrides = {}): Workspace {
  return workspaceWith(root, readSettings(join(root, WORKSPACE_FILE)), overrides);
}

/** Creates atelier.yaml and .atelier/ in `dir`; the metadata database is created by the store. */
export function initWorkspace(dir: string, name?: string, urls: StoreOverrides = {}): Workspace {
  const root = resolve(dir);
  if (existsSync(join(root, WORKSPACE_FILE))) {
    throw new AtelierError('WORKSPACE_EXISTS', `${root} already holds a workspace (${WORKSPACE_FILE})`, { file: join(root, WORKSPACE_FILE) });
  }
  mkdirSync(join(root, '.atelier'), { recursive: true });
  const settings: WorkspaceSettings = settingsSchema.parse({
    name: name ?? 'atelier',
    ...(urls.store ? { metadata: { url: urls.store } } : {}),
    ...(urls.artifacts ? { artifacts: { url: urls.artifacts } } : {}),
  });
  const text =
    '# Atelier workspace. Commands run anywhere below this folder find it.\n' + stringify(settings);
  writeFileAtomic(join(root, WORKSPACE_FILE), text);
  return workspaceAt(root);
}

/**
 * Finds the workspace: explicit dir, then ATELIER_WORKSPACE, then walking up from `from`. With no
 * atelier.yaml anywhere, a store URL and an artifact URL (flags or environment) make a workspace
 * of the current folder: a worker on another machine needs nothing else (its .atelier/ holds only
 * temp files and caches).
 */
export function findWorkspace(options: { dir?: string; from?: string } & StoreOverrides = {}): Workspace {
  const overrides: StoreOverrides = { store: options.store, artifacts: options.artifacts };
  const explicit = options.dir ?? process.env.ATELIER_WORKSPACE;
  if (explicit) {
    const root = resolve(explicit);
    if (!existsSync(join(root, WORKSPACE_FILE))) {
      throw new AtelierError('WORKSPACE_NOT_FOUND', `${root} is not an Atelier workspace (no ${WORKSPACE_FILE}); run \`atelier init\` there`, {
        file: root,
      });
    }
    return workspaceAt(root, overrides);
  }
  let current = resolve(options.from ?? process.cwd());
  for (;;) {
    if (existsSync(join(current, WORKSPACE_FILE))) return workspaceAt(current, overrides);
    const parent = dirname(current);
    if (parent === current) break;
    current = parent;
  }
  const store = overrides.store ?? fromEnv('ATELIER_STORE_URL');
  const artifacts = overrides.artifacts ?? fromEnv('ATELIER_ARTIFACTS_URL');
  if (store && artifacts) {
    const root = resolve(options.from ?? process.cwd());
    return workspaceWith(root, settingsSchema.parse({ name: 'atelier' }), { store, artifacts });
  }
  throw new AtelierError(
    'WORKSPACE_NOT_FOUND',
    `no Atelier workspace in ${resolve(options.from ?? process.cwd())} or above it; run \`atelier init\` or pass --workspace DIR`,
  );
}
