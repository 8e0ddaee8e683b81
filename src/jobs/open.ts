import { AtelierError } from '../core/errors.js';
import { redactUrl, type Workspace } from '../core/workspace.js';
import type { PgJobQueue } from './pg-queue.js';

const isPostgres = (url: string) => /^postgres(ql)?:\/\//.test(url);

/**
 * The job queue's PostgreSQL: ATELIER_QUEUE_URL when set (a queue kept apart from the store),
 * else the store's own URL when the store is PostgreSQL. An embedded (SQLite) workspace has no
 * queue: its commands run in place.
 */
export function queueUrlOf(workspace: Workspace): string {
  const url = process.env.ATELIER_QUEUE_URL || (isPostgres(workspace.storeUrl) ? workspace.storeUrl : undefined);
  if (!url) {
    throw new AtelierError(
      'TEAM_STORE_REQUIRED',
      `the job queue lives in a team store, and this workspace's store is ${redactUrl(workspace.storeUrl)}; pass --store postgres://... (or ATELIER_STORE_URL), or run the command without --queue`,
      { field: 'store' },
    );
  }
  if (!isPostgres(url)) throw new AtelierError('CONFIG_INVALID', `ATELIER_QUEUE_URL "${redactUrl(url)}": expected postgres://user@host:port/database`, { field: 'ATELIER_QUEUE_URL' });
  return url;
}

export async function openJobQueue(workspace: Workspace): Promise<PgJobQueue> {
  // Loaded on use: pg and pg-boss cost every command's start otherwise.
  const { PgJobQueue } = await import('./pg-queue.js');
  return PgJobQueue.open(queueUrlOf(workspace));
}
