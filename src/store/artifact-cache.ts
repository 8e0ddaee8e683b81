import { existsSync, rmSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { AtelierError } from '../core/errors.js';
import { bundleHashOfKey, moveInto, tempName } from './artifacts.js';
import { folderEntries } from './artifacts-file.js';

export const DEFAULT_CACHE_BYTES = 2 * 1024 ** 3;
/** Entries used this recently are not evicted. */
export const DEFAULT_GRACE_MS = 60_000;

const UNITS: Record<string, number> = { b: 1, kb: 1e3, kib: 1024, mb: 1e6, mib: 1024 ** 2, gb: 1e9, gib: 1024 ** 3 };

/** A size setting from the environment: a byte count, or a size such as `500MiB` or `2GB`. */
export function byteSizeFrom(variable: string, fallback: number): number {
  const value = process.env[variable];
  if (value === undefined || value.trim() === '') return fallback;
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(value.trim());
  const unit = UNITS[(match?.[2] || 'b').toLowerCase()];
  if (!match || unit === undefined) {
    throw new AtelierError('CONFIG_INVALID', `${variable} "${value}": expected a size in bytes such as 2147483648, 500MiB or 2GB`, { field: variable });
  }
  return Math.floor(Number(match[1]) * unit);
}

/**
 * A local read-through cache of a remote store, laid out by key like a file store
 * (`sha256/xx/<hash>.parquet`, `bundles/<hash>/`). Entries arrive whole by rename (from
 * .atelier/tmp, the same filesystem), so two processes filling the same key never see half of
 * it; the loser's copy is dropped. Each use touches the entry's time; past `capBytes` the least
 * recently used entries go, never the one just used nor one used within `graceMs` (another
 * process may be between finding a bundle here and loading it), so the cap can be passed for a
 * moment while many entries are in use at once.
 */
export class ArtifactCache {
  constructor(
    readonly root: string,
    readonly capBytes: number,
    private readonly stagingDir: string,
    private readonly graceMs = DEFAULT_GRACE_MS,
  ) {}

  private pathOf(key: string): string {
    return join(this.root, key);
  }

  /** The cached copy of `key`, touched as just used, or undefined. */
  lookup(key: string): string | undefined {
    const path = this.pathOf(key);
    if (!existsSync(bundleHashOfKey(key) ? join(path, 'bundle.json') : path)) return undefined;
    touch(path);
    return path;
  }

  /** Moves a finished file or folder in as `key` (dropped when another process got there first). */
  adopt(source: string, key: string): string {
    const path = this.pathOf(key);
    moveInto(source, path, this.stagingDir);
    touch(path);
    this.evict(key);
    return path;
  }

  remove(key: string): void {
    const path = this.pathOf(key);
    if (!existsSync(path)) return;
    const aside = join(this.stagingDir, tempName('-evicted'));
    try {
      moveInto(path, aside, this.stagingDir);
    } catch {
      return; // removed by another process meanwhile
    }
    rmSync(aside, { recursive: true, force: true });
  }

  /** Total size of what is cached now. */
  bytes(): number {
    let total = 0;
    for (const entry of folderEntries(this.root)) total += entry.bytes;
    return total;
  }

  /** Removes least recently used entries until the cache fits its cap (keeping `keep`). */
  evict(keep?: string): void {
    const entries = [...folderEntries(this.root)].sort((a, b) => a.modifiedAt.getTime() - b.modifiedAt.getTime());
    let total = entries.reduce((sum, e) => sum + e.bytes, 0);
    const recent = Date.now() - this.graceMs;
    for (const entry of entries) {
      if (total <= this.capBytes || entry.modifiedAt.getTime() > recent) break;
      if (entry.key === keep) continue;
      this.remove(entry.key);
      total -= entry.bytes;
    }
  }
}

function touch(path: string): void {
  const now = new Date();
  try {
    utimesSync(path, now, now);
  } catch {
    /* evicted by another process meanwhile: the caller already holds its path or refetches */
  }
}
