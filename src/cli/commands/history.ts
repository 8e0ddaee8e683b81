import type { Command } from 'commander';
import { aliasesAt } from '../../registry/aliases.js';
import { table } from '../output.js';
import { action, usage, withContext } from '../runner.js';

export function registerHistory(program: Command): void {
  program
    .command('history')
    .description('The event log: imports, runs, registrations, promotions; --at TIME: where every alias pointed then')
    .option('--kind <kind>', 'only events of this kind (e.g. model.promoted)')
    .option('--limit <n>', 'at most this many events', (v) => Number(v))
    .option('--at <time>', 'also show which version held each alias at this time (ISO 8601, e.g. 2026-05-01T12:00:00Z)')
    .action(
      action(async (io, opts: { kind?: string; limit?: number; at?: string }) =>
        withContext(io.globals, async (ctx) => {
          if (opts.at !== undefined && Number.isNaN(Date.parse(opts.at))) throw usage(`--at "${opts.at}" is not a time; expected ISO 8601 such as 2026-05-01T12:00:00Z`, 'at');
          const at = opts.at === undefined ? undefined : new Date(Date.parse(opts.at)).toISOString();
          const aliases = at === undefined ? undefined : await aliasesAt(ctx.store, at);
          const events = await ctx.store.listEvents({ kind: opts.kind, limit: opts.limit });
          const eventTable = table(
            ['#', 'AT', 'USER', 'EVENT', 'SUBJECT'],
            events.map((e) => [e.seq, e.at, e.user, e.kind, e.subject]),
          );
          return {
            json: at === undefined ? { events } : { at, aliases, events },
            human:
              aliases === undefined
                ? eventTable
                : [`Aliases at ${at}:`, aliases.length ? table(['MODEL', 'ALIAS', 'VERSION', 'SINCE'], aliases.map((a) => [a.model, a.alias, a.version, a.since])) : '  (none yet)', '', eventTable].join('\n'),
          };
        }),
      ),
    );
}
