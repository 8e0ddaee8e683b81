import { statfsSync } from 'node:fs';
import { dirname, isAbsolute } from 'node:path';
import { AtelierError, isAtelierError } from './errors.js';

/** How the layers below say "no space": Node (ENOSPC), SQLite (SQLITE_FULL), PostgreSQL (53100 disk_full), DuckDB (the OS text). */
const NO_SPACE_CODES = new Set(['ENOSPC', 'SQLITE_FULL', '53100']);
const NO_SPACE_TEXT = /no space left on device|database or disk is full|\bENOSPC\b|could not extend file/i;
/** The metadata store's own ways of saying it; they name no file, so the store is named. */
const STORE_FULL = (code: string, text: string) => code === 'SQLITE_FULL' || code === '53100' || /database or disk is full/i.test(text);
/** Free bytes below this on the store's filesystem make SQLite's vaguer I/O errors a full disk. */
const NEARLY_FULL_BYTES = 64 * 1024;

/** SQLite says "disk I/O error" when it cannot grow its shared-memory file on a full disk: asked of the filesystem. */
function storeDiskFull(code: string, store: string | undefined): boolean {
  if (!code.startsWith('SQLITE_IOERR') || !store || !isAbsolute(store)) return false;
  try {
    const fs = statfsSync(dirname(store));
    return fs.bavail * fs.bsize < NEARLY_FULL_BYTES;
  } catch {
    return false;
  }
}

/** DuckDB and PostgreSQL name the file in quotes: `Could not write file "/x/y.parquet"`. */
const QUOTED_PATH = /(?:file|directory) "([^"]+)"/i;

/**
 * The DISK_FULL error for `error` when it (or its cause) is a full disk, else undefined. Library
 * code that wraps errors into its own codes (a CSV that cannot be read, a failed step) asks this
 * first, so a full disk is never reported as bad input; the CLI's edge asks it once more.
 * `store` names the metadata store (its file, or its redacted URL) for the store's own errors,
 * which name no file (SQLite's "database or disk is full").
 */
export function diskFullError(error: unknown, store?: string): AtelierError | undefined {
  let current: unknown = error;
  for (let depth = 0; current && depth < 5; depth++, current = (current as { cause?: unknown }).cause) {
    if (isAtelierError(current) && current.code === 'DISK_FULL') return current;
    // A copy or rename names its source as `path` and the file it writes as `dest`: the full disk is the dest's.
    const { code, path: source, dest, message } = current as { code?: unknown; path?: unknown; dest?: unknown; message?: unknown };
    const path = typeof dest === 'string' ? dest : source;
    const text = String(message ?? '');
    const storeFull = STORE_FULL(String(code), text) || storeDiskFull(String(code), store);
    if (!NO_SPACE_CODES.has(String(code)) && !NO_SPACE_TEXT.test(text) && !storeFull) continue;
    const place = typeof path === 'string' ? path : (QUOTED_PATH.exec(text)?.[1] ?? (storeFull ? store : undefined));
    return new AtelierError(
      'DISK_FULL',
      `disk full${place ? ` writing ${place}` : ''}: free some space (\`atelier gc\` removes temp files and unreferenced artifacts) and retry`,
      place ? { file: place } : {},
    );
  }
  return undefined;
}
