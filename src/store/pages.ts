import { AtelierError } from '../core/errors.js';
import type { Page, PageRequest } from './types.js';

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;

type Key = (string | number)[];

/** The page size asked for, within 1..MAX_PAGE_SIZE. */
export function pageSize(page: PageRequest | undefined): number {
  const limit = page?.limit ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(limit) || limit < 1) throw new AtelierError('USAGE', `page limit ${limit} is not a whole number of at least 1`, { field: 'limit' });
  return Math.min(limit, MAX_PAGE_SIZE);
}

/**
 * Cursors are opaque to callers: the list's name and the sort key of the last item given, as
 * base64url JSON. Keyset pagination, so a page costs the same however deep it is.
 */
export function encodeCursor(list: string, key: Key): string {
  return Buffer.from(JSON.stringify([list, ...key])).toString('base64url');
}

export function decodeCursor(list: string, cursor: string, types: ('string' | 'number')[]): Key {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  const ok =
    Array.isArray(parsed) && parsed[0] === list && parsed.length === types.length + 1 && types.every((t, i) => typeof parsed[i + 1] === t);
  if (!ok) throw new AtelierError('USAGE', `cursor "${cursor}" is not a cursor of the ${list} list; pass the "next" value the previous page gave`, { field: 'cursor' });
  return (parsed as unknown[]).slice(1) as Key;
}

/** A page from `limit + 1` rows: the extra row only says there is a next page. */
export function toPage<R, T>(rows: R[], limit: number, map: (row: R) => T, cursorOf: (item: T) => string): Page<T> {
  const items = rows.slice(0, limit).map(map);
  return { items, next: rows.length > limit && items.length > 0 ? cursorOf(items[items.length - 1]!) : null };
}

/** Every item of a paginated list, page by page (for callers that need the whole list). */
export async function allItems<T>(list: (page: PageRequest) => Promise<Page<T>>): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | undefined;
  do {
    const page = await list({ limit: MAX_PAGE_SIZE, cursor });
    out.push(...page.items);
    cursor = page.next ?? undefined;
  } while (cursor !== undefined);
  return out;
}
