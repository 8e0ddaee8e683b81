import type { Command } from 'commander';
import type { PageRequest } from '../../store/types.js';
import { usage } from '../runner.js';

/** --limit N and --cursor C on a listing command (the cursor is the `next` of the previous page). */
export function pageOptions(command: Command, what: string, defaultLimit: number): Command {
  return command
    .option('--limit <n>', `at most this many ${what} (default ${defaultLimit}, at most 1000)`, String(defaultLimit))
    .option('--cursor <cursor>', 'continue a listing: the "next" value of the previous page (in --json)');
}

/** The page the flags ask for; a limit that is not a whole number of at least 1 is a usage error. */
export function pageRequest(opts: { limit: string; cursor?: string }): PageRequest {
  const limit = Number(opts.limit);
  if (!Number.isInteger(limit) || limit < 1) throw usage(`--limit "${opts.limit}" is not a whole number of at least 1`, 'limit');
  return { limit, cursor: opts.cursor };
}
