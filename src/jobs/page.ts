import type { Page, PageRequest } from './types.js';

export const DEFAULT_PAGE = 50;

/** A page of an in-memory list; the cursor is the offset of the next item. */
export function pageOf<T>(items: T[], request: PageRequest): Page<T> {
  const limit = request.limit ?? DEFAULT_PAGE;
  const from = request.cursor ? Number(request.cursor) : 0;
  const next = from + limit < items.length ? String(from + limit) : null;
  return { items: items.slice(from, from + limit), next };
}
