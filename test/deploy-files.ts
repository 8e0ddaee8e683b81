/**
 * Readers for the deployment files in deploy/, for test/deploy.test.ts: a Dockerfile parser, the
 * .dockerignore matcher, Compose's variable interpolation, and the small subset of kustomize the
 * overlays use (resources, namespace, labels, images, replicas, strategic-merge patches). Each
 * refuses what it does not implement, so that a test never passes over a field it ignored.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';

// ---------- Dockerfile ----------

export interface DockerInstruction {
  op: string;
  /** The arguments with the flags (`--from=build`) taken out. */
  args: string;
  flags: Record<string, string>;
  line: number;
}

export interface DockerStage {
  name: string | undefined;
  base: string;
  instructions: DockerInstruction[];
}

/** Splits a Dockerfile into stages of instructions (continuation lines joined, comments dropped). */
export function parseDockerfile(text: string): DockerStage[] {
  const stages: DockerStage[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let logical = lines[i]!;
    if (/^\s*(#|$)/.test(logical)) continue;
    // A trailing backslash continues the instruction; comment lines inside it are dropped.
    while (/\\\s*$/.test(logical) && i + 1 < lines.length) {
      logical = logical.replace(/\\\s*$/, ' ');
      i++;
      if (!/^\s*#/.test(lines[i]!)) logical += lines[i]!;
    }
    const match = /^\s*([A-Za-z]+)\s+(.*)$/.exec(logical.trim());
    if (!match) throw new Error(`Dockerfile line ${start + 1}: not an instruction: ${logical}`);
    const op = match[1]!.toUpperCase();
    let rest = match[2]!.trim();
    const flags: Record<string, string> = {};
    for (let flag = /^--([a-z-]+)=(\S+)\s+/.exec(rest); flag; flag = /^--([a-z-]+)=(\S+)\s+/.exec(rest)) {
      flags[flag[1]!] = flag[2]!;
      rest = rest.slice(flag[0].length);
    }
    if (op === 'FROM') {
      const from = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest);
      if (!from) throw new Error(`Dockerfile line ${start + 1}: FROM ${rest}`);
      stages.push({ base: from[1]!, name: from[2], instructions: [] });
      continue;
    }
    const stage = stages[stages.length - 1];
    if (!stage) throw new Error(`Dockerfile line ${start + 1}: ${op} before any FROM`);
    stage.instructions.push({ op, args: rest, flags, line: start + 1 });
  }
  return stages;
}

/** The words of an instruction's arguments: the JSON (exec) form, or split on white space. */
export function instructionWords(instruction: DockerInstruction): string[] {
  if (instruction.args.startsWith('[')) return JSON.parse(instruction.args) as string[];
  return instruction.args.split(/\s+/).filter(Boolean);
}

// ---------- .dockerignore ----------

function ignorePattern(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*' && pattern[i + 1] === '*') {
      source += '.*';
      i++;
    } else if (c === '*') source += '[^/]*';
    else if (c === '?') source += '[^/]';
    else source += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

/**
 * Whether the build context leaves `path` (relative to the context, `/`-separated) out: the last
 * matching line wins, `!` lines take a path back, and a path is left out with a parent that is.
 */
export function dockerIgnored(ignoreFile: string, path: string): boolean {
  const rules = ignoreFile
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => ({ keep: l.startsWith('!'), re: ignorePattern(l.replace(/^!/, '').replace(/^\/+|\/+$/g, '')) }));
  const parts = path.replace(/^\.\/|\/+$/g, '').split('/');
  let ignored = false;
  for (let depth = 1; depth <= parts.length; depth++) {
    const prefix = parts.slice(0, depth).join('/');
    for (const rule of rules) if (rule.re.test(prefix)) ignored = !rule.keep;
  }
  return ignored;
}

// ---------- Compose ----------

/** Compose's interpolation of string values: ${VAR}, ${VAR:-default}, ${VAR-default}, $VAR and $$. */
export function interpolate<T>(value: T, env: Record<string, string | undefined>): T {
  if (typeof value === 'string') {
    return value.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (all, braced, op, fallback, bare) => {
      if (all === '$$') return '$';
      const name = (braced ?? bare) as string;
      const set = env[name];
      if (op === ':-') return set ? set : fallback;
      if (op === '-') return set ?? fallback;
      if (set === undefined) throw new Error(`compose: \${${name}} is not set and has no default`);
      return set;
    }) as T;
  }
  if (Array.isArray(value)) return value.map((v) => interpolate(v, env)) as T;
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, env)])) as T;
  }
  return value;
}

/** A Compose file as `docker compose config` sees it before defaults: YAML with merge keys, interpolated. */
export function readCompose(file: string, env: Record<string, string | undefined> = {}): any {
  return interpolate(parse(readFileSync(file, 'utf8'), { merge: true }), env);
}

// ---------- Kubernetes and kustomize ----------

export type Manifest = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> }; [key: string]: any };

/** Every document of a YAML file of manifests. */
export function readManifests(file: string): Manifest[] {
  return parseAllDocuments(readFileSync(file, 'utf8')).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]!.message}`);
    return doc.toJS() as Manifest;
  }).filter((m) => m !== null);
}

/** The pod spec inside a workload (Deployment, Job, ...), if it has one. */
export function podSpecOf(m: Manifest): any | undefined {
  if (m.kind === 'Pod') return m.spec;
  if (m.kind === 'CronJob') return m.spec?.jobTemplate?.spec?.template?.spec;
  return m.spec?.template?.spec;
}

const SUPPORTED = new Set(['apiVersion', 'kind', 'resources', 'namespace', 'labels', 'images', 'replicas', 'patches']);
const isMap = (v: unknown): v is Record<string, any> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Strategic merge, the part the overlays use: maps merge key by key (null deletes), lists of
 * named items (containers, volumes, env) merge by name, other lists are replaced.
 */
export function strategicMerge(base: any, patch: any): any {
  if (isMap(patch) && '$patch' in patch) throw new Error('kustomize subset: $patch directives are not implemented');
  if (isMap(base) && isMap(patch)) {
    const out: Record<string, any> = { ...base };
    for (const [key, value] of Object.entries(patch)) {
      if (value === null) delete out[key];
      else out[key] = key in base ? strategicMerge(base[key], value) : value;
    }
    return out;
  }
  const named = (list: unknown) => Array.isArray(list) && list.every((item) => isMap(item) && typeof item.name === 'string');
  if (named(base) && named(patch)) {
    const out = (base as any[]).map((item) => {
      const change = (patch as any[]).find((p) => p.name === item.name);
      return change ? strategicMerge(item, change) : item;
    });
    for (const item of patch as any[]) if (!(base as any[]).some((b) => b.name === item.name)) out.push(item);
    return out;
  }
  return patch;
}

const sameObject = (a: Manifest, b: Manifest) => a.apiVersion === b.apiVersion && a.kind === b.kind && a.metadata.name === b.metadata.name;

function replaceImage(image: string, rules: { name: string; newName?: string; newTag?: string; digest?: string }[]): string {
  const at = image.indexOf('@');
  const withoutDigest = at >= 0 ? image.slice(0, at) : image;
  const colon = withoutDigest.lastIndexOf(':');
  const name = colon > withoutDigest.lastIndexOf('/') ? withoutDigest.slice(0, colon) : withoutDigest;
  const rule = rules.find((r) => r.name === name);
  if (!rule) return image;
  const newName = rule.newName ?? name;
  if (rule.digest) return `${newName}@${rule.digest}`;
  if (rule.newTag !== undefined) return `${newName}:${rule.newTag}`;
  return newName + image.slice(name.length);
}

/** `kustomize build DIR` for the fields in SUPPORTED; anything else is refused. */
export function kustomizeBuild(dir: string): Manifest[] {
  const file = join(dir, 'kustomization.yaml');
  const k = parse(readFileSync(file, 'utf8')) as Record<string, any>;
  for (const key of Object.keys(k)) if (!SUPPORTED.has(key)) throw new Error(`${file}: kustomize field "${key}" is not implemented by the test's kustomize subset`);
  let objects: Manifest[] = [];
  for (const entry of (k.resources ?? []) as string[]) {
    const path = resolve(dir, entry);
    if (!existsSync(path)) throw new Error(`${file}: resource ${entry} does not exist`);
    objects.push(...(statSync(path).isDirectory() ? kustomizeBuild(path) : readManifests(path)));
  }
  for (const entry of (k.patches ?? []) as Record<string, any>[]) {
    const keys = Object.keys(entry);
    if (keys.length !== 1 || keys[0] !== 'path') throw new Error(`${file}: patches entries other than { path } are not implemented`);
    const patches = readManifests(resolve(dir, entry.path));
    if (patches.length !== 1) throw new Error(`${file}: patch ${entry.path} must hold one document`);
    const patch = patches[0]!;
    const index = objects.findIndex((o) => sameObject(o, patch));
    if (index < 0) throw new Error(`${file}: patch ${entry.path} matches no resource (${patch.apiVersion} ${patch.kind} ${patch.metadata.name})`);
    objects[index] = strategicMerge(objects[index], patch);
  }
  for (const entry of (k.replicas ?? []) as { name: string; count: number }[]) {
    const targets = objects.filter((o) => o.metadata.name === entry.name && ['Deployment', 'StatefulSet', 'ReplicaSet'].includes(o.kind));
    if (targets.length === 0) throw new Error(`${file}: replicas for ${entry.name} match no workload`);
    objects = objects.map((o) => (targets.includes(o) ? { ...o, spec: { ...o.spec, replicas: entry.count } } : o));
  }
  if (k.images) {
    for (const o of objects) {
      const pod = podSpecOf(o);
      for (const c of [...(pod?.containers ?? []), ...(pod?.initContainers ?? [])]) c.image = replaceImage(c.image, k.images);
    }
  }
  for (const entry of (k.labels ?? []) as Record<string, any>[]) {
    const keys = Object.keys(entry);
    if (keys.length !== 1 || keys[0] !== 'pairs') throw new Error(`${file}: labels entries other than { pairs } are not implemented`);
    for (const o of objects) o.metadata = { ...o.metadata, labels: { ...o.metadata.labels, ...entry.pairs } };
  }
  if (k.namespace) for (const o of objects) o.metadata = { ...o.metadata, namespace: k.namespace };
  return objects;
}
