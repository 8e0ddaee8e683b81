import type { Command } from 'commander';
import { aliasesAt } from '../../registry/aliases.js';
import { DEFAULT_PAGE_SIZE } from '../../store/pages.js';
import { table } from '../output.js';
import { action, usage, withContext } from '../runner.js';
import { pageOptions, pageRequest } from './pages.js';

export function registerHistory(program: Command): void {
  const command = program
    .command('history')
    .description('The event log: imports, runs, registrations, promotions (the newest, oldest of them first); --at TIME: where every alias pointed then')
    .option('--kind <kind>', 'only events of this kind (e.g. model.promoted)')
    .option('--at <time>', 'also show which version held each alias at this time (ISO 8601, e.g. 2026-05-01T12:00:00Z)');
  pageOptions(command, 'events', DEFAULT_PAGE_SIZE).action(
    action(async (io, opts: { kind?: string; limit: string; cursor?: string; at?: string }) =>
      withContext(io.globals, async (ctx) => {
        if (opts.at !== undefined && Number.isNaN(Date.parse(opts.at))) throw usage(`--at "${opts.at}" is not a time; expected ISO 8601 such as 2026-05-01T12:00:00Z`, 'at');
        const at = opts.at === undefined ? undefined : new Date(Date.parse(opts.at)).toISOString();
        const aliases = at === undefined ? undefined : await aliasesAt(ctx.store, at);
        // The newest page, shown oldest first; `next` goes further back.
        const page = await ctx.store.listEvents({ kind: opts.kind, newestFirst: true }, pageRequest(opts));
        const events = page.items.reverse();
        const eventTable = table(
          ['#', 'AT', 'USER', 'EVENT', 'SUBJECT'],
          events.map((e) => [e.seq, e.at, e.user, e.kind, e.subject]),
        );
        const more = page.next ? `\n(older events: --cursor ${page.next})` : '';
        return {
          json: at === undefined ? { events, next: page.next } : { at, aliases, events, next: page.next },
          human:
            (aliases === undefined
              ? eventTable
              : [`Aliases at ${at}:`, aliases.length ? table(['MODEL', 'ALIAS', 'VERSION', 'SINCE'], aliases.map((a) => [a.model, a.alias, a.version, a.since])) : '  (none yet)', '', eventTable].join('\n')) + more,
        };
      }),
    ),
  );
}
