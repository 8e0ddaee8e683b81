import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { diskFullError } from '../core/disk-full.js';
import { AtelierError, isAtelierError } from '../core/errors.js';
import { loadBundle, type LoadedBundle } from '../bundle/load.js';
import { bundleDir, DEFAULT_ALIAS } from '../registry/models.js';
import type { AtelierContext } from '../store/context.js';
import { allItems } from '../store/pages.js';
import type { ModelVersionRecord } from '../store/types.js';
import { Batcher, DEFAULT_BATCH, type BatchOptions } from './batcher.js';
import { featureDomains, typicalRow, type DomainPolicy, type FeatureDomains } from './input-check.js';
import type { ServingMetrics } from './metrics.js';

/** What a request names: a model and optionally a version or a label (a registry alias). */
export interface ModelTarget {
  model: string;
  version?: number;
  label?: string;
}

/** TF Serving's servable states. */
export type VersionState = 'LOADING' | 'AVAILABLE' | 'UNLOADING' | 'END';

export interface ManagerOptions {
  /** Models to serve: names, and `name@version` to keep a version loaded; 'all' (the default) serves every registered model. */
  models?: string[] | 'all';
  /** Aliases whose holders are loaded ahead of requests and followed when they move (default: production). */
  aliases?: string[];
  /**
   * Follow the registry (alias moves, new versions) as the store announces changes: LISTEN/NOTIFY
   * on PostgreSQL; on SQLite its change counter is read this often, in milliseconds (default 200;
   * 0: do not follow).
   */
  pollMs?: number;
  batch?: BatchOptions;
  /** Per-model domain policy (default: accept and count). */
  domainPolicy?: (model: string) => DomainPolicy;
  /** Run one prediction on a typical row before a version takes traffic (default true). */
  warmup?: boolean;
  metrics?: ServingMetrics;
  /**
   * Versions per model loaded on demand (asked for by number, or by an alias the server does not
   * follow) kept at once, least recently used unloaded first (default 2): a client cannot make the
   * server hold every registered version.
   */
  maxOnDemand?: number;
}

/** The key of a model's default target (production, else the latest version) in its label table. */
const DEFAULT_LABEL = '';

/**
 * One loaded (or loading) model version: its bundle, its batcher and its in-flight count. A
 * retired version stops taking requests at once and is disposed when the last in-flight one ends.
 */
export class ServedVersion {
  state: VersionState = 'LOADING';
  error: AtelierError | undefined;
  bundle!: LoadedBundle;
  batcher!: Batcher;
  domains!: FeatureDomains;
  readonly ready: Promise<void>;
  private inflight = 0;

  constructor(
    readonly model: string,
    readonly version: number,
    dir: string | Promise<string>,
    readonly policy: DomainPolicy,
    private readonly options: { batch: BatchOptions; warmup: boolean; metrics?: ServingMetrics },
  ) {
    this.ready = this.load(dir);
  }

  private async load(bundleDir: string | Promise<string>): Promise<void> {
    const started = performance.now();
    const labels = { model: this.model, version: String(this.version) };
    let dir: string | undefined;
    try {
      dir = await bundleDir;
      this.bundle = await loadBundle(dir);
      let stats: Parameters<typeof featureDomains>[1];
      try {
        stats = JSON.parse(readFileSync(join(dir, 'stats.json'), 'utf8'));
      } catch {
        stats = undefined;
      }
      this.domains = featureDomains(this.bundle, stats);
      const bundle = this.bundle;
      this.batcher = new Batcher((columns, rows) => bundle.predictColumns(columns, rows), bundle.outputWidth, this.options.batch, (rows) =>
        this.options.metrics?.batchSize.observe(labels, rows),
      );
      if (this.options.warmup) await bundle.predict([typicalRow(bundle, stats, this.domains)]);
      this.options.metrics?.loadSeconds.set(labels, (performance.now() - started) / 1000);
      if (this.state === 'LOADING') this.state = 'AVAILABLE';
      else this.dispose(); // retired while loading
    } catch (error) {
      this.bundle?.dispose();
      // Clients see this message: it names the version, not where the server keeps its files.
      const reason = (error as Error).message.replace(/^bundle \S+: /, '').replaceAll(dir ?? '\u0000', 'the bundle');
      this.error = new AtelierError(isAtelierError(error) ? error.code : diskFullError(error) ? 'DISK_FULL' : 'BUNDLE_INVALID', `${this.model} version ${this.version} cannot be loaded: ${reason}`);
      this.state = 'END';
    }
  }

  acquire(): void {
    this.inflight++;
  }

  release(): void {
    if (--this.inflight === 0 && this.state === 'UNLOADING') this.dispose();
  }

  /** Stops taking requests; unloads once the in-flight ones are done. */
  retire(): void {
    if (this.state === 'AVAILABLE') {
      this.state = 'UNLOADING';
      if (this.inflight === 0) this.dispose();
    } else if (this.state === 'LOADING') {
      this.state = 'UNLOADING'; // load() disposes when it finishes
    }
  }

  private dispose(): void {
    this.state = 'END';
    this.batcher?.close();
    this.bundle?.dispose();
  }
}

interface ModelEntry {
  name: string;
  /** Versions loading or serving. */
  versions: Map<number, ServedVersion>;
  /** Recently unloaded or failed versions, for status. */
  retired: ServedVersion[];
  /** Registry aliases to versions; DEFAULT_LABEL is production, else the latest. Replaced whole on a switch. */
  labels: Map<string, number>;
  registered: Set<number>;
  pinned: Set<number>;
  /** Versions asked for by number or by an alias the server does not follow, least recently used first: at most `maxOnDemand`. */
  onDemand: Set<number>;
}

const spec = (t: ModelTarget) => (t.version !== undefined ? `Specific(${t.model}, ${t.version})` : t.label !== undefined ? `Label(${t.model}, ${t.label})` : `Latest(${t.model})`);

/**
 * The model manager: loads and warms the versions the server must hold (the holders of the
 * followed aliases, the default version, pinned versions), follows the registry without a
 * restart, and switches traffic only to a version that is loaded. When an alias moves, the new
 * holder loads and warms while the old one serves; the label table then switches at once, and the
 * old version drains its in-flight requests and unloads.
 */
export class ModelManager {
  private readonly entries = new Map<string, ModelEntry>();
  private readonly names: Set<string> | undefined;
  private readonly pins = new Map<string, Set<number>>();
  private readonly aliases: string[];
  private unwatch: (() => Promise<void>) | undefined;
  private syncing: Promise<void> = Promise.resolve();
  private syncQueued = false;
  private closed = false;

  private constructor(
    private readonly ctx: AtelierContext,
    private readonly options: ManagerOptions,
  ) {
    this.aliases = options.aliases ?? [DEFAULT_ALIAS];
    if (options.models === undefined || options.models === 'all') this.names = undefined;
    else {
      this.names = new Set();
      for (const item of options.models) {
        const [name, selector] = item.split('@') as [string, string?];
        this.names.add(name);
        if (selector !== undefined && /^\d+$/.test(selector)) {
          if (!this.pins.has(name)) this.pins.set(name, new Set());
          this.pins.get(name)!.add(Number(selector));
        } else if (selector !== undefined && !this.aliases.includes(selector)) this.aliases.push(selector);
      }
    }
    options.metrics && (options.metrics.queueDepths = () => this.queueDepths());
  }

  /**
   * Reads the registry's tables (never the event log), loads and warms every version the server
   * must hold, then follows the registry's change notifications.
   */
  static async create(ctx: AtelierContext, options: ManagerOptions = {}): Promise<ModelManager> {
    const manager = new ModelManager(ctx, options);
    const checkMs = options.pollMs ?? 200;
    // Watch before the first read, so a move between the two is not missed.
    if (checkMs > 0) manager.unwatch = await ctx.store.watchRegistry(() => manager.changed(), { checkMs });
    try {
      await manager.sync();
    } catch (error) {
      manager.close();
      throw error;
    }
    if (manager.names) {
      const missing = [...manager.names].filter((n) => !manager.entries.has(n));
      if (missing.length > 0) {
        manager.close();
        throw new AtelierError('MODEL_NOT_FOUND', `no model named ${missing.map((m) => `"${m}"`).join(', ')}; \`atelier models list\` shows the registered ones`, {
          field: 'models',
        });
      }
    }
    return manager;
  }

  /** The registry changed: one more sync after the running one (news arriving meanwhile share it). */
  private changed(): void {
    if (this.syncQueued || this.closed) return;
    this.syncQueued = true;
    void this.sync().catch(() => {
      /* the store is busy or closing: the next change (or restart) syncs again */
    });
  }

  /** One sync at a time, in order; a failed one does not stop the next. */
  sync(): Promise<void> {
    this.syncing = this.syncing
      .catch(() => {})
      .then(() => {
        this.syncQueued = false;
        return this.syncOnce();
      });
    return this.syncing;
  }

  private async syncOnce(): Promise<void> {
    if (this.closed) return;
    const [versions, aliases] = await Promise.all([
      allItems((page) => this.ctx.store.listModelVersions({}, page)),
      allItems((page) => this.ctx.store.listAliases({}, page)),
    ]);
    const records = new Map<string, ModelVersionRecord[]>();
    for (const v of versions) {
      if (this.names && !this.names.has(v.model)) continue;
      if (!records.has(v.model)) records.set(v.model, []);
      records.get(v.model)!.push(v);
    }
    const plans: { entry: ModelEntry; labels: Map<string, number> }[] = [];
    for (const [name, list] of records) {
      let entry = this.entries.get(name);
      if (!entry) {
        entry = { name, versions: new Map(), retired: [], labels: new Map(), registered: new Set(), pinned: this.pins.get(name) ?? new Set(), onDemand: new Set() };
        this.entries.set(name, entry);
      }
      entry.registered = new Set(list.map((v) => v.version));
      const latest = Math.max(...entry.registered);
      const labels = new Map(aliases.filter((a) => a.model === name).map((a) => [a.alias, a.version]));
      labels.set(DEFAULT_LABEL, labels.get(DEFAULT_ALIAS) ?? latest);
      for (const v of this.wanted(entry, labels)) {
        const current = entry.versions.get(v);
        if (!current || current.state === 'END') this.startLoad(entry, v, list.find((r) => r.version === v)!);
      }
      plans.push({ entry, labels });
    }
    await Promise.all(plans.flatMap(({ entry, labels }) => [...this.wanted(entry, labels)].map((v) => entry.versions.get(v)?.ready)));
    for (const { entry, labels } of plans) this.switchTo(entry, labels);
  }

  private followed(alias: string): boolean {
    return alias === DEFAULT_LABEL || this.aliases.includes(alias);
  }

  private wanted(entry: ModelEntry, labels: Map<string, number>): Set<number> {
    const out = new Set<number>([...entry.pinned, ...entry.onDemand]);
    for (const [alias, v] of labels) if (this.followed(alias)) out.add(v);
    return new Set([...out].filter((v) => entry.registered.has(v)));
  }

  /**
   * Installs the new label table. A followed alias moves only to a version that loaded; if its
   * new holder failed, it stays on the old one. Versions no longer wanted retire (drain, unload).
   */
  private switchTo(entry: ModelEntry, labels: Map<string, number>): void {
    const next = new Map<string, number>();
    for (const [alias, v] of labels) {
      const old = entry.labels.get(alias);
      const loaded = entry.versions.get(v)?.state === 'AVAILABLE';
      const keepOld = this.followed(alias) && !loaded && old !== undefined && entry.versions.get(old)?.state === 'AVAILABLE';
      next.set(alias, keepOld ? old! : v);
    }
    entry.labels = next;
    const keep = this.wanted(entry, next);
    for (const [v, served] of entry.versions) {
      if (keep.has(v)) continue; // a failed one stays to answer its error; the next sync retries it
      entry.versions.delete(v);
      served.retire();
      entry.retired = [served, ...entry.retired.filter((r) => r.version !== v)].slice(0, 10);
    }
  }

  private startLoad(entry: ModelEntry, version: number, record: ModelVersionRecord | Promise<ModelVersionRecord | undefined>): ServedVersion {
    const dir = Promise.resolve(record).then((r) => {
      if (!r) throw new AtelierError('VERSION_NOT_FOUND', `Servable not found for request: Specific(${entry.name}, ${version})`, { field: 'version' });
      return bundleDir(this.ctx, r);
    });
    const served = new ServedVersion(entry.name, version, dir, this.options.domainPolicy?.(entry.name) ?? 'accept', {
      batch: this.options.batch ?? DEFAULT_BATCH,
      warmup: this.options.warmup ?? true,
      metrics: this.options.metrics,
    });
    entry.versions.set(version, served);
    return served;
  }

  private find(target: ModelTarget): { entry: ModelEntry; version: number } {
    const entry = this.entries.get(target.model);
    if (!entry) throw new AtelierError('MODEL_NOT_FOUND', `Servable not found for request: ${spec(target)}`, { field: 'model' });
    if (target.version !== undefined) return { entry, version: target.version };
    const label = target.label ?? DEFAULT_LABEL;
    const version = entry.labels.get(label);
    if (version === undefined) throw new AtelierError('ALIAS_NOT_FOUND', `Unrecognized servable version label: ${label}`, { field: 'label' });
    return { entry, version };
  }

  /**
   * The version a request goes to, counted in flight (call `release()` when done). Synchronous, so
   * no switch can fall between choosing a version and holding it. A registered version that is
   * not loaded starts loading and the request gets MODEL_NOT_READY (503).
   */
  acquire(target: ModelTarget): ServedVersion {
    const { entry, version } = this.find(target);
    const served = entry.versions.get(version);
    if (served?.state === 'AVAILABLE') {
      if (entry.onDemand.delete(version)) entry.onDemand.add(version); // most recently used last
      served.acquire();
      return served;
    }
    if (served?.state === 'END' && served.error) throw served.error;
    if (!entry.registered.has(version)) throw new AtelierError('VERSION_NOT_FOUND', `Servable not found for request: ${spec(target)}`, { field: 'version' });
    if (!served || served.state !== 'LOADING') {
      entry.onDemand.delete(version);
      entry.onDemand.add(version);
      this.startLoad(entry, version, this.ctx.store.getModelVersion(entry.name, version));
      this.evictOnDemand(entry);
    }
    throw new AtelierError('MODEL_NOT_READY', `${entry.name} version ${version} is loading; retry shortly`, { model: entry.name, version });
  }

  /** Unloads the least recently used on-demand versions past the cap (pinned and followed ones stay). */
  private evictOnDemand(entry: ModelEntry): void {
    const cap = this.options.maxOnDemand ?? 2;
    if (entry.onDemand.size <= cap) return;
    for (const version of [...entry.onDemand].slice(0, entry.onDemand.size - cap)) entry.onDemand.delete(version);
    this.switchTo(entry, entry.labels);
  }

  /** Versions for TF Serving's model status: all held and recently retired, or the one a target names. */
  status(target: ModelTarget): ServedVersion[] {
    const entry = this.entries.get(target.model);
    if (!entry) throw new AtelierError('MODEL_NOT_FOUND', `Could not find any versions of model ${target.model}`, { field: 'model' });
    // A version retired and loaded again (asked for by number) is listed once, as it is now.
    const retired = entry.retired.filter((s) => !entry.versions.has(s.version));
    const all = [...entry.versions.values(), ...retired].sort((a, b) => b.version - a.version);
    if (target.version === undefined && target.label === undefined) return all;
    const { version } = this.find(target);
    const found = all.filter((s) => s.version === version).slice(0, 1);
    if (found.length === 0) throw new AtelierError('VERSION_NOT_FOUND', `Could not find version ${version} of model ${target.model}`, { field: 'version' });
    return found;
  }

  /** The version a target names if it is loaded (no in-flight count); undefined while loading. */
  peek(target: ModelTarget): ServedVersion | undefined {
    const { entry, version } = this.find(target);
    if (!entry.registered.has(version)) throw new AtelierError('VERSION_NOT_FOUND', `Servable not found for request: ${spec(target)}`, { field: 'version' });
    const served = entry.versions.get(version);
    return served?.state === 'AVAILABLE' ? served : undefined;
  }

  /** Loaded versions of a model, newest first. */
  available(model: string): number[] {
    const entry = this.entries.get(model);
    return entry ? [...entry.versions.values()].filter((s) => s.state === 'AVAILABLE').map((s) => s.version).sort((a, b) => b - a) : [];
  }

  models(): string[] {
    return [...this.entries.keys()].sort();
  }

  /** Every followed label's version is loaded. */
  ready(): boolean {
    for (const entry of this.entries.values()) {
      for (const [alias, v] of entry.labels) if (this.followed(alias) && entry.versions.get(v)?.state !== 'AVAILABLE') return false;
      for (const v of entry.pinned) if (entry.versions.get(v)?.state !== 'AVAILABLE') return false;
    }
    return true;
  }

  private queueDepths(): { model: string; version: number; depth: number }[] {
    return [...this.entries.values()].flatMap((e) =>
      [...e.versions.values()].filter((s) => s.state === 'AVAILABLE').map((s) => ({ model: s.model, version: s.version, depth: s.batcher.depth })),
    );
  }

  close(): void {
    this.closed = true;
    void this.unwatch?.();
    for (const entry of this.entries.values()) for (const served of entry.versions.values()) served.retire();
  }
}
